#!/usr/bin/env bash
# The one benchmark command (README): runs every benchmark, agent-host beside the real
# `codex app-server` where both can do the work, and writes BENCHMARKS.md (machine, versions,
# method, each figure with Codex's and the ratio, each target met or its gap and cause).
#
#   scripts/bench.sh                 # the full run (about 2 minutes on 2 idle cores after the build)
#   scripts/bench.sh --quick         # small counts: checks the harness end to end (~1 minute)
#   scripts/bench.sh --out FILE      # write FILE instead of BENCHMARKS.md
#
# Every bench bounds its own waits; each also runs under `timeout` here. The benches' raw
# tables go into the report's appendix. Run it on an otherwise idle machine: the figures are
# wall-clock times on shared CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."

out=BENCHMARKS.md
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --out) out="$2"; shift ;;
        *) echo "usage: scripts/bench.sh [--quick] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done

# The real Codex for its column (pinned by the install script, linked as .cache/codex-bin).
if [ ! -x .cache/codex-bin ]; then
    scripts/install-test-deps.sh
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/agent-host-benchmarks.XXXXXX")
trap 'rm -rf "$work"' EXIT
export BENCH_FIGURES="$work/figures.jsonl"
: > "$BENCH_FIGURES"

# name, then its options for the full and the quick run.
benches=(
    "protocol_front|--runs 20 --threads 100000 --list-reps 200|--runs 3 --threads 10000 --list-reps 20"
    "command_exec_vs_codex|--calls 500 --stream-mb 200|--calls 50 --stream-mb 20"
    "turn_events|--latency 10000 --throughput 100000 --rounds 3|--latency 1000 --throughput 10000 --rounds 1"
    "turn_load|--turns 200 --interrupts 20 --concurrent 200 --messages 50|--turns 20 --interrupts 3 --concurrent 20 --messages 20"
    "turn_vs_codex|--turns 20 --tool-turns 20 --pause-ms 300|--turns 3 --tool-turns 2 --pause-ms 300"
    "runner||"
    "thread_list_store||"
)

echo "bench.sh: building the benches (release profile)…" >&2
cargo bench --locked --no-run >&2

started=$(date +%s)
{
    echo "date=$(date -u +'%Y-%m-%d %H:%M UTC')"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "cpus=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc=$(rustc --version)"
    echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src benches Cargo.toml || echo ' (with local changes)')"
    echo "agent_host=$(target/release/agent-host --version 2>/dev/null || echo unknown)"
    echo "codex=$(.cache/codex-bin --version 2>/dev/null || echo 'not installed')"
    echo "quick=$quick"
} > "$work/machine.env"

status=0
for entry in "${benches[@]}"; do
    IFS='|' read -r name full small <<< "$entry"
    options=$full
    [ "$quick" = 1 ] && options=$small
    echo "bench.sh: $name $options" >&2
    bench_started=$(date +%s)
    # shellcheck disable=SC2086 # the options are words
    if ! timeout 300 cargo bench --locked --bench "$name" -- $options > "$work/$name.txt" 2> "$work/$name.err"; then
        echo "bench.sh: $name failed; its stderr:" >&2
        tail -20 "$work/$name.err" >&2
        echo "FAILED (exit status non-zero); stderr tail:" >> "$work/$name.txt"
        tail -20 "$work/$name.err" >> "$work/$name.txt"
        status=1
    fi
    echo "$name=$(( $(date +%s) - bench_started ))" >> "$work/seconds.env"
done
{
    echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "seconds=$(( $(date +%s) - started ))"
} >> "$work/machine.env"

python3 scripts/bench-report.py "$work" > "$out.tmp"
mv "$out.tmp" "$out"
echo "bench.sh: wrote $out in $(( $(date +%s) - started )) s" >&2
exit $status
