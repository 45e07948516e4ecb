//! `agent-host turns`: which turns are running, from any process.
//!
//! Reads the state directory only (no server needed): every turn directory, of stored and of
//! ephemeral threads (`store::turn_dir`), and for each its records. A turn without `exit.json` is
//! `running` when its runner is alive (pid, start time and boot id all match), `starting`
//! when it has no process record yet, and `runnerLost` when its runner is gone (the next
//! server, `thread/resume`, or `agent-host kill` ends it). With `--all`, ended turns are
//! listed too, with their exit status. One JSON object per line, oldest turn first.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::process::identity;
use crate::runner::client::read_exit_record;
use crate::runner::launch::read_process_record;
use crate::store::turn_dir;

/// Runs the `turns` command.
pub fn main(state_dir: Option<PathBuf>, all: bool) -> ExitCode {
    let state = match state_dir.or_else(crate::kill::default_state_dir) {
        Some(dir) => dir,
        None => return crate::cli::fail("no state directory: pass --state-dir"),
    };
    let turns = match turn_dir::all(&state) {
        Ok(turns) => turns,
        Err(err) => return crate::cli::fail(&err.to_string()),
    };
    let mut out = io::stdout().lock();
    for turn in turns {
        if let Some(line) = describe(&turn.path, all)
            && writeln!(out, "{line}").is_err()
        {
            break; // stdout closed (e.g. `| head`)
        }
    }
    ExitCode::SUCCESS
}

/// One turn as a JSON object, or `None` if it has ended and `all` is off (or it is not a
/// turn directory).
fn describe(dir: &Path, all: bool) -> Option<Value> {
    let read = |name: &str| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(dir.join(name)).ok()?).ok()
    };
    let spec = read(turn_dir::SPEC_FILE)?;
    let started_at_ms = read(turn_dir::TURN_FILE).and_then(|t| t.get("startedAtMs").cloned());
    let exit = read_exit_record(dir).ok().flatten();
    if exit.is_some() && !all {
        return None;
    }
    let process = read_process_record(dir);
    let (state, reason) = match (&exit, &process) {
        (Some(exit), _) => (
            serde_json::to_value(exit.status).ok()?,
            Value::from(exit.reason.clone()),
        ),
        (None, None) => (json!("starting"), Value::Null),
        (None, Some(p)) if identity::is_alive(&p.runner) => (json!("running"), Value::Null),
        (None, Some(_)) => (json!("runnerLost"), Value::Null),
    };
    Some(json!({
        "threadId": spec.get("threadId"),
        "turnId": spec.get("turnId"),
        "state": state,
        "reason": reason,
        "mode": spec.get("mode"),
        "provider": spec.pointer("/provider/name"),
        "startedAtMs": started_at_ms,
        "endedAtMs": exit.as_ref().map(|e| e.ended_at_ms),
        "runnerPid": process.as_ref().map(|p| p.runner.pid),
        "backendPid": process.as_ref().and_then(|p| p.backend.as_ref()).map(|b| b.identity.pid),
        "dir": dir.display().to_string(),
    }))
}
