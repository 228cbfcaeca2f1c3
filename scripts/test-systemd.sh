#!/usr/bin/env bash
# `make test-systemd`: boots Debian bookworm with systemd 252 as PID 1 in systemd-nspawn
# (scripts/nspawn-boot.sh: a cgroup of its own, no network, one container at a time), installs
# dist/tether_<version>_<arch>.deb there with `apt-get install` (no Swift in the container) and runs
# scripts/systemd-scenario.sh inside. Fails if any check of the scenario fails, or if the host's
# kernel logged a seccomp denial meanwhile.
#
# The rootfs is debootstrapped once into .build-nspawn/rootfs (a few minutes; the package's
# dependencies are put in then, since the container has no network), and reused.
# Needs root, and: apt-get install systemd-container debootstrap (scripts/ensure-deps.sh systemd).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-systemd: needs root (systemd-nspawn, debootstrap)" >&2; exit 2; }
deb=dist/tether_$(tr -d ' \n' < VERSION)_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { echo "test-systemd: $deb is missing: make package" >&2; exit 2; }
work=$PWD/.build-nspawn
# What is bound read-only into the container (at the same path): the package and the scenario.
payload=$work/payload
rm -rf "$payload" "$work/out"; mkdir -p "$payload"
cp "$deb" scripts/systemd-scenario.sh "$payload/"
printf '#!/bin/sh\nexec %s/systemd-scenario.sh %s/%s\n' "$payload" "$payload" "$(basename "$deb")" > "$work/check.sh"
# The package's own dependencies (alternatives: the first), so that apt needs nothing from outside.
depends=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/|[^,]*//g; s/ //g')
echo "test-systemd: booting systemd in $work/rootfs with $deb (dependencies: $depends)" >&2
rc=0
NSPAWN_PACKAGES="$depends" NSPAWN_BIND_RO="$payload" scripts/nspawn-boot.sh "$work/rootfs" "$work/check.sh" "$work/out" 900 || rc=$?
cat "$work/out/check.log" 2>/dev/null || true
if [ -s "$work/out/host-seccomp.txt" ]; then
  echo "FAIL - the host kernel logged seccomp denials during the boot:" >&2
  cat "$work/out/host-seccomp.txt" >&2
  rc=1
fi
echo "test-systemd: exit $rc; the container's journal is in $work/out/journal.txt" >&2
exit "$rc"
