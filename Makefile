# The README's two commands are `make run` and `make test`; both install what they need.
SWIFT ?= swift
LISTEN ?= 127.0.0.1:8765
ARGS ?=

.PHONY: run test build build-tests bench clean

run:
	scripts/ensure-deps.sh run
	$(SWIFT) build --product tether
	.build/debug/tether serve --listen $(LISTEN) $(ARGS)

build:
	scripts/ensure-deps.sh run
	$(SWIFT) build

# Build once (tests, the tether binary and its helpers), then run without rebuilding.
test:
	scripts/ensure-deps.sh test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench:
	scripts/ensure-deps.sh bench
	scripts/bench.sh

clean:
	rm -rf .build .build-venv
