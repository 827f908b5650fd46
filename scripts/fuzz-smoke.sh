#!/usr/bin/env bash
# Fuzz smoke run for CI (issue 8). With a nightly toolchain and cargo-fuzz: each target ~20 s (FUZZ_SECONDS)
# on its committed corpus, new inputs going to a temporary directory (the tree stays clean). Without them:
# the stable replay tests that feed every corpus file to the parsers. Exit status non-zero on any crash.
#   ./scripts/fuzz-smoke.sh            # auto
#   FUZZ_SECONDS=60 ./scripts/fuzz-smoke.sh
#   FUZZ_SMOKE=replay ./scripts/fuzz-smoke.sh   # force the stable replay
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(get_recordings shapes_svg events archive_refs)
SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"

replay() {
    echo "fuzz-smoke: replaying fuzz/corpus/* through the parsers (stable)"
    cargo test -q -p bbb-api --test corpus --test hostile
    cargo test -q -p bbb-presentation --test corpus --test hostile
    cargo test -q -p bbb-archive --test corpus
}

if [[ "${FUZZ_SMOKE:-auto}" == replay ]] || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    replay
    exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd fuzz
for target in "${TARGETS[@]}"; do
    echo "fuzz-smoke: $target for ${SECONDS_PER_TARGET}s"
    mkdir -p "$scratch/$target"
    # First directory receives new inputs; the committed corpus is only read.
    if ! nice -n 19 cargo +nightly fuzz run -s none "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$scratch/" >"$scratch/$target.log" 2>&1; then
        tail -n 40 "$scratch/$target.log" >&2
        mkdir -p artifacts
        cp "$scratch"/crash-* "$scratch"/timeout-* "$scratch"/oom-* artifacts/ 2>/dev/null || true
        echo "fuzz-smoke: $target failed; failing inputs (if any) copied to fuzz/artifacts/" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$scratch/$target.log" || true
done
cd ..
replay
