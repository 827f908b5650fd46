#!/usr/bin/env bash
# README set-up command 1: install what is missing, build, and run the whole pipeline on the built-in demo server.
# Extra arguments go to `bbb-migrate demo` (e.g. --recordings 200, --serve).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release --locked
exec target/release/bbb-migrate demo --output demo-output "$@"
