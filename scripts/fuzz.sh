#!/usr/bin/env bash
# Fuzzes every parser of agent-host (cargo fuzz, libFuzzer) for a bounded time each; a crash, a
# panic or a failed assertion in any of them fails the script (exit 1, its input saved under
# fuzz/artifacts/<target>/). Called by scripts/test.sh; runs alone too:
#
#   scripts/fuzz.sh [TARGET...]          every target, or the named ones
#   FUZZ_SECONDS=300 scripts/fuzz.sh     a longer run per target (default 30 s)
#
# Installs the pinned cargo-fuzz into .cache/cargo-fuzz (skipped when it is there) and needs
# the nightly toolchain (libFuzzer's instrumentation). Every target is one parser of one fuzz
# binary, `parsers` (built once), chosen by AGENT_HOST_FUZZ_TARGET. The corpus of each target
# starts from the project's fixtures (scripts/fuzz-seeds.py) and keeps what earlier runs found
# (fuzz/corpus/<target>/, not committed). The binary is built without a sanitizer: the parsers
# are safe Rust, and without one the build and every run are several times faster.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
FUZZ_ROOT=.cache/cargo-fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
ALL_TARGETS=(framing config codex_jsonl claude gemini codex_app_server acp)
BUILD_FLAGS=(--sanitizer none --debug-assertions)
FUZZ_BINARY=parsers

say() { printf 'fuzz: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
elapsed() { printf '%ss' "$((SECONDS - $1))"; }

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=("${ALL_TARGETS[@]}")
fi

started=$SECONDS
rustup toolchain list 2>/dev/null | grep -q '^nightly' ||
    die "no nightly toolchain (cargo fuzz needs one): rustup toolchain install nightly"
if ! "$FUZZ_ROOT/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION into $FUZZ_ROOT"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$FUZZ_ROOT" >&2
fi
export PATH="$PWD/$FUZZ_ROOT/bin:$PATH"
say "cargo-fuzz ready ($(elapsed "$started"))"

step=$SECONDS
# The fuzz crate's lock file is committed: fail if it no longer matches, as --locked does.
(cd fuzz && cargo +nightly metadata --locked --format-version 1 >/dev/null) ||
    die "fuzz/Cargo.lock is out of date: run cargo +nightly update -p agent-host in fuzz/ and commit it"
(cd fuzz && cargo +nightly fuzz build "${BUILD_FLAGS[@]}" "$FUZZ_BINARY" >&2)
say "fuzz binary built ($(elapsed "$step"))"
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
binary="$PWD/fuzz/target/$triple/release/$FUZZ_BINARY"
[ -x "$binary" ] || die "no fuzz binary at $binary"

python3 scripts/fuzz-seeds.py fuzz/corpus

failed=()
for target in "${TARGETS[@]}"; do
    step=$SECONDS
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="fuzz/artifacts/$target.log"
    # The binary itself, not `cargo fuzz run`: that would check the build again per target.
    if (cd fuzz && AGENT_HOST_FUZZ_TARGET="$target" "$binary" \
        -artifact_prefix="artifacts/$target/" -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        "corpus/$target") >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        say "$target: no crash in ${SECONDS_PER_TARGET}s, ${runs:-?} inputs ($(elapsed "$step"))"
    else
        say "$target: FAILED ($(elapsed "$step")); the end of its log ($log):"
        tail -n 40 "$log" >&2
        failed+=("$target")
    fi
done

say "total $(elapsed "$started")"
if [ "${#failed[@]}" -gt 0 ]; then
    die "crashes in: ${failed[*]} (inputs under fuzz/artifacts/<target>/; replay one with
    cd fuzz && AGENT_HOST_FUZZ_TARGET=TARGET cargo +nightly fuzz run ${BUILD_FLAGS[*]} $FUZZ_BINARY artifacts/TARGET/crash-...)"
fi
