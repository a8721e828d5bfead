#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages given as arguments whose programs are missing:
#   mosquitto  the MQTT 5 broker devcloud prefers (without it devcloud uses aedes, MQTT 3.1.1 only)
#   rsyslog    the real syslog collector the logging tests send to
#   dbus       dbus-daemon, the private system bus of the VAPIX service-account stand-in
#   chromium   the real browser the viewer's tests drive (playwright-core, /usr/bin/chromium)
# Used by `make run`, `make test` and .ci/run. Without root (or password-less sudo) or apt-get it only
# says what is missing: the tests that need a missing program then report as skipped.
set -euo pipefail

declare -A program=([mosquitto]=mosquitto [rsyslog]=rsyslogd [dbus]=dbus-daemon)
need=()
for pkg in "$@"; do
  bin=${program[$pkg]:-$pkg}
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${need[*]} not installed and no apt-get here; install them to run every test" >&2
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "note: ${need[*]} not installed; run: sudo apt-get install ${need[*]}" >&2
    exit 0
  fi
fi
echo "installing ${need[*]} (apt-get)"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
