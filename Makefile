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

gotest:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# Each fuzz target runs briefly (an execution count: time-bounded runs flake with
# "context deadline exceeded") on top of its checked-in seed corpus.
FUZZTIME ?= 100000x
fuzz-short:
	@for t in $$($(GO) test -list '^Fuzz' ./transport | grep '^Fuzz'); do \
		echo "fuzz $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./transport || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

chat:
	$(GO) run ./examples/chat
