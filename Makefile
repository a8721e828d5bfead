# cloudcam: every target installs what it needs itself (npm ci when package-lock.json changed).
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.stamp
STATE_DIR ?= .devcloud

.PHONY: bench-live-memory all install build lint typecheck test run devcloud bench bench-memory bench-package soak fleet docs cloud-synth clean package test-package screenshot bench-viewer bench-h264 bench-live lambda-sharp

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
	npx tsc -p src/viewer/web/tsconfig.json

lint: install
	npx eslint .

# All tests: types, lint, unit and integration (both brokers). Needs mosquitto for the MQTT 5 runs and
# chromium for the viewer's browser tests; without them those runs are reported as skipped, never
# silently passed.
test: build typecheck lint
	bash scripts/system-packages.sh mosquitto rsyslog dbus chromium
	npx vitest run

# The main job on the embedded default: devcloud + agent, snapshots landing under $(STATE_DIR)/s3.
run: build
	bash scripts/system-packages.sh mosquitto dbus
	node scripts/run.mjs --state-dir $(STATE_DIR)

devcloud: build
	node dist/cli.js devcloud --state-dir $(STATE_DIR)

# The README's picture: the viewer's fleet page on a devcloud with real agents, taken by chromium.
screenshot: build
	bash scripts/system-packages.sh mosquitto chromium
	node scripts/screenshot.mjs --out docs/images/viewer.png --live-out docs/images/viewer-live.png

# Self-contained packages (docs/packaging.md): build/package/cloudcam_{version}_armv7hf.eap (AXIS OS 12,
# Debian trixie's nodejs, downloaded once into build/debian-node/), cloudcam_{version}_armv7hf-axisos11[-eol].eap,
# cloudcam_{version}_aarch64.eap, and gateway tarballs. Needs qemu-user and the Debian sysroots:
# `packaging/emulation-setup.sh` (root).
ARCH ?= all
package: build
	ARCH=$(ARCH) node dist/packaging/cli.js

