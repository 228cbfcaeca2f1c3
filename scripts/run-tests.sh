#!/usr/bin/env bash
# Runs the test bundle that `swift build --build-tests` made, one test at a time, bounded in time.
#
# The bundle is run directly, not through `swift test`: SwiftPM relays the tests' output in 8 KB
# blocks, so when a run hangs the log stops up to 8 KB before the test that hung. The bundle writes
# each line as it happens.
#
# A run past TETHER_TEST_TIMEOUT seconds (default 2400; the whole suite takes 6 to 8 minutes) gets
# SIGQUIT, on which the Swift runtime prints every thread's backtrace, and is killed 30 s later;
# the script then names the tests that started and never ended. Arguments go to the bundle
# (`--filter SuiteName`, for one suite).
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
bundle="$($swift build --show-bin-path)/tetherPackageTests.xctest"
[ -x "$bundle" ] || { echo "run-tests: $bundle is missing: run \`$swift build --build-tests\` first" >&2; exit 2; }
limit=${TETHER_TEST_TIMEOUT:-2400}
log=$(mktemp -t tether-tests.XXXXXX)
trap 'rm -f "$log"' EXIT

set +e
NO_COLOR=1 SWIFT_BACKTRACE=enable=yes,interactive=no,threads=all \
    timeout --signal=QUIT --kill-after=30 "$limit" "$bundle" --testing-library swift-testing --no-parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "run-tests: the test run did not finish within $limit s and was stopped (backtraces above)." >&2
    # A test is named in its start line; one that ended has a ✔/✘ line with the same name.
    grep -o '◇ Test .* started\.' "$log" | sed -e 's/^◇ Test //' -e 's/ started\.$//' | grep -vx 'run' | sort -u > "$log.started" || true
    grep -oE '(✔|✘) Test .* (passed|failed|skipped)' "$log" | sed -E -e 's/^(✔|✘) Test //' -e 's/ (passed|failed|skipped)$//' \
        | sed -E 's/ with [0-9]+ test cases?$//' | sort -u > "$log.ended" || true
    echo "run-tests: tests that started and never ended:" >&2
    comm -23 "$log.started" "$log.ended" | sed 's/^/  /' >&2
    rm -f "$log.started" "$log.ended"
    exit 1
fi
exit "$status"
