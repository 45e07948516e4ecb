#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
# The one-node Slurm on loopback that tests/it/cluster_slurm.rs runs turns on (the tests start
# it themselves when it is not running); stopped at the end if this run started it.
SLURM_DIR="${AGENT_HOST_SLURM_DIR:-/tmp/agent-host-slurm}"
if ! { [ -s "$SLURM_DIR/slurmctld.pid" ] && kill -0 "$(cat "$SLURM_DIR/slurmctld.pid")" 2>/dev/null; }; then
  trap 'scripts/cluster-down.sh slurm' EXIT
fi
scripts/cluster-up.sh slurm >/dev/null
cargo fmt --check
# Every optional part is built and tested (the `kubernetes` feature: the Kubernetes launcher);
# the default build, without it, is linted too.
cargo clippy --all-targets --all-features --locked -- -D warnings
cargo clippy --lib --bins --locked -- -D warnings
# The modules of src/ depend downward only (ARCHITECTURE.md): fails on an import cycle.
python3 scripts/module-graph.py >/dev/null
# Benchmarks (benches/, harness = false) are compiled by clippy above and run by
# `cargo bench`, not here: they print tables and assert nothing.
cargo test --all-features --locked --lib --bins --tests
# The default build refuses what it lacks, by name (the configuration's tests without the
# `kubernetes` feature).
cargo test --locked --lib config::
# Every fuzzed parser for a bounded time (30 s each, FUZZ_SECONDS): a crash fails here.
scripts/fuzz.sh
