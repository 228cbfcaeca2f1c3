#!/bin/bash
# Used by Tests/TetherSystemdTests/JournalTimelineTests.swift, inside scripts/with-journald.sh:
# runs one simulated client through the relay core with the journald log handler, waits until its
# last entry is in the journal, then prints what the test asserts on, in marked sections:
#   === json       journalctl -o json TETHER_CLIENT_ID=CLIENT (one JSON object per line)
#   === timeline   tether timeline CLIENT
#   === timeline-json  tether timeline CLIENT --json
#   === explain    journalctl -x for the client's entries (catalog text)
# Usage: journal-timeline-check.sh TETHER_BINARY CLIENT_ID
set -euo pipefail
tether=$1
client=$2
"$tether" simulate-client "$client" --log journal
# Entries reach journald over a datagram socket: wait (bounded) for the last one to be stored.
for _ in $(seq 200); do
  count=$(journalctl --no-pager -o cat TETHER_CLIENT_ID="$client" TETHER_EVENT=disconnected TETHER_PREV_STATE=stale 2>/dev/null | wc -l)
  [ "$count" -ge 1 ] && break
  sleep 0.05
done
echo "=== json"
journalctl --no-pager -o json TETHER_CLIENT_ID="$client"
echo "=== timeline"
"$tether" timeline "$client"
echo "=== timeline-json"
"$tether" timeline "$client" --json --since 1h
echo "=== explain"
journalctl --no-pager -x -o short TETHER_CLIENT_ID="$client" MESSAGE_ID=8d6fadbc17b9400fa4f584bdefd2cbac
echo "=== end"
