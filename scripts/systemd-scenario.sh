#!/bin/bash
# The `make test-systemd` scenario. Runs as root inside a booted Debian bookworm (systemd 252 as
# PID 1, no network, no Swift; scripts/test-systemd.sh boots it) with the package to test as $1.
# Every check prints `ok - …` or `FAIL - …`; any FAIL makes the exit status 1. Figures it measures
# are printed as `figure: …`. Whatever goes wrong, the journal is left in /out for reading.
set -uo pipefail
DEB=${1:?the .deb to install}
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0
URL=http://127.0.0.1:8765
failures=0
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
now() { date +%s.%N; }
calc() { awk "BEGIN{printf \"%.3f\", $*}"; }
holds() { awk "BEGIN{exit !($*)}"; }
# Polls CMD every 0.1 s until it succeeds or LIMIT seconds pass; 1 if it never did.
until_ok() { local limit=$1; shift; local end; end=$(calc "$(now) + $limit"); while ! "$@"; do
  holds "$(now) > $end" && return 1; sleep 0.1; done; }
prop() { systemctl show -p "$2" --value "$1"; }
# Journal lines of the tether units since $1 (a `journalctl --since` value), as `EPOCH.USEC MESSAGE`.
journal_since() { journalctl -q --no-pager -o short-unix --since "$1" -u tether.service -u tether.socket; }
export -f journal_since
finish() {
  journalctl -b --no-pager -o short-iso-precise > /out/journal.txt 2>&1
  journalctl -b --no-pager -o json -u tether.service > /out/journal-tether.json 2>&1
  echo "$failures failure(s)"
  [ "$failures" = 0 ]
}
trap 'finish; exit $?' EXIT

dpkg --purge tether >/dev/null 2>&1 || true   # a previous run that stopped half-way
mkdir -p /etc/systemd/system/tether.service.d

echo "# install"
check "no Swift in the container (no swift command, no libswiftCore anywhere)" \
  bash -c '[ -z "$(command -v swift)" ] && [ -z "$(find / -xdev -name "libswiftCore*" -print -quit 2>/dev/null)" ]'
apt-get install -y --no-install-recommends "$DEB" > /out/apt-install.log 2>&1
check "apt-get install ./$(basename "$DEB") needs nothing from outside" test $? = 0
for f in /usr/bin/tether /usr/lib/systemd/system/tether.service /usr/lib/systemd/system/tether.socket \
         /usr/lib/systemd/catalog/tether.catalog /usr/share/tether/dashboard/index.html \
         /usr/share/doc/tether/OPERATIONS.md /usr/share/man/man1/tether.1.gz /etc/tether/tether.json /etc/default/tether; do
  check "installed $f" test -s "$f"
done
check "/etc/tether/tether.json and /etc/default/tether are conffiles" \
  bash -c "dpkg-query -W -f='\${Conffiles}' tether | grep -q /etc/tether/tether.json && dpkg-query -W -f='\${Conffiles}' tether | grep -q /etc/default/tether"
