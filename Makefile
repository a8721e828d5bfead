# cloudcam: every target installs what it needs itself (npm ci when package-lock.json changed).
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.stamp
STATE_DIR ?= .devcloud

.PHONY: all install build lint typecheck test test-unit test-integration run devcloud bench soak clean

all: build

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NODE_MODULES_STAMP)

build: install
	npx tsc -p tsconfig.build.json
	@chmod +x dist/cli.js

typecheck: install
	npx tsc -p tsconfig.json --noEmit

lint: install
	npx eslint .

# All tests: types, lint, unit and integration (both brokers). Needs mosquitto for the MQTT 5 runs;
# without it those runs are reported as skipped, never silently passed.
test: build typecheck lint
	npx vitest run

# The main job on the embedded default: devcloud + agent, snapshots landing under $(STATE_DIR)/s3.
run: build
	node scripts/run.mjs --state-dir $(STATE_DIR)

devcloud: build
	node dist/cli.js devcloud --state-dir $(STATE_DIR)

bench: build
	node scripts/bench.mjs

# 1,000 snapshot cycles through the agent process with faults sprinkled in; prints RSS at start and
# end (target drift < 5 MB). Not part of `make test` (a few minutes). SOAK_CYCLES=N to change.
soak: build
	SOAK=1 npx vitest run test/soak

clean:
	rm -rf dist build coverage
