# mailhorn — build, test, demo.
GO ?= go
BIN := bin/mailhorn

.PHONY: all build demo test test-deps vet fmt-check docs bench-maps bench-smtp-in bench-smtp-relay bench-imap-fetch clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mailhorn

# A working mail system for example.test in ./demo, SMTP on 127.0.0.1:2525,
# in the foreground (Ctrl-C stops it).
demo: build
	./$(BIN) demo

# The whole test suite: installs the real peers it needs (Postfix, swaks, ...)
# when missing, then checks formatting, vet, and runs every test with the race
# detector in shuffled order.
test: test-deps fmt-check vet
	$(GO) test -race -shuffle=on -count=1 ./...

test-deps:
	./scripts/test-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Regenerate docs/parameters.md from the parameter registry.
docs:
	$(GO) run ./internal/config/gendoc

bench-maps: build
	./bench/maps/run.sh

# SMTP in to Maildir, mailhorn and a private Postfix side by side (as root).
bench-smtp-in:
	./bench/smtp-in/run.sh

bench-smtp-relay:
	./bench/smtp-relay/run.sh

# IMAP on a 10,000-message Maildir, mailhorn's imapd and a private Dovecot
# side by side (as root).
bench-imap-fetch:
	./bench/imap-fetch/run.sh

clean:
	rm -rf bin
