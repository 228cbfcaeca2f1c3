#!/bin/bash
# Used by Tests/TetherSystemdTests/JournalTimelineTests.swift, inside scripts/with-journald.sh:
# runs one simulated client through the relay core with the journald log handler, waits until its
# last entry is in the journal, then prints what the test asserts on, in marked sections:
#   === json       journalctl -o json TETHER_CLIENT_ID=CLIENT (one JSON object per line)
#   === timeline   tether timeline CLIENT
#   === timeline-json  tether timeline CLIENT --json
#   === explain    journalctl -x for the client's entries (catalog text)
#   === restart    tether timeline CLIENT-restart after two runs of the relay (conn ids repeat)
#   === restart-json   the same with --json
#   === since-yesterday / since-today / since-ago  tether timeline CLIENT --since ... (table)
#   === root       tether timeline CLIENT --directory <journal root> (machine-id subfolders)
#   === files      tether timeline CLIENT --directory <the machine-id folder of .journal files>
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
# The same client id through two runs of the relay: each run numbers its connections from 1.
"$tether" simulate-client "$client-restart" --log journal
"$tether" simulate-client "$client-restart" --log journal
for _ in $(seq 200); do
  count=$(journalctl --no-pager -o cat TETHER_CLIENT_ID="$client-restart" TETHER_EVENT=disconnected TETHER_PREV_STATE=stale 2>/dev/null | wc -l)
  [ "$count" -ge 2 ] && break
  sleep 0.05
done
# journald writes to /run/log/journal until asked to flush to /var/log/journal.
root=/var/log/journal
[ -n "$(ls -A /run/log/journal 2>/dev/null)" ] && root=/run/log/journal
echo "=== json"
journalctl --no-pager -o json TETHER_CLIENT_ID="$client"
echo "=== timeline"
"$tether" timeline "$client"
echo "=== timeline-json"
"$tether" timeline "$client" --json --since 1h
echo "=== explain"
journalctl --no-pager -x -o short TETHER_CLIENT_ID="$client" MESSAGE_ID=8d6fadbc17b9400fa4f584bdefd2cbac
# Each section below is checked by the test, so a refusal is printed there, not fatal here.
echo "=== restart"
"$tether" timeline "$client-restart" 2>&1 || true
echo "=== restart-json"
"$tether" timeline "$client-restart" --json 2>&1 || true
echo "=== since-yesterday"
"$tether" timeline "$client" --since yesterday 2>&1 || true
echo "=== since-today"
"$tether" timeline "$client" --since today 2>&1 || true
echo "=== since-ago"
"$tether" timeline "$client" --since "1 hour ago" 2>&1 || true
echo "=== root"
"$tether" timeline "$client" --directory "$root" 2>&1 || true
echo "=== files"
"$tether" timeline "$client" --directory "$(ls -d "$root"/*/ | head -1)" 2>&1 || true
echo "=== end"
