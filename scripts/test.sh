#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --all-targets
