# Shortcuts for the README's two set-up commands and the benchmarks.
BIN := target/release/bbb-migrate

.PHONY: demo test bench fmt clean-demo

## Install what is missing, build, and run the whole pipeline on the built-in demo server.
demo:
	./scripts/demo.sh

## Install what is missing, then formatting, lints and every test (uses the local PostgreSQL).
test:
	./scripts/test.sh

## Inventory throughput benchmark (10 000 recordings, page size 100, into a SQLite ledger).
bench:
	cargo build --release --locked
	$(BIN) bench inventory --recordings 10000

fmt:
	cargo fmt --all

clean-demo:
	rm -rf demo-output
