# sextant: the commands a developer and CI run. `make test` is the test command.
#
# Cargo's target directory and every downloaded or built tool live in a cache
# outside the checkout, keyed by version: ${SEXTANT_CACHE:-$HOME/.cache/sextant}.

SEXTANT_CACHE ?= $(HOME)/.cache/sextant
export CARGO_TARGET_DIR ?= $(SEXTANT_CACHE)/target
SEXTANT := $(CARGO_TARGET_DIR)/debug/sextant
# Clones share that target directory, and cargo reuses a test binary built in another
# checkout, with that checkout's path compiled in. insta reads its snapshots from
# here instead; the tests read CARGO_MANIFEST_DIR at run time (tests/common).
export INSTA_WORKSPACE_ROOT := $(CURDIR)
SAMPLE ?= config/samples/agent-fleet.yaml

include mk/tools.mk
-include mk/chart.mk
-include mk/bench.mk

.PHONY: all build test unit e2e lint fmt crds render check-crds

all: build

build:
	cargo build --workspace

## test: everything CI runs: lint, unit/snapshot/property tests with the real
## validators, then the end-to-end tests on a local control plane.
test: lint unit e2e

## unit: tests that need no cluster (promtool, kubernetes-validate and the Kubernetes
## 1.36 CRD server, which tests/crd_server starts and stops itself, are required).
unit: tools chart-check
	PATH="$(SEXTANT_TOOLS_PATH):$$PATH" SEXTANT_REQUIRE_TOOLS=1 INSTA_UPDATE=no \
		cargo test --workspace --exclude sextant-e2e

## e2e: bring up the local control plane (or use SEXTANT_E2E_CLUSTER=external),
## run the end-to-end tests, and stop what was started.
e2e: tools
	PATH="$(SEXTANT_TOOLS_PATH):$$PATH" e2e/run.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## crds: regenerate crds/ from the Rust types.
crds: build
	$(SEXTANT) crd > crds/observabilitystacks.yaml

## render: print what the operator would create for $(SAMPLE).
render: build
	$(SEXTANT) render -f $(SAMPLE)
