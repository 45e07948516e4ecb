//! What any process may do to a turn from its files alone: stop it, end it on its runner's
//! behalf, and tell what state it is in. `agent-host kill` and `agent-host turns` are built
//! on it, and so are the server's recovery and its handling of a lost runner.
//!
//! Stopping: a live runner is asked over its control socket to interrupt (reason `kill`),
//! the same as `turn/interrupt`. When the runner is gone (or does not answer), the recorded
//! processes are killed directly, each only after its identity is verified, and `exit.json`
//! is written on the runner's behalf. Then [`stop`] waits (bounded) for `exit.json`.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde::Serialize;
use serde_json::Value;

use crate::atomic_file;
use crate::events::{EndReason, ErrorInfo, ExitRecord, InterruptReason, ProcessRecord, TurnStatus};
use crate::launcher::request_blocking;
use crate::notify;
use crate::process::identity;
use crate::process::tree::{self, Scope};
use crate::runner::client::read_exit_record;
use crate::runner::control::ControlRequest;
use crate::runner::launch::read_process_record;
use crate::runner::{EXIT_FILE, log};
use crate::store::turn_dir;

/// How long the direct SIGKILL loop may take when the runner is gone.
const DIRECT_KILL_LIMIT: Duration = Duration::from_secs(5);

/// How long an engine may take to end a job it was asked to cancel (its own SIGTERM grace,
/// `KillWait` in Slurm, included).
const ENGINE_STOP_LIMIT: Duration = Duration::from_secs(60);

/// Stops the turn in `turn_dir` and waits up to `timeout` for its exit record.
pub fn stop(turn_dir: &Path, timeout: Duration) -> io::Result<Option<ExitRecord>> {
    if let Some(record) = read_exit_record(turn_dir)? {
        return Ok(Some(record));
    }
    let deadline = Instant::now() + timeout;
    let asked = request_blocking(
        turn_dir,
        &ControlRequest::Interrupt {
            reason: InterruptReason::Kill,
        },
    );
    if let Err(err) = asked {
        // The turn may have ended between our first look and the request; if not, its
        // runner is gone or does not answer.
        tracing::info!(%err, "the runner did not take the request; killing directly");
        return stop_unresponsive(turn_dir).map(Some);
    }
    loop {
        if let Some(record) = read_exit_record(turn_dir)? {
            return Ok(Some(record));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Stops a turn whose runner did not answer a request (hung or stopped): kills it and the
/// turn's processes directly, as [`stop`] does for a runner that is gone; returns the exit
/// record.
pub fn stop_unresponsive(turn_dir: &Path) -> io::Result<ExitRecord> {
    if let Some(record) = read_exit_record(turn_dir)? {
        return Ok(record);
    }
    // A runner an engine placed: the engine stops its job and tells how it ended.
    if let Some(stopped) = crate::launcher::stop_job(turn_dir, ENGINE_STOP_LIMIT) {
        stopped?;
        return read_exit_record(turn_dir)?
            .ok_or_else(|| io::Error::other("no exit record after the engine stopped the job"));
    }
    let process = read_process_record(turn_dir).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "the turn has no process record (its runner never started)",
        )
    })?;
    kill_directly(turn_dir, &process)?;
    read_exit_record(turn_dir)?
        .ok_or_else(|| io::Error::other("no exit record after the direct kill"))
}

/// Kills the runner (if it still is the recorded one) and every proven process of the
/// turn, then writes the exit record the runner could not write.
fn kill_directly(turn_dir: &Path, process: &ProcessRecord) -> io::Result<()> {
    identity::signal(&process.runner, Signal::KILL)?;
    let left = tree::kill_all(
        &recorded_scope(turn_dir, process),
        None,
        Instant::now() + DIRECT_KILL_LIMIT,
    )?;
    // The runner cannot remove its control socket any more; a short-path socket lives in a
    // shared directory, where it would stay forever.
    if !identity::is_alive(&process.runner) {
        remove_recorded_socket(turn_dir, process);
    }
    if !left.is_empty() {
        return Err(io::Error::other(format!(
            "processes survived SIGKILL: {:?}",
            left.iter().map(|stat| stat.pid).collect::<Vec<_>>()
        )));
    }
    if read_exit_record(turn_dir)?.is_some() {
        // The runner wrote its end but may have died before it started the notice.
        launch_notice(turn_dir);
        return Ok(());
    }
    record_end(
        turn_dir,
        EndReason::Interrupted(InterruptReason::Kill),
        "the turn's runner was gone; agent-host kill stopped its processes",
        next_seq(turn_dir)?,
    )
    .map(drop)
}

