#!/usr/bin/env bash
# `make bench`: release-build the benchmark executables, run each, and collect their results.
# Each benchmark prints Markdown for BENCHMARKS.md and writes raw JSON under bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=${BENCH_SMOKE:-0}   # 1 = one short round (CI keeps the harness from rotting)
# CI's smoke run uses the debug build `make test` already made; numbers come from release only.
config=${BENCH_CONFIG:-release}
bin=.build/$config
# 10,000 idle connections (peer benchmark) need as many descriptors in the generator and servers.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p bench-results
swift build -c "$config" --product tether-core-bench
echo "bench: core fan-out" >&2
$bin/tether-core-bench --smoke=$smoke > bench-results/core-fanout.md
cat bench-results/core-fanout.md
# Allocations on the fan-out path: the same run with 1 and with 10 subscribers under a malloc
# counter; the difference over (events x 9) is allocations per event per extra subscriber.
gcc -O2 -shared -fPIC -o bench-results/malloc_count.so Benchmarks/MallocCount/malloc_count.c
events=$([ "$smoke" = 1 ] && echo 20000 || echo 200000)
# Heap allocations of a whole command: runs it under the counter, prints only the count.
allocations() { LD_PRELOAD=$PWD/bench-results/malloc_count.so "$@" 2>&1 >/dev/null | sed -n 's/^malloc_count: \([0-9]*\) allocations$/\1/p'; }
count() { allocations $bin/tether-core-bench --events "$events" --runs 1 --subscribers "$1"; }
one=$(count 1); ten=$(count 10)
{
  echo
  echo "Allocations: $one with 1 subscriber, $ten with 10, for $events events:"
  echo "$(( (ten - one) )) extra for $(( events * 9 )) extra deliveries."
} | tee -a bench-results/core-fanout.md
swift build -c "$config" --product tether-metrics-bench
echo "bench: metric exporters" >&2
$bin/tether-metrics-bench --smoke=$smoke > bench-results/metrics-scrape.md
# Allocations per scrape: the same set-up rendering 10 and 110 scrapes under the malloc counter.
scrape_allocations() { allocations $bin/tether-metrics-bench --allocations="$1,$2,$3"; }
{
  echo
  echo "Allocations per scrape (malloc calls, \`LD_PRELOAD\` counter; (count at 110 scrapes - count at 10) / 100):"
  echo
  echo "| connected clients | /metrics | /v1/stats |"
  echo "|---:|---:|---:|"
  for clients in $([ "$smoke" = 1 ] && echo 100 || echo "1000 10000"); do
    m=$(( ($(scrape_allocations metrics "$clients" 110) - $(scrape_allocations metrics "$clients" 10)) / 100 ))
    s=$(( ($(scrape_allocations stats "$clients" 110) - $(scrape_allocations stats "$clients" 10)) / 100 ))
    echo "| $clients | $m | $s |"
  done
} >> bench-results/metrics-scrape.md
cat bench-results/metrics-scrape.md
swift build -c "$config" --product tether-store-bench
echo "bench: store throughput" >&2
$bin/tether-store-bench --smoke=$smoke > bench-results/store-throughput.md
cat bench-results/store-throughput.md

# WebSocket: fan-out with acks to 10 and 100 subscriber processes, latency at half the peak,
# replay of 1000 missed events. The relay runs as its own release process on a free port.
swift build -c "$config" --product tether
echo "bench: websocket" >&2
relay_log=bench-results/websocket-relay.log
# A lag cap above the run's size: the fan-out figure is about delivery, not about gaps.
TETHER_LIMITS_PUBLISH_RATE=0 TETHER_LAG_CAP=1000000 $bin/tether serve --listen 127.0.0.1:0 --log-level notice > "$relay_log" 2>&1 &
relay_pid=$!
trap 'kill "$relay_pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$relay_log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "bench: the relay did not start:" >&2; cat "$relay_log" >&2; exit 1; }
if [ "$smoke" = 1 ]; then
  ws_args=(--deliveries 2000 --latency-events 200 --replay-runs 1)
else
  ws_args=()
fi
# Two producers: HTTP batches (the relay's fan-out capacity) and WebSocket publish frames.
for producer in http websocket; do
  $bin/tether bench websocket --url "ws://127.0.0.1:$port/v1/ws" --producer "$producer" \
    --json "bench-results/websocket-$producer.json" "${ws_args[@]}" > "bench-results/websocket-$producer.md"
  cat "bench-results/websocket-$producer.md"
done
kill "$relay_pid" 2>/dev/null || true
swift build -c "$config" --product tether-postgres-bench
echo "bench: PostgreSQL store (several relays)" >&2
$bin/tether-postgres-bench --smoke=$smoke > bench-results/postgres-store.md
cat bench-results/postgres-store.md

# Against real peers: Tether (memory and SQLite stores over WebSocket; the memory store over SSE
# and over Socket.IO) vs Mosquitto (MQTT QoS 1, persistent
# sessions) and NATS JetStream (durable consumers, explicit acks), each its own process on
# 127.0.0.1 with its data under bench-results/peers-data, driven by tether-peer-bench's
# subscriber processes. It exits non-zero if any server or figure produced no result; the
# report is printed either way.
swift build -c "$config" --product tether-peer-bench
echo "bench: against Mosquitto and NATS JetStream" >&2
rm -rf bench-results/peers-data
status=0
$bin/tether-peer-bench --smoke "$smoke" --tether "$bin/tether" --json bench-results/peers.json \
  --work bench-results/peers-data > bench-results/peers.md || status=$?
cat bench-results/peers.md
exit "$status"
