#!/usr/bin/env bash
# Installs what running (and building) the ARM packages on an x86-64 Debian host needs, from Debian's
# archive only: qemu-user, the cross strip tools, and a minimal sysroot per target (glibc, libstdc++, libgcc, libatomic)
# unpacked under build/sysroot/{aarch64,armv7hf} for `qemu-aarch64 -L` / `qemu-arm -L`.
#
# Needs root (apt-get, dpkg). The foreign architectures are added only for the download and removed
# again afterwards: a foreign index left behind (a flaky armhf mirror) can break a later apt-get update.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${SYSROOT_DIR:-build/sysroot}
libs=(libc6 libstdc++6 libgcc-s1 libatomic1)

have_sysroot() { [ -e "$dest/$1/lib/$2/libc.so.6" ] && [ -e "$dest/$1/usr/lib/$2/libstdc++.so.6" ]; }

# qemu-user runs the target binaries; the cross binutils strip them (the host's strip knows x86 only).
need=()
command -v qemu-aarch64 >/dev/null 2>&1 && command -v qemu-arm >/dev/null 2>&1 || need+=(qemu-user)
command -v aarch64-linux-gnu-strip >/dev/null 2>&1 || need+=(binutils-aarch64-linux-gnu)
command -v arm-linux-gnueabihf-strip >/dev/null 2>&1 || need+=(binutils-arm-linux-gnueabihf)
if [ ${#need[@]} -gt 0 ]; then
  echo "emulation: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if have_sysroot aarch64 aarch64-linux-gnu && have_sysroot armv7hf arm-linux-gnueabihf; then
  echo "emulation: sysroots present under $dest"
  exit 0
fi

added=()
cleanup() {
  for a in "${added[@]}"; do dpkg --remove-architecture "$a" || true; done
  if [ ${#added[@]} -gt 0 ]; then apt-get update -qq || true; fi
}
trap cleanup EXIT
for a in arm64 armhf; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then dpkg --add-architecture "$a"; added+=("$a"); fi
done
# A foreign index that fails to download (a security mirror mid-sync) must not stop us: the base
# archive's libc6 etc. are enough for an emulation sysroot; apt-get download says so if not.
apt-get update -qq || echo "emulation: warning: apt-get update reported errors for a foreign index; trying the download anyway" >&2

work=$(mktemp -d)
for pair in arm64:aarch64 armhf:armv7hf; do
  debarch=${pair%%:*} arch=${pair##*:}
  mkdir -p "$work/$arch"
  (cd "$work/$arch" && apt-get download -qq "${libs[@]/%/:$debarch}")
  rm -rf "$dest/$arch" && mkdir -p "$dest/$arch"
  for deb in "$work/$arch"/*.deb; do dpkg -x "$deb" "$dest/$arch"; done
  echo "emulation: sysroot $dest/$arch ($(du -sh "$dest/$arch" | cut -f1))"
done
rm -rf "$work"
