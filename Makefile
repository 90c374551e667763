# make test is the one test command (README, .ci/run). It installs what it needs.
GO ?= go
PKGS := ./...

.PHONY: test fmt-check vet gotest fuzz-short bench chat

test: fmt-check vet gotest fuzz-short

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

# In-process benchmarks, then the server measured as a separate process (bench/).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	cd bench && for t in bare websocket barehttp poll stream; do \
		$(GO) run . -mode echo -transport $$t -sessions 1000 -messages 200000 -window 10 || exit 1; done
	cd bench && for t in bare websocket poll; do \
		$(GO) run . -mode idle -transport $$t -sessions 10000 || exit 1; done

chat:
	$(GO) run ./examples/chat
