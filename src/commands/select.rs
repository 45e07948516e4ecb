//! What the operator commands (`ps`, `logs`, `threads`, `gc`, `rm`) share: the state directory they
//! read, the thread or turn an id on the command line names, and their errors.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use uuid::Uuid;

use crate::store::turn_dir::{self, NameError, Named, TurnDir};
use crate::store::{self};

/// Exit code: nothing to act on (no state directory, no such thread or turn), or a bad
/// configuration.
pub const EXIT_NOT_FOUND: u8 = 2;

/// Why an operator command stopped; `main` prints it as one line.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no state directory: pass --state-dir or set AGENT_HOST_HOME")]
    NoStateDir,
    #[error("no state directory at {}: nothing has run there (pass --state-dir or set AGENT_HOST_HOME)", .0.display())]
    MissingStateDir(PathBuf),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("thread {0} has no turns")]
    NoTurns(Uuid),
    #[error("the turn's runner is gone and left no exit record (agent-host kill, or the next server start, ends it): {}", .0.display())]
    RunnerLost(PathBuf),
    #[error("{0}")]
    Read(io::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{turn} is a turn, not a thread (its thread is {thread})")]
    NotAThread { turn: Uuid, thread: Uuid },
    /// `rm` left threads as they were: why, and the exit code (1 refused, else not found).
    #[error("{message}")]
    NotDeleted { message: String, code: u8 },
}

impl OpsError {
    /// [`EXIT_NOT_FOUND`] when there is nothing to act on, else 1.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            OpsError::NoStateDir
            | OpsError::MissingStateDir(_)
            | OpsError::Name(_)
            | OpsError::NoTurns(_)
            | OpsError::NotAThread { .. }
            | OpsError::Config(_) => ExitCode::from(EXIT_NOT_FOUND),
            OpsError::NotDeleted { code, .. } => ExitCode::from(*code),
            OpsError::RunnerLost(_) | OpsError::Read(_) => ExitCode::FAILURE,
        }
    }
}

/// The state directory to read: the one given (flag or `AGENT_HOST_HOME`), else the default
/// one; it must exist (these commands never make one).
pub fn state_dir(explicit: Option<PathBuf>) -> Result<PathBuf, OpsError> {
    let dir = explicit
        .or_else(store::default_state_dir)
        .ok_or(OpsError::NoStateDir)?;
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(OpsError::MissingStateDir(dir))
    }
}

/// The turn `text` names: a turn, or a thread's latest turn.
pub fn turn(state_dir: &std::path::Path, text: &str) -> Result<TurnDir, OpsError> {
    match turn_dir::resolve(state_dir, text).map_err(OpsError::Read)?? {
        Named::Turn(turn) => Ok(turn),
        Named::Thread { thread_id, turns } => {
            turns.last().cloned().ok_or(OpsError::NoTurns(thread_id))
        }
    }
}

/// "3s", "5m", "2h", "4d": how long ago `then_ms` was, for a table.
pub fn age(now_ms: u64, then_ms: u64) -> String {
    let seconds = now_ms.saturating_sub(then_ms) / 1000;
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}
