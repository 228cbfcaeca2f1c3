#!/bin/bash
# Used by Tests/TetherSystemdTests/JournalShutdownTests.swift, inside scripts/with-journald.sh:
# starts `tether serve --log journal`, connects one WebSocket client (`tether tail`), sends the
# relay SIGTERM, and prints what the journal then says, in marked sections:
#   === client   journalctl -o json TETHER_CLIENT_ID=CLIENT (one JSON object per line)
#   === notice   journalctl -o json PRIORITY=5 SYSLOG_IDENTIFIER=tether (the relay's notices)
# Usage: journal-shutdown-check.sh TETHER_BINARY CLIENT_ID PORT
set -euo pipefail
tether=$1
client=$2
port=$3
wait_for() {  # wait_for COUNT journalctl-match...: bounded wait for COUNT matching entries
  local want=$1
  shift
  for _ in $(seq 200); do
    [ "$(journalctl --no-pager -o cat "$@" 2>/dev/null | wc -l)" -ge "$want" ] && return 0
    sleep 0.05
  done
  echo "timed out waiting for $* in the journal" >&2
  return 1
}
"$tether" serve --log journal --store memory --listen "127.0.0.1:$port" &
relay=$!
wait_for 1 SYSLOG_IDENTIFIER=tether PRIORITY=5
"$tether" tail --url "ws://127.0.0.1:$port/v1/ws" --client-id "$client" --max-attempts 1 >/dev/null 2>&1 &
tail=$!
wait_for 1 TETHER_CLIENT_ID="$client" TETHER_EVENT=connected
kill -TERM "$relay"
wait "$relay" || true
kill "$tail" 2>/dev/null || true
wait "$tail" 2>/dev/null || true
wait_for 1 TETHER_CLIENT_ID="$client" TETHER_EVENT=disconnected || true
echo "=== client"
journalctl --no-pager -o json TETHER_CLIENT_ID="$client"
echo "=== notice"
journalctl --no-pager -o json SYSLOG_IDENTIFIER=tether PRIORITY=5
echo "=== end"
