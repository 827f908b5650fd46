#!/usr/bin/env bash
# README set-up command 2: install what is missing, then formatting, lints and every test.
# The tests use the local services for real: PostgreSQL on 127.0.0.1:5432 (each test creates and drops its own
# database), and later MariaDB and RabbitMQ.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
./scripts/fuzz-smoke.sh   # a short fuzz run where nightly + cargo-fuzz exist; otherwise the corpora replayed
