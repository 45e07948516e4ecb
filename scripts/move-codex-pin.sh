#!/bin/sh
# Moves the pinned Codex to VERSION: rewrites the pin (scripts/install-test-deps.sh and
# tests/it/support/paths.rs), installs that Codex and its schema, and runs the pin test
# (tests/it/codex_pin.rs), then every test against the real Codex. A method or field the
# `codex` adapter uses that the new Codex lacks fails the pin test, one line each.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 VERSION (e.g. 0.170.0)" >&2; exit 2; }
version=$1
case $version in
    *[!0-9.]* | "") echo "not a version: $version" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sed -i "s/^CODEX_VERSION=.*/CODEX_VERSION=$version/" scripts/install-test-deps.sh
sed -i "s/^pub const CODEX_VERSION: &str = \".*\";/pub const CODEX_VERSION: \&str = \"$version\";/" \
    tests/it/support/paths.rs
scripts/install-test-deps.sh
cargo test --locked --test it codex_pin
cargo test --locked --test it real_codex
