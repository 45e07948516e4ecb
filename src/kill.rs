//! `agent-host kill`: any process can stop any turn.
//!
//! The turn is named by its id (searched as `<state>/threads/*/turns/<id>`) or by its
//! directory. A live runner is asked over its control socket to interrupt (reason `kill`), the
//! same as `turn/interrupt`. When the runner is gone (or does not answer), the recorded
//! processes are killed directly, each only after its identity is verified, and `exit.json`
//! is written on the runner's behalf. Then the command waits (bounded) for `exit.json` and
//! prints it as one JSON line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::atomic_file;
use crate::events::{
    ErrorInfo, ExitRecord, InterruptReason, ProcessRecord, RECORD_VERSION, TurnStatus, now_ms,
};
use crate::process::identity;
use crate::process::tree::{self, Scope};
use crate::runner::client::{read_exit_record, request_blocking};
use crate::runner::control::ControlRequest;
use crate::runner::launch::read_process_record;
use crate::runner::{EXIT_FILE, log};
use crate::store::turn_dir;

/// Exit code: the turn has ended (the exit record was printed).
pub const EXIT_ENDED: u8 = 0;
/// Exit code: the turn did not end within the timeout.
pub const EXIT_TIMEOUT: u8 = 1;
/// Exit code: no such turn, or a bad argument.
pub const EXIT_NOT_FOUND: u8 = 2;
/// Exit code: anything else went wrong.
pub const EXIT_ERROR: u8 = 3;

/// How long the direct SIGKILL loop may take when the runner is gone.
const DIRECT_KILL_LIMIT: Duration = Duration::from_secs(5);

/// Runs the `kill` command.
pub fn main(state_dir: Option<PathBuf>, turn: &str, timeout: Duration) -> ExitCode {
    crate::logging::init();
    let turn_dir = match resolve_turn(state_dir.as_deref(), turn) {
        Ok(dir) => dir,
        Err(message) => {
            report(&format!("agent-host kill: {message}"));
            return ExitCode::from(EXIT_NOT_FOUND);
        }
    };
    match stop(&turn_dir, timeout) {
        Ok(Some(record)) => match serde_json::to_string(&record) {
            Ok(line) => {
                print_line(&line);
                ExitCode::from(EXIT_ENDED)
            }
            Err(err) => {
                report(&format!("agent-host kill: {err}"));
                ExitCode::from(EXIT_ERROR)
            }
        },
        Ok(None) => {
            report(&format!(
                "agent-host kill: the turn in {} did not end within {} ms",
                turn_dir.display(),
                timeout.as_millis()
            ));
            ExitCode::from(EXIT_TIMEOUT)
        }
        Err(err) => {
            report(&format!("agent-host kill: {}: {err}", turn_dir.display()));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

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
        return Ok(());
    }
    record_end_for_runner(
        turn_dir,
        TurnStatus::Interrupted,
        InterruptReason::Kill.as_str(),
        "the turn's runner was gone; agent-host kill stopped its processes",
        next_seq(turn_dir)?,
    )
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
        marker: turn_id_of(turn_dir),
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

/// Writes the exit record of a turn whose runner cannot (it is gone, or never started).
pub fn record_end_for_runner(
    turn_dir: &Path,
    status: TurnStatus,
    reason: &str,
    message: &str,
    last_seq: u64,
) -> io::Result<()> {
    let record = ExitRecord {
        v: RECORD_VERSION,
        status,
        reason: reason.to_owned(),
        exit_code: None,
        signal: None,
        error: Some(ErrorInfo::new(message)),
        last_seq,
        ended_at_ms: now_ms(),
    };
    atomic_file::write_json_atomic(&turn_dir.join(EXIT_FILE), &record)
}

/// Finds the turn directory for a turn id (of a stored or an ephemeral thread) or a
/// directory path.
pub fn resolve_turn(state_dir: Option<&Path>, turn: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(turn);
    if as_path.is_dir() {
        return Ok(as_path.to_path_buf());
    }
    let id = uuid::Uuid::parse_str(turn).map_err(|_| {
        format!(
            "{:?} is neither a turn directory nor a turn id (a UUID)",
            crate::jsonrpc::quote(turn)
        )
    })?;
    let state = match state_dir {
        Some(dir) => dir.to_path_buf(),
        None => default_state_dir().ok_or("no state directory: pass --state-dir")?,
    };
    match turn_dir::find(&state, id) {
        Ok(Some(found)) => Ok(found.path),
        Ok(None) => Err(format!("no turn {id} in {}", state.display())),
        Err(err) => Err(err.to_string()),
    }
}

/// `$XDG_STATE_HOME/agent-host`, else `~/.local/state/agent-host`.
pub(crate) fn default_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("agent-host"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(home).join(".local/state/agent-host"))
}

/// The command's one place that writes to stdout.
#[allow(clippy::print_stdout)]
fn print_line(line: &str) {
    // Output goes through a locked stdout; a closed stdout is not worth a panic.
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// The command's one place that writes to stderr.
fn report(message: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{message}");
}