# Runs each package through its launcher under qemu-user against a devcloud (snapshot roundtrip),
# checks its runtime is the one its notes claim, then builds again elsewhere and checks the .eap files
# are byte-identical.
test-package: package
	bash scripts/system-packages.sh dbus chromium
	ARCH=$(ARCH) node dist/packaging/test-package.js
	ARCH=$(ARCH) PACKAGE_DIR=build/package-again node dist/packaging/cli.js >/dev/null
	@for f in build/package/*.eap; do \
	  a=$$(sha256sum < $$f); b=$$(sha256sum < build/package-again/$$(basename $$f)); \
	  if [ "$$a" = "$$b" ]; then echo "reproducible: $$(basename $$f) $${a%% *}"; else echo "NOT reproducible: $$(basename $$f)"; exit 1; fi; \
	done

# A benchmark, not a test: latency of the snapshot path against its floor, and the memory of the agent
# as it ships (this machine's x64 package, built here: official Node of the newest LTS line as a
# single executable, started by its launcher); then event snapshots: event → object in S3 against its
# floor, memory without and with the pre-event buffer; then bench-memory.
bench: build bench-package
	node scripts/bench.mjs --n $${BENCH_N:-100}
	node scripts/bench-events.mjs --n $${BENCH_EVENTS_N:-50}
	$(BENCH_MEMORY)

# Where the shipped agent's memory goes, per runtime (the newest LTS line, as aarch64 ships; Node 20,
# the line armv7hf ships) with the launcher's settings, against the empty runtime's own floor: median
# of BENCH_REPEAT runs each (docs/benchmarks.md). Other runtimes and settings: scripts/bench-memory.mjs.
BENCH_NODE20 ?= 20.20.2
BENCH_MEMORY = node scripts/bench-memory.mjs --repeat $${BENCH_REPEAT:-3} --n $${BENCH_N:-100} --node lts --node $(BENCH_NODE20) --floor
bench-memory: build bench-package
	$(BENCH_MEMORY)

# This machine's package (x64, not shipped): what bench and soak run.
bench-package: build
	ARCH=x64 PACKAGE_DIR=build/bench-package node dist/packaging/cli.js

# devcloud and FLEET_N real agents in one process (half enrol by claim), FLEET_SNAPSHOTS snapshot
# requests each, the broker killed half-way; a table, then `fleet: N cameras, ...` (docs/fleet.md).
FLEET_N ?= 500
FLEET_SNAPSHOTS ?= 3
fleet: build
	bash scripts/system-packages.sh mosquitto
	@# ~4 descriptors per camera in the Node process: a default soft limit of 1024 is too low.
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); node --expose-gc dist/fleet/cli.js --cameras $(FLEET_N) --snapshots $(FLEET_SNAPSHOTS)

# A benchmark, not a test: frames/s and bitrate of the camera simulator's H.264 generator, and the
# RTSP server + agent client in real time (docs/protocol-rtsp.md).
bench-h264: build
	node scripts/bench-h264.mjs --resolution $${BENCH_RESOLUTION:-1280x720} --fps $${BENCH_FPS:-15}

# A benchmark, not a test: live view end to end (the shipped x64 agent, devcloud's camera and KVS
# stand-ins, chromium decoding): time to first frame and glass-to-glass latency p50/p95, the agent's
# CPU per viewer and RSS with live off, 1 and 4 viewers (docs/benchmarks.md).
bench-live: build
	bash scripts/system-packages.sh mosquitto chromium
	ARCH=x64 PACKAGE_DIR=build/bench-package node dist/packaging/cli.js
	node scripts/bench-live.mjs --runs $${BENCH_LIVE_RUNS:-10}

# A diagnostic, not a test: where live view's memory goes, phase by phase (idle, live started, 1 and 4
# viewers, after), with the smaps split and the V8 heap after a full GC (docs/benchmarks.md).
# LIVE_MEMORY_ARGS e.g. --runtime-env "NODE_OPTIONS=--jitless --max-semi-space-size=8 --v8-pool-size=1".
bench-live-memory: build
	bash scripts/system-packages.sh mosquitto chromium
	ARCH=x64 PACKAGE_DIR=build/bench-package node dist/packaging/cli.js
	node scripts/bench-live-memory.mjs $(LIVE_MEMORY_ARGS)

# The viewer with 500 simulated cameras: API p50/p95 per page, time to the first page's thumbnails.
bench-viewer: build
	bash scripts/system-packages.sh chromium
	node scripts/bench-viewer.mjs --cameras $${BENCH_CAMERAS:-500}

# Regenerates docs/config.md from the agent's config schema (a test fails when it is stale).
docs: build
	node scripts/gen-config-docs.mjs

# The cloud side as a CloudFormation template, offline (no AWS account, no Docker, no network):
# bundles the Lambdas with esbuild, then runs the CDK app directly (the cdk CLI is only needed to
# deploy). CDK context as JSON, e.g. make cloud-synth CDK_CONTEXT='{"allowedSerials":"ACCC8E000001"}'
CDK_OUT ?= build/cdk.out
CDK_CONTEXT ?= {}
cloud-synth: install
	npx esbuild infra/app.ts --bundle --platform=node --format=esm --packages=external --outfile=build/infra/app.mjs --log-level=warning
	rm -rf $(CDK_OUT)
	CDK_OUTDIR=$(CDK_OUT) CDK_CONTEXT_JSON='$(CDK_CONTEXT)' node build/infra/app.mjs
	@ls $(CDK_OUT)/*.template.json

# sharp's linux-arm64 build for the thumbnail Lambda (needs the npm registry once); cloud-synth copies it
# beside the bundle. Synth without it warns and marks the asset (SHARP-MISSING.txt).
lambda-sharp:
	mkdir -p build/sharp-arm64
	@# A package.json of its own: without it npm would install into the repository's node_modules.
	printf '{"private":true}\n' > build/sharp-arm64/package.json
	cd build/sharp-arm64 && npm install --no-save --no-package-lock --no-audit --no-fund --os=linux --cpu=arm64 --libc=glibc sharp@0.34.5

# 1,000 snapshot cycles through the agent as it ships (this machine's package and its launcher;
# SOAK_AGENT=dev: the development entry) with faults sprinkled in; prints the memory breakdown at
# start, after the warm-up and at the end (targets: live heap growth < 5 MB, asserted; RSS at the end
# ≤ idle + 15 MB, printed). Not part of `make test` (~5 minutes). SOAK_CYCLES=N to change.
soak: build bench-package
	SOAK=1 npx vitest run test/soak

clean:
	rm -rf dist build/package build/package-again build/package-work build/package-again-work build/bench-package build/bench-package-work build/bench-node-* build/bench-floor coverage
