//! Finding and stopping every process of a turn, and the one rule that decides which those are.
//!
//! A process belongs to a turn only when that is proven (`docs/contracts.md`, "Which processes
//! are the turn's"):
//! - it is a live root the caller is sure of (the runner: it is the turn's subreaper, so
//!   orphans come back to it), or a recorded identity (pid, start time, boot id) that still
//!   matches, or it carries the turn's marker (`AGENT_HOST_TURN=<turn id>` in the environment
//!   it was started with, read from `/proc/PID/environ`), or it is a member of a process group
//!   or session whose leader's recorded identity is proven alive (a group id stays reserved
//!   while its leader exists, so the group is the leader's);
//! - or it descends from such a process (a child's parent pid names its live parent);
//! - and never a process that started before the turn (`not_before`).
//!
//! A group or session whose leader is gone proves nothing: once the leader and the last member
//! are gone its id is free, and a stranger that gets that pid and calls `setsid()` owns a group
//! of the same number. [`members`] is the only place that applies the rule; the runner, `agent-host
//! kill` and recovery all build a [`Scope`] and call it. The set is found by a scan of `/proc`,
//! which sees double-forked and `setsid`-ed processes alike, and every signal goes through
//! [`identity::signal`] so that a PID reused between the scan and the signal is never hit.
//! Zombies that are our own children are reaped by PID; nothing here ever calls
//! `waitpid(-1)`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions, waitpid};

use super::identity::{self, Identity, ProcStat};

/// The environment variable the runner sets in the backend's environment: its value is the
/// turn id, and every process started with it belongs to that turn.
pub const TURN_MARKER_ENV: &str = "AGENT_HOST_TURN";

/// Which processes belong to a turn (see the module documentation for the rule).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Live processes the caller is sure of (the runner itself): they and their descendants.
    pub roots: Vec<i32>,
    /// Recorded processes: they and their descendants, only while the pid still has the
    /// recorded start time and boot id (records read back from disk, whose pids may have been
    /// reused).
    pub verified_roots: Vec<Identity>,
    /// Recorded group and session leaders: every member of the group or session whose id is
    /// the leader's pid, only while the leader itself still matches its identity.
    pub leaders: Vec<Identity>,
    /// The turn's marker: a process whose initial environment holds
    /// `AGENT_HOST_TURN=<marker>`.
    pub marker: Option<String>,
    /// The turn's start (clock ticks since boot, as `ProcStat::start_time`): a process that
    /// started earlier is never a member.
    pub not_before: Option<u64>,
    /// Never members (the runner itself).
    pub exclude: Vec<i32>,
}

/// Every process on the machine, as far as `/proc` shows them now. A process that exits
/// during the scan is left out; `/proc` itself unreadable is an error, never "no process".
pub fn scan() -> std::io::Result<Vec<ProcStat>> {
    let dir = fs::read_dir("/proc")?;
    Ok(dir
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let pid: i32 = name.to_str()?.parse().ok()?;
            identity::read_stat(pid).ok()
        })
        .collect())
}

/// True when the initial environment of `pid` holds `AGENT_HOST_TURN=<marker>`. A process we
/// may not read, or one that is gone, does not carry it.
pub fn carries_marker(pid: i32, marker: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let wanted = format!("{TURN_MARKER_ENV}={marker}");
    environ
        .split(|byte| *byte == 0)
        .any(|entry| entry == wanted.as_bytes())
}

/// The processes of `scope` among `all`, zombies included: the one place that decides which
/// processes are a turn's.
pub fn members(scope: &Scope, all: &[ProcStat]) -> Vec<ProcStat> {
    let boot_id = identity::boot_id().ok();
    let this_boot = |id: &Identity| boot_id.as_deref() == Some(id.boot_id.as_str());
    let matches = |id: &Identity| {
        this_boot(id)
            && all
                .iter()
                .any(|stat| stat.pid == id.pid && stat.start_time == id.start_time)
    };
    let started_in_turn = |stat: &ProcStat| scope.not_before.is_none_or(|t| stat.start_time >= t);
    let proven_leaders: Vec<i32> = scope
        .leaders
        .iter()
        .filter(|id| matches(id))
        .map(|id| id.pid)
        .collect();
    let mut queue: Vec<i32> = scope.roots.clone();
    queue.extend(
        scope
            .verified_roots
            .iter()
            .filter(|id| matches(id))
            .map(|id| id.pid),
    );
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for stat in all {
        children.entry(stat.ppid).or_default().push(stat.pid);
        if queue.contains(&stat.pid) || !started_in_turn(stat) {
            continue;
        }
        let in_group = proven_leaders.contains(&stat.pgid) || proven_leaders.contains(&stat.sid);
        let marked = !in_group
            && !stat.is_zombie()
            && scope
                .marker
                .as_deref()
                .is_some_and(|marker| carries_marker(stat.pid, marker));
        if in_group || marked {
            queue.push(stat.pid);
        }
    }
    let mut found: HashSet<i32> = HashSet::new();
    while let Some(pid) = queue.pop() {
        if !found.insert(pid) {
            continue;
        }
        if let Some(kids) = children.get(&pid) {
            queue.extend(kids.iter().copied());
        }
    }
    all.iter()
        .filter(|stat| found.contains(&stat.pid) && started_in_turn(stat))
        .filter(|stat| !scope.exclude.contains(&stat.pid))
        .copied()
        .collect()
}

