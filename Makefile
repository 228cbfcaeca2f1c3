# The README's two commands are `make run` and `make test`; both install what they need.
SWIFT ?= swift
LISTEN ?= 127.0.0.1:8765
ARGS ?=
# The commit baked into the binary (tether version, tether_build_info). Package.swift reads the
# clone's HEAD itself, but SwiftPM caches the manifest until Package.swift or the environment
# changes, so without this a build after a new commit could name the previous one.
# Given to swift only (not exported: the relay reads TETHER_* variables as configuration).
# Evaluated once per make run, so the build and the tests of one `make test` agree.
ifeq ($(origin TETHER_COMMIT), undefined)
TETHER_COMMIT := $(shell scripts/build-commit.sh)
endif
SWIFTB = TETHER_COMMIT=$(TETHER_COMMIT) $(SWIFT)

.PHONY: run test build build-tests bench fuzz clean package test-systemd

run:
	scripts/ensure-deps.sh run
	$(SWIFTB) build --product tether
	.build/debug/tether serve --listen $(LISTEN) $(ARGS)

build:
	scripts/ensure-deps.sh run
	$(SWIFTB) build

# Build once (tests, the tether binary and its helpers), then run without rebuilding. Tests run
# one at a time: most start real relays, clients and servers, and on a 2-core machine running
# them all at once starves their deadlines (the whole suite takes 6 to 8 minutes serially).
# scripts/run-tests.sh bounds the run (TETHER_TEST_TIMEOUT, 40 minutes) and names a test that hung;
# TESTS='--filter SuiteName' runs one suite.
TESTS ?=
test:
	scripts/ensure-deps.sh test
	$(SWIFTB) build --build-tests
	SWIFT=$(SWIFT) scripts/run-tests.sh $(TESTS)

# Optional: dist/tether_<version>_<arch>.deb, a release build with a static Swift standard library
# (installs where no Swift is), units, catalog, dashboard, docs, man page, conffiles. Its own build
# folder (.build-release), so it never waits on or disturbs the debug build.
package:
	scripts/ensure-deps.sh package
	SWIFT=$(SWIFT) TETHER_COMMIT=$(TETHER_COMMIT) scripts/package-deb.sh

# Boots Debian's systemd 252 as PID 1 in systemd-nspawn, installs the package and runs the
# scenario in scripts/systemd-scenario.sh (root; about 3 minutes after the first run).
test-systemd: package
	scripts/ensure-deps.sh systemd
	scripts/test-systemd.sh

# BENCH_SMOKE=1: one short round of everything (CI); BENCH_CONFIG=debug: reuse the debug build.
bench:
	scripts/ensure-deps.sh bench
	scripts/bench.sh

# Longer seeded fuzzing of every decoder (the CI suite runs 20000 inputs each).
# FUZZ_CASES inputs per decoder, FUZZ_SEED to explore other inputs (a failure names both).
FUZZ_CASES ?= 500000
FUZZ_SEED ?= $(shell date +%s)
fuzz:
	@echo "fuzzing with FUZZ_SEED=$(FUZZ_SEED) FUZZ_CASES=$(FUZZ_CASES) (rerun with the same values to reproduce)"
	scripts/ensure-deps.sh test
	$(SWIFTB) build --build-tests
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_SEED=$(FUZZ_SEED) $(SWIFTB) test --skip-build \
		--filter 'DecoderFuzzTests|ClientFrameFuzzTests|PacketFuzzTests|LastEventIDFuzzTests'

clean:
	rm -rf .build .build-venv .build-release .build-package dist
