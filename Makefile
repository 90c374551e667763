# make test is the one test command (README, .ci/run). It installs what it needs.
GO ?= go
PKGS := ./...

.PHONY: test fmt-check vet gotest fuzz-short js-deps js-test js-build bench chat

test: fmt-check vet gotest js-test fuzz-short

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

gotest:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# Each fuzz target runs briefly (an execution count: time-bounded runs flake with
# "context deadline exceeded") on top of its checked-in seed corpus.
FUZZTIME ?= 100000x
fuzz-short:
	@for t in $$($(GO) test -list '^Fuzz' ./transport | grep '^Fuzz'); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./transport || exit 1; \
	done

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

# In-process benchmarks, then the server measured as a separate process (bench/).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd bench && for t in bare websocket barehttp poll stream; do \
		$(GO) run . -mode echo -transport $$t -sessions 1000 -messages 200000 -window 10 || exit 1; done
	cd bench && for t in bare websocket poll; do \
		$(GO) run . -mode idle -transport $$t -sessions 10000 || exit 1; done
	$(MAKE) js-deps
	cd $(JS) && node --experimental-websocket bench/open.mjs 20

chat:
	$(GO) run ./examples/chat