/// The live (not zombie) processes of `scope` now.
pub fn live_members(scope: &Scope) -> std::io::Result<Vec<ProcStat>> {
    Ok(members(scope, &scan()?)
        .into_iter()
        .filter(|stat| !stat.is_zombie())
        .collect())
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
pub fn sweep_once(
    scope: &Scope,
    signal: Signal,
    keep: Option<i32>,
) -> std::io::Result<Vec<ProcStat>> {
    let all = scan()?;
    reap_zombie_children(&all, keep);
    let live: Vec<ProcStat> = members(scope, &all)
        .into_iter()
        .filter(|stat| !stat.is_zombie())
        .collect();
    signal_members(&live, signal);
    Ok(live)
}

/// SIGKILLs the members of `scope` until none is alive (new forks included) or `deadline`;
/// returns the processes still alive at the deadline. A `/proc` that cannot be read is an
/// error: nothing is known to be gone.
pub fn kill_all(
    scope: &Scope,
    keep: Option<i32>,
    deadline: Instant,
) -> std::io::Result<Vec<ProcStat>> {
    loop {
        let live = sweep_once(scope, Signal::KILL, keep)?;
        if live.is_empty() {
            // A last pass reaps what the final signals turned into zombies.
            reap_zombie_children(&scan()?, keep);
            return Ok(live);
        }
        if Instant::now() >= deadline {
            return Ok(live);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, ppid: i32, pgid: i32, start_time: u64) -> ProcStat {
        ProcStat {
            pid,
            state: b'S',
            ppid,
            pgid,
            sid: pgid,
            start_time,
        }
    }

    fn id(pid: i32, start_time: u64) -> Identity {
        Identity {
            pid,
            start_time,
            boot_id: identity::boot_id().unwrap(),
        }
    }

    fn pids(found: &[ProcStat]) -> Vec<i32> {
        let mut pids: Vec<i32> = found.iter().map(|stat| stat.pid).collect();
        pids.sort_unstable();
        pids
    }

    #[test]
    fn a_group_counts_only_while_its_recorded_leader_is_proven() {
        // The backend 100 led group 100; 101 is its child, 102 an orphan left in the group.
        let all = [
            stat(100, 1, 100, 50),
            stat(101, 100, 100, 60),
            stat(102, 1, 100, 70),
        ];
        let scope = Scope {
            leaders: vec![id(100, 50)],
            ..Scope::default()
        };
        assert_eq!(pids(&members(&scope, &all)), [100, 101, 102]);
        // The pid came round: 100 now is a stranger's session leader (another start time)
        // with a child of its own, or the stranger left and only its child is in the group.
        let reused = [stat(100, 1, 100, 90), stat(103, 100, 100, 95)];
        assert!(members(&scope, &reused).is_empty());
        let leaderless = [stat(103, 1, 100, 95)];
        assert!(members(&scope, &leaderless).is_empty());
    }

    #[test]
    fn recorded_identities_and_their_descendants_but_nothing_older_than_the_turn() {
        let all = [
            stat(200, 1, 200, 500),
            stat(201, 200, 200, 510),
            stat(202, 201, 202, 520),
            // Reused pid of a recorded descendant: other start time.
            stat(300, 1, 300, 900),
            // A child of the recorded process that started before the turn (impossible for
            // a real child, but the bound holds whatever the tree says).
            stat(203, 200, 200, 10),
        ];
        let scope = Scope {
            verified_roots: vec![id(200, 500), id(300, 100)],
            not_before: Some(400),
            ..Scope::default()
        };
        assert_eq!(pids(&members(&scope, &all)), [200, 201, 202]);
        // Of another boot: nothing.
        let other_boot = Scope {
            verified_roots: vec![Identity {
                boot_id: "another-boot".to_owned(),
                ..id(200, 500)
            }],
            ..Scope::default()
        };
        assert!(members(&other_boot, &all).is_empty());
    }

    #[test]
    fn a_marker_no_process_carries_matches_nothing() {
        let all = scan().unwrap();
        let scope = Scope {
            marker: Some(uuid::Uuid::now_v7().to_string()),
            ..Scope::default()
        };
        assert!(members(&scope, &all).is_empty());
    }
}
