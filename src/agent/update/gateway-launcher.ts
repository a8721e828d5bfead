/**
 * The gateway's launcher (ExecStart of cloudcam.service): a tiny POSIX sh script, so that it works
 * when the release it starts cannot run at all. It runs the release named in {root}/current and,
 * while an update is pending ({root}/update/pending, written by the agent before the switch),
 * counts the starts; too many starts (a crash loop) or a start after the deadline switch `current`
 * back to `previous` and record why in {root}/update/rolled-back, which the old version's resume
 * reports as the job's FAILED reason. The agent's own watch (rollback-watch.ts) handles a new
 * version that runs but cannot connect. It also sets the runtime's memory settings (runtime-settings.ts).
 */
import { RUNTIME_DEFAULTS, runtimeSettingsShell, RUNTIME_FILE, type RuntimeSettings } from '../runtime-settings.js';

export const LAUNCHER_NAME = 'cloudcam-launcher';

/**
 * `runner`: a command the releases are run through, e.g. `qemu-aarch64 -L SYSROOT` when
 * `make test-package` runs a foreign-architecture gateway on the build host; the shipped launcher has none.
 * `defaults`: the package's runtime settings (src/packaging/flavours.ts).
 */
export function launcherScript(appName = 'cloudcam', runner = '', defaults: RuntimeSettings = RUNTIME_DEFAULTS): string {
  const run = runner ? `${runner} ` : '';
  return `#!/bin/sh
# ${appName} launcher (docs/update.md): runs the current release; rolls a pending update back when
# it keeps failing to start or starts after its deadline.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root="\${CLOUDCAM_GATEWAY_ROOT:-$here/localdata}"
export CLOUDCAM_GATEWAY_ROOT="$root"
up="$root/update"
# A release name as the agent writes it (gateway-installer.ts RELEASE_NAME): no "/", no leading ".",
# so a pointer can only name a folder in releases/; anything else means base, as the agent reads it.
pointer() {
  r=$(head -n 1 "$root/$1" 2>/dev/null) || r=base
  case "$r" in ''|[!0-9A-Za-z]*|*[!0-9A-Za-z.+-]*) r=base ;; esac
  printf '%s' "$r"
}
field() { sed -n "s/^$1=//p" "$up/pending" | head -n 1; }
# Updates are only trusted from a state dir that no other user can write (systemd makes it 0700):
# otherwise another process could have planted the release, the pointer or the records it names.
# (The trailing "/" makes find look at the dir a symlink such as localdata -> /var/lib/cloudcam names.)
loose=$(find "$root/" "$root/releases/" "$up/" -prune \\( -perm -020 -o -perm -002 -o ! -user "$(id -u)" \\) -print 2>/dev/null)
current=$(pointer current)
if [ -n "$loose" ]; then
  echo "<3>${appName}-launcher: $(printf '%s' "$loose" | head -n 1) is writable by another user or not ours: running the installed release, not an update (fix: chmod 700, chown to the service user)" >&2
  current=base
elif [ -f "$up/pending" ]; then
  starts=$(( $(cat "$up/starts" 2>/dev/null || echo 0) + 1 ))
  printf '%s\\n' "$starts" > "$up/starts.tmp" && mv -f "$up/starts.tmp" "$up/starts"
  max=$(field maxStarts); deadline=$(field deadline); now=$(date +%s); why=""
  if [ "$starts" -gt "\${max:-3}" ]; then
    why="the new release exited $((starts - 1)) times without confirming itself (crash loop); rolled back by the launcher"
  elif [ -n "$deadline" ] && [ "$now" -gt "$deadline" ]; then
    installed=$(field installedAt)
    # The same words as the agent's own watch (rollback-watch.ts), so the job's reason reads alike either way.
    why="the new release did not connect and pass its self-check within $((deadline - \${installed:-$deadline})) s of its install (started again $((now - deadline)) s after that deadline); rolled back by the launcher"
  fi
  if [ -n "$why" ]; then
    previous=$(pointer previous)
    printf '%s\\n' "$previous" > "$root/current.tmp" && mv -f "$root/current.tmp" "$root/current"
    printf 'jobId=%s\\nversion=%s\\nreason=%s\\nat=%s\\n' "$(field jobId)" "$(field version)" "$why" "$now" > "$up/rolled-back.tmp" &&
      mv -f "$up/rolled-back.tmp" "$up/rolled-back"
    rm -f "$up/pending" "$up/starts"
    echo "<4>${appName}-launcher: $why (back to $previous)" >&2
    current=$previous
  fi
fi
${runtimeSettingsShell(`"$root/${RUNTIME_FILE}"`, `${appName}-launcher`, defaults)}if [ "$current" = base ]; then exec ${run}"$here/${appName}" "$@"; fi
exec ${run}"$root/releases/$current/${appName}" "$@"
`;
}
