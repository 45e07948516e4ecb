//! Finding and stopping every process of a turn.
//!
//! A turn's processes are the descendants of its roots (the runner, which is their subreaper,
//! so orphans come back to it) plus every process whose process group or session is one of the
//! turn's (the backend's). The set is found by a scan of `/proc`, which sees double-forked and
//! `setsid`-ed processes alike, and every signal goes through [`identity::signal`] so that a
//! PID reused between the scan and the signal is never hit. Zombies that are our own children
//! are reaped by PID; nothing here ever calls `waitpid(-1)`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions, waitpid};

use super::identity::{self, Identity, ProcStat};

/// Which processes belong to a turn.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Processes whose descendants belong to the turn (the roots themselves too, unless
    /// excluded).
    pub roots: Vec<i32>,
    /// Like `roots`, but only while the PID still has the recorded start time (for records
    /// read back from disk, whose PIDs may have been reused).
    pub verified_roots: Vec<Identity>,
    /// Process group and session ids of the turn.
    pub groups: Vec<i32>,
    /// Never members (the runner itself).
    pub exclude: Vec<i32>,
}

/// Every process on the machine, as far as `/proc` shows them now.
pub fn scan() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let name = entry.ok()?.file_name();
        let pid: i32 = name.to_str()?.parse().ok()?;
        identity::read_stat(pid).ok()
    })
    .collect()
}

/// The processes of `scope` among `all`, zombies included.
pub fn members(scope: &Scope, all: &[ProcStat]) -> Vec<ProcStat> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for stat in all {
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut found: HashSet<i32> = HashSet::new();
    let mut queue: Vec<i32> = scope.roots.clone();
    for root in &scope.verified_roots {
        if all
            .iter()
            .any(|stat| stat.pid == root.pid && stat.start_time == root.start_time)
        {
            queue.push(root.pid);
        }
    }
    while let Some(pid) = queue.pop() {
        if !found.insert(pid) {
            continue;
        }
        if let Some(kids) = children.get(&pid) {
            queue.extend(kids.iter().copied());
        }
    }
    all.iter()
        .filter(|stat| {
            found.contains(&stat.pid)
                || scope.groups.contains(&stat.pgid)
                || scope.groups.contains(&stat.sid)
        })
        .filter(|stat| !scope.exclude.contains(&stat.pid))
        .copied()
        .collect()
}

/// The live (not zombie) processes of `scope` now.
pub fn live_members(scope: &Scope) -> Vec<ProcStat> {
    members(scope, &scan())
        .into_iter()
        .filter(|stat| !stat.is_zombie())
        .collect()
}

/// Signals every live member, each through its verified identity; returns how many were hit.
pub fn signal_members(members: &[ProcStat], signal: Signal) -> usize {
    let Ok(boot_id) = identity::boot_id() else {
        return 0;
    };
    let mut sent = 0;
    for stat in members.iter().filter(|stat| !stat.is_zombie()) {
        let target = Identity {
            pid: stat.pid,
            start_time: stat.start_time,
            boot_id: boot_id.clone(),
        };
        match identity::signal(&target, signal) {
            Ok(identity::SignalOutcome::Sent) => sent += 1,
            Ok(identity::SignalOutcome::NotThatProcess) => {}
            Err(err) => tracing::warn!(pid = stat.pid, %err, "cannot signal"),
        }
    }
    sent
}

/// Reaps every zombie among `all` that is a child of ours, except `keep` (the backend leader,
/// which its own waiter reaps).
pub fn reap_zombie_children(all: &[ProcStat], keep: Option<i32>) -> usize {
    let me = std::process::id() as i32;
    let mut reaped = 0;
    for stat in all {
        if stat.ppid != me || !stat.is_zombie() || Some(stat.pid) == keep {
            continue;
        }
        let Some(pid) = Pid::from_raw(stat.pid) else {
            continue;
        };
        if let Ok(Some(_)) = waitpid(Some(pid), WaitOptions::NOHANG) {
            reaped += 1;
        }
    }
    reaped
}

/// One pass: reap our zombies, signal the live members; returns the live members found.
pub fn sweep_once(scope: &Scope, signal: Signal, keep: Option<i32>) -> Vec<ProcStat> {
    let all = scan();
    reap_zombie_children(&all, keep);
    let live: Vec<ProcStat> = members(scope, &all)
        .into_iter()
        .filter(|stat| !stat.is_zombie())
        .collect();
    signal_members(&live, signal);
    live
}

/// SIGKILLs the members of `scope` until none is alive (new forks included) or `deadline`;
/// returns the processes still alive at the deadline.
pub fn kill_all(scope: &Scope, keep: Option<i32>, deadline: Instant) -> Vec<ProcStat> {
    loop {
        let live = sweep_once(scope, Signal::KILL, keep);
        if live.is_empty() {
            // A last pass reaps what the final signals turned into zombies.
            reap_zombie_children(&scan(), keep);
            return live;
        }
        if Instant::now() >= deadline {
            return live;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
