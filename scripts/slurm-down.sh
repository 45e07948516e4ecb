#!/usr/bin/env bash
# Stops the daemons that scripts/slurm-up.sh started (by the pids in its directory's pid
# files, nothing else), bounded; their state directory is kept (jobs survive a restart).
set -uo pipefail
DIR="${AGENT_HOST_SLURM_DIR:-/tmp/agent-host-slurm}"
for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || continue
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
done
exit 0
