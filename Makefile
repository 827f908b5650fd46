# The two entry points of the README: `make demo` and `make test`.
CARGO ?= cargo
BIN := target/release/bbb-migrate

.PHONY: demo test deps build lint unit bench clean-demo

## Install what is missing, build, and run the whole pipeline on the built-in demo server.
demo: deps build
	$(BIN) demo --output demo-output

## Install what is missing, then formatting, lints and every test (needs the local PostgreSQL).
test: deps lint unit

deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build --release --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked --no-fail-fast

## Inventory throughput benchmark (10 000 recordings, page size 100, into a SQLite ledger).
bench: build
	$(BIN) bench inventory --recordings 10000

clean-demo:
	rm -rf demo-output
