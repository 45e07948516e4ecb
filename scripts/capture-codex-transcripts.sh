#!/usr/bin/env bash
# Captures the pinned real `codex app-server` against the project's mock model server into
# fixtures/codex-captures/ (one `{"dir","t_ms","msg"}` line per message): the reference
# shapes the protocol work compares with. Redo it after moving the Codex pin in
# scripts/install-test-deps.sh. The test suite makes the same captures live on every run
# (tests/it/codex_capture.rs) and validates them against Codex's schema.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
out=fixtures/codex-captures
rm -rf "$out"
CODEX_CAPTURE_OUT="$PWD/$out" cargo test --locked --test it -- --exact \
    conformance::real_codex_output_conforms_so_the_validator_is_right
printf 'capture-codex-transcripts: wrote %s\n' "$(ls "$out" | tr '\n' ' ')" >&2