/// The processes of a turn as its records prove them, for a turn whose runner is gone
/// (`docs/contracts.md`, "Which processes are the turn's"): the processes seen at the last
/// heartbeat and the backend, by identity; the backend's group and session only while the
/// backend itself still is the recorded process; every process carrying the turn's marker;
/// nothing that started before the runner.
pub fn recorded_scope(turn_dir: &Path, process: &ProcessRecord) -> Scope {
    let mut scope = Scope {
        verified_roots: process.descendants.clone(),
        not_before: Some(process.runner.start_time),
        // A backend started as a warm spare carries the spare's id, not the turn's.
        marker: match &process.spare {
            Some(spare) => Some(spare.id.clone()),
            None => turn_id_of(turn_dir),
        },
        ..Scope::default()
    };
    if let Some(backend) = &process.backend {
        scope.verified_roots.push(backend.identity.clone());
        if backend.pgid == backend.identity.pid {
            scope.leaders.push(backend.identity.clone());
        }
    }
    scope
}

/// The turn id of a turn directory: its spec's, else the directory's name when it is one.
fn turn_id_of(turn_dir: &Path) -> Option<String> {
    if let Ok(spec) = crate::spec::read(turn_dir) {
        return Some(spec.turn_id);
    }
    let name = turn_dir.file_name()?.to_str()?;
    uuid::Uuid::parse_str(name).ok().map(|id| id.to_string())
}

/// Removes the control socket a dead runner left, only if the recorded path is a socket that
/// the runner of this turn made: the turn directory's own, or the turn's name in the private
/// socket directory. Anything else the record names is left alone.
pub fn remove_recorded_socket(turn_dir: &Path, process: &ProcessRecord) {
    if process.socket.is_empty() {
        return;
    }
    let recorded = Path::new(&process.socket);
    let ours = turn_id_of(turn_dir)
        .is_some_and(|turn_id| crate::runner::is_socket_path_of(turn_dir, &turn_id, recorded));
    if !ours {
        tracing::warn!(
            "the recorded socket {} is not this turn's; it is left alone",
            recorded.display()
        );
        return;
    }
    let _ = std::fs::remove_file(recorded);
}

/// One past the last record of the turn's event log (1 for an empty or missing log): the
/// `lastSeq` of an exit record written on the runner's behalf.
pub fn next_seq(turn_dir: &Path) -> io::Result<u64> {
    Ok(log::read_all(&turn_dir.join(log::EVENTS_FILE))?
        .records
        .last()
        .map_or(1, |record| record.seq + 1))
}

/// Writes the exit record of a turn whose runner cannot (it is gone, or never started), then
/// starts the turn's completion notice, if it owes one: the runner cannot do that either.
/// Returns the turn's exit record: several processes may end one dead runner's turn at once
/// (servers following it, recovery, `agent-host kill`), and the record is created, never
/// replaced, so the first one written is the turn's end, with its time, and whoever comes
/// second takes that one.
pub fn record_end(
    turn_dir: &Path,
    reason: EndReason,
    message: &str,
    last_seq: u64,
) -> io::Result<ExitRecord> {
    let record = ExitRecord::ended(reason, Some(ErrorInfo::new(message)), last_seq);
    let record = if atomic_file::create_json_atomic(&turn_dir.join(EXIT_FILE), &record)? {
        record
    } else {
        read_exit_record(turn_dir)?
            .ok_or_else(|| io::Error::other("exit.json exists but cannot be read"))?
    };
    launch_notice(turn_dir);
    Ok(record)
}

/// Starts the notifier of an ended turn whose runner is gone ([`notify::launch`]); a failure
/// is logged: recovery at the next start tries again.
fn launch_notice(turn_dir: &Path) {
    if let Err(err) = notify::launch(turn_dir) {
        tracing::warn!(
            "cannot start the completion notice of {}: {err}",
            turn_dir.display()
        );
    }
}

