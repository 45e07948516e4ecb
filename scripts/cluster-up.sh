#!/usr/bin/env bash
# Starts a one-node cluster engine on loopback for the tests and for trying a launcher:
#   scripts/cluster-up.sh slurm
# munged, slurmctld and slurmd from Debian's packages (installed here when missing), with
# their configuration, keys, state and logs under one directory of their own
# (AGENT_HOST_SLURM_DIR, default /tmp/agent-host-slurm). Idempotent: daemons of this directory
# that already run are kept. Prints the `SLURM_CONF=...` line to export. Bounded: gives up
# after 60 s. `scripts/cluster-down.sh slurm` stops exactly the daemons this script started
# (by the pids in their pid files). Needs root (slurmd runs jobs as their submitter).
# `kubernetes` is refused: no API server runs on this kind of machine, and the kubernetes
# launcher is tested against a mocked API server instead (docs/scale-out.md).
set -euo pipefail

usage() {
  echo "usage: $0 slurm" >&2
  exit 2
}

slurm_up() {
  DIR="${AGENT_HOST_SLURM_DIR:-/tmp/agent-host-slurm}"
  CTLD_PORT="${AGENT_HOST_SLURM_PORT:-16817}"
  SLURMD_PORT=$((CTLD_PORT + 1))

  if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq slurm-wlm munge >/dev/null
  fi

  mkdir -p "$DIR"/{munge,state,spool,log}
  chmod 700 "$DIR/munge"
  if [ ! -s "$DIR/munge/munge.key" ]; then
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
  fi
  chmod 400 "$DIR/munge/munge.key"

  # proctrack/cgroup (cgroup v1 freezer) when this machine has it: a job's every process,
  # double-forked and setsid-ed ones included, is then ended with the job. Otherwise
  # proctrack/linuxproc, which loses such processes (docs/scale-out.md).
  PROCTRACK=proctrack/linuxproc
  if [ -d /sys/fs/cgroup/freezer ] && [ "${AGENT_HOST_SLURM_PROCTRACK:-cgroup}" = cgroup ]; then
    PROCTRACK=proctrack/cgroup
  fi
  cat >"$DIR/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
CONF
  cat >"$DIR/slurm.conf" <<CONF
ClusterName=agenthost
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=$PROCTRACK
TaskPlugin=task/none
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=5
MessageTimeout=10
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=128 State=UNKNOWN
PartitionName=agenthost Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  export SLURM_CONF="$DIR/slurm.conf"

  running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

  if ! running "$DIR/munge/munged.pid"; then
    munged --force --socket="$DIR/munge/munge.sock" --key-file="$DIR/munge/munge.key" \
      --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
      --seed-file="$DIR/munge/munged.seed"
  fi
  if ! running "$DIR/slurmctld.pid"; then
    slurmctld -f "$SLURM_CONF"
  fi
  if ! running "$DIR/slurmd.pid"; then
    slurmd -f "$SLURM_CONF" -N localhost
  fi

  deadline=$((SECONDS + 60))
  until [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = idle ] \
    || [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = mix ] \
    || [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = alloc ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster-up slurm: the node did not become ready within 60 s; logs in $DIR/log" >&2
      sinfo -N >&2 || true
      exit 1
    fi
    state="$(sinfo -h -N -o %t 2>/dev/null | head -1)"
    case "$state" in
      down*|drain*|unk*) scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  echo "SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
  slurm) slurm_up ;;
  kubernetes)
    echo "cluster-up: no local Kubernetes here; the kubernetes launcher's tests use a mocked API server (cargo test --lib launcher::kubernetes)" >&2
    exit 2
    ;;
  *) usage ;;
esac
