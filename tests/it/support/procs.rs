//! The processes of a turn, read from `/proc`: what a test checks to prove that nothing was
//! left behind, and where a real CLI is installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use std::time::Duration;

use super::host::TURN_TIMEOUT;
use super::{Describe, wait_until};

/// A process as (pid, start time, command name), from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proc {
    pub pid: i32,
    pub start_time: u64,
    pub ppid: i32,
    pub sid: i32,
    pub comm: String,
}

pub fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state (3), ppid (4), pgrp (5), session (6), …, starttime (22).
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        comm,
    })
}

/// Every live (non-zombie) process of the machine. A `/proc` that cannot be read fails the
/// test: it must never read as "nothing left".
pub fn scan() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .unwrap_or_else(|err| panic!("cannot read /proc: {err}"))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// What became of a recorded process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// It runs (or sleeps, or is stopped).
    Running,
    /// It exited and waits for its parent to reap it.
    Zombie,
    /// No process with that pid and start time exists (reaped, or the pid was reused).
    Gone,
}

/// The state of the process `pid` that started at `start_time`.
pub fn proc_state(pid: i32, start_time: u64) -> ProcState {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Gone;
    };
    let Some(fields) = stat
        .rfind(')')
        .and_then(|close| stat.get(close + 2..))
        .map(|rest| rest.split_whitespace().collect::<Vec<&str>>())
    else {
        return ProcState::Gone;
    };
    // After the name: state (3), …, starttime (22).
    if fields.get(19).and_then(|f| f.parse().ok()) != Some(start_time) {
        return ProcState::Gone;
    }
    match fields.first() {
        Some(&"Z") | Some(&"X") => ProcState::Zombie,
        _ => ProcState::Running,
    }
}

/// The live processes whose ancestry leads to `root` (not `root` itself), or whose session
/// is one of `sessions`.
pub fn descendants(root: i32, sessions: &[i32]) -> Vec<Proc> {
    let all = scan();
    let parent: BTreeMap<i32, i32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    all.iter()
        .filter(|p| {
            if p.pid == root {
                return false;
            }
            if sessions.contains(&p.sid) {
                return true;
            }
            let mut at = p.ppid;
            let mut seen = BTreeSet::new();
            while at > 1 && seen.insert(at) {
                if at == root {
                    return true;
                }
                at = parent.get(&at).copied().unwrap_or(0);
            }
            false
        })
        .cloned()
        .collect()
}

/// Whether the process `pid` started at `start_time` still runs (a zombie has exited; a
/// reused pid is another process).
pub fn alive(pid: i32, start_time: u64) -> bool {
    proc_state(pid, start_time) == ProcState::Running
}

/// The runner's and the backend's identity from a turn's `process.json`:
/// ((runner pid, start), (backend pid, start), backend process group).
pub fn turn_processes(record: &Value) -> ((i32, u64), (i32, u64), i32) {
    let identity = |who: &str| {
        (
            record[who]["pid"].as_i64().unwrap() as i32,
            record[who]["startTime"].as_u64().unwrap(),
        )
    };
    (
        identity("runner"),
        identity("backend"),
        record["backend"]["pgid"].as_i64().unwrap() as i32,
    )
}

/// A real agent CLI the install script linked as `.cache/<link>`; a missing one fails the
/// test, naming the script (never a skip).
pub fn installed_cli(link: &str, name: &str) -> PathBuf {
    let bin = super::paths::repo_root().join(".cache").join(link);
    assert!(
        bin.is_file(),
        "the real {name} is missing (.cache/{link}): run scripts/install-test-deps.sh"
    );
    bin
}

/// Waits (bounded) until a process named `comm` runs among the processes of the turn whose
/// runner is `runner` (and of `sessions`); returns them.
pub fn wait_for_process(runner: i32, sessions: &[i32], comm: &str) -> Vec<Proc> {
    super::wait_until(
        TURN_TIMEOUT,
        super::Describe(|| {
            format!(
                "{comm} under the runner: {:#?}",
                descendants(runner, sessions)
            )
        }),
        || {
            let found = descendants(runner, sessions);
            found.iter().any(|p| p.comm == comm).then_some(found)
        },
    )
}

/// Waits until none of `pids` is alive, or fails after `limit`.
pub fn assert_all_gone(pids: &[(i32, u64)], limit: Duration) {
    wait_until(
        limit,
        Describe(|| {
            let left: Vec<_> = pids.iter().filter(|(p, s)| alive(*p, *s)).collect();
            format!("every process of the turn to be gone; alive: {left:?}")
        }),
        || (!pids.iter().any(|(p, s)| alive(*p, *s))).then_some(()),
    );
}