/// A process a turn's records name, and whether it still runs (pid, start time and boot id
/// all match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecordedProcess {
    pub pid: i32,
    pub alive: bool,
}

/// The runner and the backend of a turn, as `process.json` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TurnProcesses {
    pub runner: Option<RecordedProcess>,
    pub backend: Option<RecordedProcess>,
}

/// The recorded processes of the turn in `dir` (none before its runner wrote its record).
pub fn processes(dir: &Path) -> TurnProcesses {
    let Some(record) = read_process_record(dir) else {
        return TurnProcesses::default();
    };
    let recorded = |identity: &identity::Identity| RecordedProcess {
        pid: identity.pid,
        alive: identity::is_alive(identity),
    };
    TurnProcesses {
        runner: Some(recorded(&record.runner)),
        backend: record.backend.as_ref().map(|b| recorded(&b.identity)),
    }
}

/// Which turns [`summary`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Only the turns that have not ended.
    NotEnded,
    /// Ended turns too.
    All,
}

/// A turn as `agent-host turns` lists it, read from its records alone (no server needed).
/// The members read from `spec.json` and `turn.json` are copied as they are written there.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSummary {
    pub thread_id: Option<Value>,
    pub turn_id: Option<Value>,
    pub state: TurnState,
    /// The exit record's reason, for an ended turn.
    pub reason: Option<EndReason>,
    pub mode: Option<Value>,
    pub provider: Option<Value>,
    pub started_at_ms: Option<Value>,
    pub ended_at_ms: Option<u64>,
    pub runner_pid: Option<i32>,
    pub backend_pid: Option<i32>,
    pub dir: String,
}

/// Where a turn is, from its records: ended (with the exit record's status), or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TurnState {
    NotEnded(LiveState),
    Ended(TurnStatus),
}

/// The state of a turn without an exit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LiveState {
    /// No process record yet: the runner may still be starting.
    Starting,
    /// Its runner is alive (pid, start time and boot id all match).
    Running,
    /// Its runner is gone: `agent-host kill`, `thread/resume` or the next server start ends it.
    RunnerLost,
}

/// The turn in `dir`, or `None` when it is not a turn directory (no readable `spec.json`) or
/// it has ended and `listing` holds only turns that have not.
pub fn summary(dir: &Path, listing: Listing) -> Option<TurnSummary> {
    let read = |name: &str| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(dir.join(name)).ok()?).ok()
    };
    let spec = read(turn_dir::SPEC_FILE)?;
    let started_at_ms = read(turn_dir::TURN_FILE).and_then(|t| t.get("startedAtMs").cloned());
    let exit = read_exit_record(dir).ok().flatten();
    if exit.is_some() && listing == Listing::NotEnded {
        return None;
    }
    let process = read_process_record(dir);
    let state = match (&exit, &process) {
        (Some(exit), _) => TurnState::Ended(exit.status),
        (None, None) => TurnState::NotEnded(LiveState::Starting),
        (None, Some(p)) if identity::is_alive(&p.runner) => TurnState::NotEnded(LiveState::Running),
        (None, Some(_)) => TurnState::NotEnded(LiveState::RunnerLost),
    };
    Some(TurnSummary {
        thread_id: spec.get("threadId").cloned(),
        turn_id: spec.get("turnId").cloned(),
        state,
        reason: exit.as_ref().map(|e| e.reason),
        mode: spec.get("mode").cloned(),
        provider: spec.pointer("/provider/name").cloned(),
        started_at_ms,
        ended_at_ms: exit.as_ref().map(|e| e.ended_at_ms),
        runner_pid: process.as_ref().map(|p| p.runner.pid),
        backend_pid: process
            .as_ref()
            .and_then(|p| p.backend.as_ref())
            .map(|b| b.identity.pid),
        dir: dir.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_end_on_a_dead_runners_behalf_takes_the_first_and_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = record_end(
            dir.path(),
            EndReason::Interrupted(InterruptReason::Kill),
            "agent-host kill",
            3,
        )
        .unwrap();
        // A second process that also found no exit record before the first wrote it.
        let second = record_end(dir.path(), EndReason::RunnerLost, "a server", 4).unwrap();
        assert_eq!(second, first, "the second end is the first one's");
        assert_eq!(read_exit_record(dir.path()).unwrap(), Some(first));
    }
}