check "the catalog was compiled (journalctl --update-catalog)" bash -c 'journalctl --list-catalog | grep -q d2a642736dd2443398fc267fcc1a6615'
check "systemd knows the units (daemon-reload)" bash -c 'systemctl cat tether.service | grep -q "ExecReload=/usr/bin/tether reload"'
check "the man page names the reload subcommand" bash -c 'zcat /usr/share/man/man1/tether*.1.gz | grep -q reload'
package_version=$(dpkg-query -W -f='${Version}' tether)
echo "figure: package $package_version, $(du -k "$DEB" | cut -f1) KiB; $(tether --version)"
check "tether --version reports the package version" bash -c "tether --version | grep -qx '$package_version (commit [0-9a-f]\{12\}\(-dirty\)\?)'"
check "tether version agrees" bash -c "[ \"\$(tether version)\" = \"tether \$(tether --version)\" ]"
for doc in $(systemctl show -p Documentation --value tether.service tether.socket | tr -d '"'); do
  if [[ $doc =~ ^file://(.*)$ ]]; then
    check "Documentation= $doc is installed" test -s "${BASH_REMATCH[1]}"
  elif [[ $doc =~ ^man:([^\(]+)\(([0-9])\)$ ]]; then
    check "Documentation= $doc is installed" test -s "/usr/share/man/man${BASH_REMATCH[2]}/${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.gz"
  else
    fail "Documentation= $doc is neither a file nor a man page"
  fi
done

echo "# start, READY, STATUS"
since_start=$(date '+%F %T')
systemctl start tether.service
check "systemctl start returned success (READY=1 arrived)" test $? = 0
# READY=1 is sent only once the listener accepts: the moment start returns, it must answer.
check "READY only after listen: /readyz answers the moment start returns" curl -sf -o /dev/null $URL/readyz
check "STATUS= shows in systemctl status" bash -c 'systemctl status tether.service --no-pager | grep -q "Status: \".*connected.*head seq"'
check "the relay serves its dashboard from /usr/share/tether" bash -c "curl -sf $URL/ | grep -q connection-badge"
version_json=$(tether version --json)
vv=$(echo "$version_json" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'); vc=$(echo "$version_json" | sed -n 's/.*"commit":"\([^"]*\)".*/\1/p')
check "tether_build_info on /metrics agrees with tether version" bash -c "curl -sf $URL/metrics | grep -qxF 'tether_build_info{version=\"$vv\",commit=\"$vc\"} 1'"
check "the relay reads /etc/tether/tether.json" bash -c "systemctl show -p Environment --value tether.service | grep -q TETHER_CONFIG=/etc/tether/tether.json"

echo "# publish, subscribe, connect / disconnect / resume in the journal"
client=scenario-client-1
rm -f /tmp/tail.state
timeout 20 tether publish deploys '{"n":1}' > /tmp/publish1.out 2>&1
check "tether publish was accepted" grep -q '^[0-9]' /tmp/publish1.out
timeout 20 tether tail --client-id $client --state /tmp/tail.state --history 1 --count 1 > /tmp/tail1.out 2>/tmp/tail1.err
closed_at=$(now)
check "tether tail received the published event" grep -q '"n":1' /tmp/tail1.out
has_event() { journalctl -q --no-pager -u tether.service TETHER_CLIENT_ID=$client TETHER_EVENT=$1 | grep -q .; }
check "journal: connected" until_ok 5 has_event connected
check "journal: disconnected" until_ok 5 has_event disconnected
disc=$(journalctl -q --no-pager -o short-unix -u tether.service TETHER_CLIENT_ID=$client TETHER_EVENT=disconnected | tail -1 | cut -d' ' -f1)
lag=$(calc "${disc:-0} - $closed_at")
echo "figure: disconnect logged ${lag} s after the client closed (after tether tail exited)"
check "the disconnect was logged within 2 s of the client closing" holds "$lag < 2 && $lag > -1"
timeout 20 tether publish deploys '{"n":2}' > /dev/null 2>&1
timeout 20 tether tail --state /tmp/tail.state --count 1 > /tmp/tail2.out 2>/tmp/tail2.err
check "the resumed client got the event it missed, and only that" bash -c "grep -q '\"n\":2' /tmp/tail2.out && ! grep -q '\"n\":1' /tmp/tail2.out"

check "journal: resumed" until_ok 5 has_event resumed
check "journal MESSAGE names the client" bash -c "journalctl -q --no-pager -u tether.service TETHER_CLIENT_ID=$client | grep -q 'client $client connected over websocket from 127.0.0.1'"
check "journalctl -x explains the entries (catalog)" bash -c "journalctl -x -q --no-pager -u tether.service TETHER_CLIENT_ID=$client | grep -q 'Subject: Tether client $client resumed'"
tether timeline $client > /tmp/timeline.out 2>&1
cat /tmp/timeline.out
for e in connected disconnected resumed; do check "tether timeline shows $e" grep -q " $e " /tmp/timeline.out; done

echo "# reload is confirmed"
pid=$(prop tether.service MainPID)
sed -i 's/"level": "info"/"level": "debug"/' /etc/tether/tether.json
systemctl reload tether.service
check "systemctl reload succeeded" test $? = 0
# The moment reload returns, the relay has recorded that the new level is in force.
check "when reload returns, the relay (pid $pid) has applied log.level=debug" grep -qx "$pid 1 applied log.level=debug" /run/tether/reload-status
check "journal: configuration reloaded" until_ok 5 bash -c "journalctl -q --no-pager -u tether.service | grep -q 'configuration reloaded'"
cp /etc/tether/tether.json /tmp/tether.json.good
echo '{"log": {"level": ' > /etc/tether/tether.json
systemctl reload tether.service 2>/tmp/reload-refused.err
check "a reload of a broken configuration fails systemctl reload" test $? != 0
check "... and the relay says why (journal)" until_ok 5 bash -c "journalctl -q --no-pager -u tether.service | grep -q 'refused the reload and keeps its running settings'"
check "... and keeps running, same pid" test "$(prop tether.service MainPID)" = "$pid" -a "$(systemctl is-active tether.service)" = active
cp /tmp/tether.json.good /etc/tether/tether.json
sed -i 's/"level": "debug"/"level": "info"/' /etc/tether/tether.json
systemctl reload tether.service
check "reload after the fix applies log.level=info" grep -qx "$pid 3 applied log.level=info" /run/tether/reload-status

echo "# socket activation"
systemctl stop tether.service
since_socket=$(date '+%F %T')
systemctl start tether.socket
check "with tether.socket, the service waits for a connection" test "$(systemctl is-active tether.service)" = inactive
check "the first connection starts the relay and is answered" curl -sf -m 30 -o /dev/null $URL/readyz
check "the service was started by the socket" test "$(systemctl is-active tether.service)" = active
check "the relay served the inherited socket" bash -c "journal_since '$since_socket' | grep -q 'listening on http://127.0.0.1:8765'"
systemctl stop tether.service tether.socket

echo "# SIGKILL: restarted, every accepted event kept"
systemctl start tether.service
pid=$(prop tether.service MainPID); restarts=$(prop tether.service NRestarts)
: > /tmp/accepted
( for i in $(seq 1 400); do
    curl -s -m 5 -X POST $URL/v1/events -H 'Content-Type: application/json' -d "{\"topic\":\"k\",\"data\":{\"i\":$i}}" \
      | sed -n 's/.*"accepted":\[\([0-9]*\)\].*/\1/p' >> /tmp/accepted
  done ) &
publisher=$!
until_ok 20 bash -c '[ $(wc -l < /tmp/accepted) -ge 50 ]'
kill -KILL "$pid"
killed=$(now)
until_ok 30 bash -c "[ \"\$(systemctl show -p MainPID --value tether.service)\" != $pid ] && [ \"\$(systemctl is-active tether.service)\" = active ]"
check "after SIGKILL the relay is running again (new pid)" test $? = 0
echo "figure: active again $(calc "$(now) - $killed") s after SIGKILL (RestartSec=2s)"
wait $publisher
check "systemd counted the restart" test "$(prop tether.service NRestarts)" -gt "$restarts"
curl -sf "$URL/v1/events?after=0&limit=10000" | grep -o '"seq":[0-9]*' | cut -d: -f2 | sort > /tmp/kept
missing=$(sort /tmp/accepted | comm -23 - /tmp/kept | wc -l)
echo "figure: $(wc -l < /tmp/accepted) events accepted around the SIGKILL, $missing missing afterwards"
check "every accepted event survived SIGKILL" test "$missing" = 0 -a "$(wc -l < /tmp/accepted)" -ge 50

# Wedges the store (SIGUSR1, --debug-faults) and checks systemd aborts the relay within
# WatchdogSec= + 2 s and starts it again. $1: WatchdogSec in seconds, or "" for the shipped value.
wedge_round() {
  local sec=$1 dropin=/etc/systemd/system/tether.service.d/scenario.conf
  printf '[Service]\nExecStart=\nExecStart=/usr/bin/tether serve --log journal --debug-faults\n' > $dropin
  [ -z "$sec" ] || printf 'WatchdogSec=%ss\n' "$sec" >> $dropin
  systemctl daemon-reload; systemctl restart tether.service
  local limit; limit=$(prop tether.service WatchdogUSec); limit=${limit%s}
  local pid; pid=$(prop tether.service MainPID)
  local since; since=$(date '+%F %T')
  kill -USR1 "$pid"; local wedged; wedged=$(now)
  until_ok $((limit + 20)) bash -c "journalctl -q --no-pager -u tether.service --since '$since' | grep -q 'code=dumped\|code=killed'"
  local died; died=$(journal_since "$since" | grep -m1 'code=dumped\|code=killed' | cut -d' ' -f1)
  local took; took=$(calc "${died:-0} - $wedged")
  echo "figure: WatchdogSec=${limit}s: the wedged relay was aborted ${took} s after SIGUSR1"
  check "WatchdogSec=${limit}s: systemd saw the watchdog timeout" bash -c "journal_since '$since' | grep -q 'Watchdog timeout'"
  check "WatchdogSec=${limit}s: the wedged relay was ended within WatchdogSec= + 2 s" holds "$took > 0 && $took <= $limit + 2"
  until_ok 30 bash -c "[ \"\$(systemctl show -p MainPID --value tether.service)\" != $pid ] && curl -sf -o /dev/null $URL/readyz"
  check "WatchdogSec=${limit}s: restarted and ready again" test $? = 0
  journal_since "$since" | grep -E 'Watchdog|ABRT|dumped|killed|Scheduled restart|Started' | sed 's/^/  /'
}
echo "# a wedged core is restarted by the watchdog"
wedge_round 2
wedge_round ""

echo "# a healthy relay under WatchdogSec=1s is never restarted"
printf '[Service]\nWatchdogSec=1s\n' > /etc/systemd/system/tether.service.d/scenario.conf
systemctl daemon-reload; systemctl restart tether.service
pid=$(prop tether.service MainPID); restarts=$(prop tether.service NRestarts); since=$(date '+%F %T')
# The window under test is 30 s of time passing, with traffic.
for i in $(seq 1 30); do timeout 10 tether publish healthy "{\"i\":$i}" > /dev/null 2>&1; sleep 1; done
check "WatchdogSec=1s: same pid after 30 s" test "$(prop tether.service MainPID)" = "$pid"
check "WatchdogSec=1s: no restart" test "$(prop tether.service NRestarts)" = "$restarts"
check "WatchdogSec=1s: no watchdog timeout" bash -c "! journal_since '$since' | grep -q 'Watchdog timeout'"
check "WatchdogSec=1s: no degraded watchdog" bash -c "! journal_since '$since' | grep -q 'watchdog degraded'"
rm -f /etc/systemd/system/tether.service.d/scenario.conf; systemctl daemon-reload; systemctl restart tether.service

echo "# sandbox"
score=$(systemd-analyze security tether.service --no-pager 2>&1 | sed -n 's/.*Overall exposure level for tether.service: \([0-9.]*\).*/\1/p')
echo "figure: systemd-analyze security tether.service (online): $score"
check "exposure in the booted system is at most 1.0" holds "${score:-99} <= 1.0"
# Everything the relay and systemd said about it during the scenario; libdispatch's two lines about
# lowering a thread's nice value (errno=13: the kernel refuses it to an unprivileged process) are known.
journalctl -q --no-pager -b -u tether.service -u tether.socket > /tmp/all.txt
grep -iE 'EPERM|operation not permitted|SIGSYS|status=31|seccomp|type=1326|errno=' /tmp/all.txt \
  | grep -vE 'Failed to set thread priority for [a-z]+ thread: pqc=0x[0-9a-f]+ errno=13$' > /tmp/denied.txt
check "no EPERM, SIGSYS or seccomp line in the journal (besides the known errno=13 lines)" test ! -s /tmp/denied.txt
cat /tmp/denied.txt | head -20

head_of() { curl -sf "$URL/v1/events?after=0&limit=1" | sed -n 's/.*"head":\([0-9]*\).*/\1/p'; }
echo "# upgrade: a running relay restarts on the new binary and keeps its log"
pid=$(prop tether.service MainPID); head=$(head_of)
apt-get install --reinstall -y "$DEB" > /out/apt-reinstall.log 2>&1
check "apt-get install --reinstall succeeded" test $? = 0
check "the running relay was restarted (new pid)" until_ok 20 bash -c "[ \"\$(systemctl show -p MainPID --value tether.service)\" != $pid ] && curl -sf -o /dev/null $URL/readyz"
check "its log was kept (head $head)" test "$(head_of)" = "$head" -a -n "$head"

echo "# remove keeps the data, purge removes it"
check "the relay has state" test -s /var/lib/private/tether/tether.sqlite
apt-get remove -y tether > /out/apt-remove.log 2>&1
check "apt-get remove succeeded" test $? = 0
check "after remove the relay is stopped" test "$(systemctl is-active tether.service)" != active
check "after remove the binary is gone" test ! -e /usr/bin/tether
check "after remove the data is kept" test -s /var/lib/private/tether/tether.sqlite
check "after remove the configuration is kept" test -s /etc/tether/tether.json
apt-get install -y "$DEB" > /out/apt-install-again.log 2>&1 && systemctl start tether.service
check "installed again, the relay continues the same log (head $head)" test "$(head_of)" = "$head"
apt-get remove -y tether > /out/apt-remove-again.log 2>&1
apt-get purge -y tether > /out/apt-purge.log 2>&1
check "apt-get purge succeeded" test $? = 0
check "after purge the data is gone" test ! -e /var/lib/private/tether -a ! -e /var/lib/tether
check "after purge the configuration is gone" test ! -e /etc/tether -a ! -e /etc/default/tether
check "after purge the catalog entry is gone" bash -c '! journalctl --list-catalog | grep -q d2a642736dd2443398fc267fcc1a6615'
