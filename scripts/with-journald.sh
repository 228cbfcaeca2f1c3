#!/bin/bash
# Runs "$@" with a private, throw-away systemd-journald (systemd need not be PID 1), for the
# journald tests. Everything lives in a private mount namespace: /run/systemd, /run/log and
# /var/log/journal are tmpfs there, so the machine's own journal is untouched. Inside "$@",
# sd_journal_* and journalctl use the private journal as usual.
#
# With TETHER_CATALOG=FILE, FILE is installed as the only message catalog inside the namespace
# (bind mounts over /usr/lib/systemd/catalog and /var/lib/systemd/catalog), so `journalctl -x`
# explains Tether's entries.
#
# Needs root (unshare --mount) and /lib/systemd/systemd-journald (Debian package systemd).
# Note: sd_journal_send returns 0 even when no journald listens; tests must read entries back.
# Never starts systemd itself (that could move the machine's processes between cgroups).
set -euo pipefail
mkdir -p /run/systemd
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  mount -t tmpfs tmpfs /run/systemd
  mkdir -p /run/log /var/log/journal
  mount -t tmpfs tmpfs /run/log
  mount -t tmpfs tmpfs /var/log/journal
  mkdir -p /run/systemd/journal
  if [ -n "${TETHER_CATALOG:-}" ]; then
    scratch=$(mktemp -d)
    mkdir -p "$scratch/source" "$scratch/database" /var/lib/systemd/catalog /usr/lib/systemd/catalog
    cp "$TETHER_CATALOG" "$scratch/source/tether.catalog"
    mount --bind "$scratch/source" /usr/lib/systemd/catalog
    mount --bind "$scratch/database" /var/lib/systemd/catalog
    journalctl --update-catalog
  fi
  /lib/systemd/systemd-journald >/dev/null 2>&1 &
  jpid=$!
  for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
  set +e
  "$@"; rc=$?
  kill $jpid; wait $jpid 2>/dev/null
  if [ -n "${scratch:-}" ]; then
    umount /usr/lib/systemd/catalog /var/lib/systemd/catalog
    rm -rf "$scratch"
  fi
  exit $rc
' with-journald "$@"
