# make test is the one test command (README, .ci/run). It installs what it needs.
GO ?= go
PKGS := ./...

.PHONY: test fmt-check vet gotest cluster-deps cluster-demo fuzz-short fuzz js-deps js-test js-build lab-deps lab compat bench bench-micro soak chat

test: fmt-check vet gotest js-test fuzz-short lab

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration ./integration/...
	cd bench && $(GO) vet ./...

gotest: cluster-deps
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# The cluster tests (cluster/) run a real NATS server: Debian's nats-server, installed
# when missing. The tests fail, never skip, without it.
cluster-deps:
	@if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "apt-get install nats-server"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends nats-server || exit 1; \
	fi

# Each fuzz target runs briefly (an execution count: time-bounded runs flake with
# "context deadline exceeded") on top of its checked-in seed corpus.
FUZZTIME ?= 100000x
fuzz-short:
	@for t in $$($(GO) test -list '^Fuzz' ./transport | grep '^Fuzz'); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./transport || exit 1; \
	done

# A long campaign: each fuzz target for FUZZLONG (make fuzz FUZZLONG=30m), on top of
# the checked-in corpus (transport/testdata/fuzz/<target>/). A failure leaves its input
# there: check it in with the fix, so that every later run replays it.
# Go 1.26's fuzz coordinator can end a timed run with a bare "context deadline
# exceeded" and no input (golang/go#75804, fixed in Go 1.27). A failure that wrote
# no new input is replayed on the whole corpus; only if that passes is it reported
# as that race and the campaign goes on. Any written input fails the campaign.
FUZZLONG ?= 5m
fuzz: js-deps
	@for t in $$($(GO) test -list '^Fuzz' ./transport | grep '^Fuzz'); do \
		d=transport/testdata/fuzz/$$t; before=$$(ls $$d 2>/dev/null | wc -l); \
		echo "fuzz $$t for $(FUZZLONG)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZLONG) ./transport && continue; \
		if [ "$$(ls $$d 2>/dev/null | wc -l)" != "$$before" ]; then echo "fuzz: $$t wrote a failing input to $$d"; exit 1; fi; \
		$(GO) test -count=1 -run "^$$t$$" ./transport || exit 1; \
		echo "fuzz: $$t stopped with no failing input and its corpus passes: the coordinator's deadline race (golang/go#75804), not a finding"; \
	done
	@echo "fuzz the JS body parser: $(JSFUZZ) mutations per seed of client-js/test/corpus"
	cd client-js && FUZZ_N=$(JSFUZZ) node --test test/fuzz.test.mjs
JSFUZZ ?= 1000000

# The browser client (client-js): its devDependencies are installed from the lockfile
# when missing or older than it; its tests (node --test) include the Node integration
# tests against the Go server, which need Node's WebSocket (a flag on Node 20).
JS := client-js
js-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make: node and npm are needed (Node 20 or later)"; exit 1; }
	@if [ ! -x $(JS)/node_modules/.bin/esbuild ] || [ $(JS)/package-lock.json -nt $(JS)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(JS)"; cd $(JS) && npm ci --no-audit --no-fund; fi

js-test: js-deps
	cd $(JS) && node --experimental-websocket --test test/

# Rebuilds client-js/dist from client-js/src (commit the result: the server embeds it).
js-build: js-deps
	cd $(JS) && node build.mjs

# The integration lab (integration/lab_*_test.go, build tag integration): three browser
# engines through real nginx, haproxy and squid and our fault proxy. Its tools are
# installed when missing, all from Debian (never a browser download): chromium, driven
# by playwright-core; firefox-esr, driven by puppeteer-core over WebDriver BiDi;
# WebKitGTK's MiniBrowser (webkit2gtk-driver's WebKitWebDriver, under xvfb), driven by
# selenium-webdriver; nginx, haproxy and squid. The npm packages are the pinned
# devDependencies of integration/browser, installed from its lockfile.
LAB := integration/browser
LAB_NPM := playwright-core puppeteer-core selenium-webdriver
lab-deps:
	@pkgs=""; \
	[ -x /usr/bin/chromium ] || pkgs="$$pkgs chromium"; \
	[ -x /usr/bin/firefox-esr ] || pkgs="$$pkgs firefox-esr"; \
	command -v WebKitWebDriver >/dev/null || pkgs="$$pkgs webkit2gtk-driver"; \
	command -v Xvfb >/dev/null || pkgs="$$pkgs xvfb"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || pkgs="$$pkgs nginx"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || pkgs="$$pkgs haproxy"; \
	command -v squid >/dev/null || [ -x /usr/sbin/squid ] || pkgs="$$pkgs squid"; \
	if [ -n "$$pkgs" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "apt-get install$$pkgs"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$pkgs || exit 1; \
	fi
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "make: node and npm are needed (Node 20 or later)"; exit 1; }
	@missing=""; for m in $(LAB_NPM); do [ -f $(LAB)/node_modules/$$m/package.json ] || missing="$$missing $$m"; done; \
	if [ -n "$$missing" ] || [ $(LAB)/package-lock.json -nt $(LAB)/node_modules/.package-lock.json ]; then \
		echo "npm ci in $(LAB)"; cd $(LAB) && npm ci --no-audit --no-fund; fi

LABFLAGS := -tags integration -race -count=1 -timeout 20m -run '^TestLab'
lab: lab-deps cluster-deps
	$(GO) test $(LABFLAGS) ./integration/...

# Runs the lab and writes docs/compatibility.md from a passing run.
compat: lab-deps cluster-deps
	LIFELINE_COMPAT=$(CURDIR)/docs/compatibility.md $(GO) test $(LABFLAGS) ./integration/...

# One table (docs/performance.md): raw TCP, bare coder/websocket, Socket.IO 4.8 (npm ci
# in bench/socketio when missing) and Lifeline on each transport, each server a process
# of its own pinned to a core; about 8 minutes. make bench BENCHFLAGS=-quick: about 2.
BENCHFLAGS ?=
bench:
	cd bench && $(GO) run . -mode table $(BENCHFLAGS)

# The in-process micro benchmarks (allocations per message), then the browser client's
# open times.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(MAKE) js-deps
	cd $(JS) && node --experimental-websocket bench/open.mjs 20

# A soak: SOAK_SESSIONS Go clients on each transport (each on a server of its own) for
# SOAK_DURATION, a message each way per second per session, every echo checked; each
# server's RSS and goroutines are printed every 10 s (make soak SOAK_DURATION=2m).
SOAK_SESSIONS ?= 1000
SOAK_DURATION ?= 10m
soak:
	cd bench && $(GO) run . -mode soak -sessions $(SOAK_SESSIONS) -duration $(SOAK_DURATION)

chat:
	$(GO) run ./examples/chat

# Three chat nodes on one NATS server behind haproxy (balance roundrobin, no
# stickiness) on 127.0.0.1:8080 (PORT=...); installs nats-server and haproxy when missing.
cluster-demo: cluster-deps
	@command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends haproxy; }
	GO=$(GO) sh examples/chat/cluster-demo.sh
