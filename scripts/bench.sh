#!/usr/bin/env bash
# `make bench`: release-build the benchmark executables, run each, and collect their results.
# Each benchmark prints Markdown for BENCHMARKS.md and writes raw JSON under bench-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=${BENCH_SMOKE:-0}   # 1 = one short round (CI keeps the harness from rotting)
mkdir -p bench-results
swift build -c release --product tether-core-bench
echo "bench: core fan-out" >&2
.build/release/tether-core-bench --smoke=$smoke > bench-results/core-fanout.md
cat bench-results/core-fanout.md
swift build -c release --product tether-postgres-bench
echo "bench: PostgreSQL store (several relays)" >&2
.build/release/tether-postgres-bench --smoke=$smoke > bench-results/postgres-store.md
cat bench-results/postgres-store.md
