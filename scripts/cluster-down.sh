#!/usr/bin/env bash
# Stops the daemons that `scripts/cluster-up.sh slurm` started (by the pids in its directory's
# pid files, nothing else), bounded; their state directory is kept (jobs survive a restart).
#   scripts/cluster-down.sh slurm
set -uo pipefail

slurm_down() {
  local dir="${AGENT_HOST_SLURM_DIR:-/tmp/agent-host-slurm}" pidfile pid
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -s "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  done
  return 0
}

case "${1:-}" in
  slurm) slurm_down ;;
  *)
    echo "usage: $0 slurm" >&2
    exit 2
    ;;
esac
