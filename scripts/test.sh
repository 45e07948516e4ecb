#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The modules of src/ depend downward only (ARCHITECTURE.md): fails on an import cycle.
python3 scripts/module-graph.py >/dev/null
# Benchmarks (benches/, harness = false) are compiled by clippy above and run by
# `cargo bench`, not here: they print tables and assert nothing.
cargo test --locked --lib --bins --tests
# Every fuzzed parser for a bounded time (30 s each, FUZZ_SECONDS): a crash fails here.
scripts/fuzz.sh
