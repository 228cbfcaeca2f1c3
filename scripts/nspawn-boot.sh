#!/bin/bash
# Boot a real systemd (Debian bookworm, v252) as PID 1 in systemd-nspawn, run one check script
# inside it as a oneshot unit, power off, and leave its output on the host. Adapted from the
# workplace recipe (shared/recipes/nspawn-boot.sh) for `make test-systemd`; the only change is
# that the cached rootfs is made again when a package of the list is not installed in it. The
# container is confined to a cgroup of its own and has no network
# (--private-network), so it cannot disturb the host's processes or reach anything.
#
# Usage: nspawn-boot.sh ROOTFS CHECK_SCRIPT OUTDIR [TIMEOUT_S]
#   ROOTFS        a folder for the debootstrapped system (made on first use, ~2 min; reuse it:
#                 keep it in an ignored build folder of the project)
#   CHECK_SCRIPT  runs as root inside the booted system, at multi-user.target, with OUTDIR
#                 bound at /out; whatever it writes there comes back. Its exit status is
#                 written to /out/check.rc. Put files it needs into ROOTFS before calling.
#                 (It runs as part of boot: `systemctl is-system-running --wait` would wait on
#                 itself; poll the units you need instead.)
#   TIMEOUT_S     whole boot limit (default 600); the container always powers off by then.
# Env: NSPAWN_PACKAGES  extra Debian packages for debootstrap --include (comma separated)
#      NSPAWN_BIND_RO   extra host paths to bind read-only, space separated (e.g. /opt/swift)
# Needs: apt-get install -y systemd-container debootstrap
#
# Rules that keep the host safe (do not change them): always through this wrapper; never
# --ephemeral or -D /; never `systemd --user`; never more than one container at a time.
set -euo pipefail
R=${1:?rootfs}; CHECK=${2:?check script}; OUT=${3:?outdir}; LIMIT=${4:-600}
CG=tether-nspawn-$$
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null || {
  echo "nspawn-boot: apt-get install -y systemd-container debootstrap" >&2; exit 2; }
pk="systemd,systemd-sysv,dbus,libsystemd0,procps,curl,ca-certificates${NSPAWN_PACKAGES:+,$NSPAWN_PACKAGES}"
if [ -x "$R/lib/systemd/systemd" ]; then
  for p in ${pk//,/ }; do
    dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
    echo "nspawn-boot: $R lacks $p; making it again" >&2
    rm -rf --one-file-system "$R"; break
  done
fi
if [ ! -x "$R/lib/systemd/systemd" ]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "nspawn-boot: debootstrap bookworm into $R (~2 min)" >&2
  debootstrap --variant=minbase --include="$pk" bookworm "$R" "$mirror" >"$OUT/debootstrap.log" 2>&1
fi
echo nspawn-check > "$R/etc/hostname"
install -m755 "$CHECK" "$R/usr/local/bin/nspawn-check"
cat > "$R/etc/systemd/system/nspawn-check.service" <<UNIT
[Unit]
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/usr/bin/timeout -k 5 $((LIMIT - 40)) /usr/local/bin/nspawn-check >/out/check.log 2>&1; echo \$? >/out/check.rc'
TimeoutStartSec=$((LIMIT - 30))
[Install]
WantedBy=multi-user.target
UNIT
cat > "$R/etc/systemd/system/nspawn-failsafe.service" <<UNIT
[Service]
ExecStart=/bin/sh -c 'sleep $((LIMIT - 20)); systemctl poweroff --force --force'
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/nspawn-check.service "$R/etc/systemd/system/multi-user.target.wants/"
ln -sf /etc/systemd/system/nspawn-failsafe.service "$R/etc/systemd/system/multi-user.target.wants/"
rm -rf "$R/var/log/journal/"*; rm -f "$OUT/check.rc" "$OUT/check.log"
binds=(--bind="$OUT":/out)
for p in ${NSPAWN_BIND_RO:-}; do mkdir -p "$R$p"; binds+=(--bind-ro="$p"); done
# Confine to a cgroup of our own: with --keep-unit, nspawn makes payload/ and supervisor/
# cgroups beside itself; without this they would land in the host's root cgroup.
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
  case $h in */cpuset/) continue;; esac
  [ -e "$h/cgroup.procs" ] || continue; mkdir -p "$h$CG"; echo $$ > "$h$CG/cgroup.procs" 2>/dev/null || true
done
cleanup() {
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$h$CG" ] || continue
    for f in $(find "$h$CG" -name cgroup.procs); do for p in $(cat "$f"); do echo "$p" > "$h/cgroup.procs" 2>/dev/null || true; done; done
    find "$h$CG" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}
trap cleanup EXIT
D0=$(dmesg 2>/dev/null | wc -l || echo 0)
# --register=no --keep-unit: no machined, no D-Bus scope (the host's PID 1 is not systemd).
timeout -k 10 "$LIMIT" systemd-nspawn -q -D "$R" --boot --register=no --keep-unit --private-network \
  "${binds[@]}" --console=pipe </dev/null >"$OUT/nspawn.log" 2>&1 || echo "nspawn-boot: nspawn rc=$?" >&2
# Seccomp kills/denials the host kernel logged during the boot (syscall numbers are x86_64).
dmesg 2>/dev/null | tail -n +$((D0 + 1)) | grep 'type=1326' > "$OUT/host-seccomp.txt" || true
[ -f "$OUT/check.rc" ] || { echo "nspawn-boot: the check did not finish (see $OUT/nspawn.log)" >&2; exit 1; }
exit "$(cat "$OUT/check.rc")"
