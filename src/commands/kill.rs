//! `agent-host kill`: any process can stop any turn.
//!
//! The turn is named by its id (searched under the state directory, of stored and ephemeral
//! threads alike) or by its directory. [`turn_control::stop`] stops it; the command waits
//! (bounded) for the exit record and prints it as one JSON line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::store::{self, turn_dir};
use crate::turn_control;

/// Exit code: the turn has ended (the exit record was printed).
pub const EXIT_ENDED: u8 = 0;
/// Exit code: the turn did not end within the timeout.
pub const EXIT_TIMEOUT: u8 = 1;
/// Exit code: no such turn, or a bad argument.
pub const EXIT_NOT_FOUND: u8 = 2;
/// Exit code: anything else went wrong.
pub const EXIT_ERROR: u8 = 3;

/// Why `agent-host kill` did not print an exit record.
#[derive(Debug, thiserror::Error)]
pub enum KillError {
    /// No such turn, or an argument that names none.
    #[error("{0}")]
    NotFound(String),
    #[error("the turn in {} did not end within {} ms", dir.display(), timeout.as_millis())]
    Timeout { dir: PathBuf, timeout: Duration },
    #[error("{}: {source}", dir.display())]
    Stop { dir: PathBuf, source: io::Error },
    #[error(transparent)]
    Print(serde_json::Error),
}

impl KillError {
    /// The exit code documented in the command's help.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            KillError::NotFound(_) => EXIT_NOT_FOUND,
            KillError::Timeout { .. } => EXIT_TIMEOUT,
            KillError::Stop { .. } | KillError::Print(_) => EXIT_ERROR,
        })
    }
}

/// Stops the turn named by `turn`, waits up to `timeout` for its exit record and prints it.
pub(super) fn run(
    state_dir: Option<PathBuf>,
    turn: &str,
    timeout: Duration,
) -> Result<ExitCode, KillError> {
    crate::logging::init();
    let dir = resolve_turn(state_dir.as_deref(), turn).map_err(KillError::NotFound)?;
    let record = match turn_control::stop(&dir, timeout) {
        Ok(Some(record)) => record,
        Ok(None) => return Err(KillError::Timeout { dir, timeout }),
        Err(source) => return Err(KillError::Stop { dir, source }),
    };
    let line = serde_json::to_string(&record).map_err(KillError::Print)?;
    print_line(&line);
    Ok(ExitCode::from(EXIT_ENDED))
}

/// Finds the turn directory for a turn id (of a stored or an ephemeral thread) or a
/// directory path.
fn resolve_turn(state_dir: Option<&Path>, turn: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(turn);
    // A directory is taken only if it is a turn's (it holds the spec every turn starts with,
    // or a runner's process record): `kill ..` or a mistyped path must not act on, or write
    // into, any directory.
    let is_turn_dir = [turn_dir::SPEC_FILE, turn_dir::PROCESS_FILE]
        .iter()
        .any(|name| as_path.join(name).is_file());
    if is_turn_dir {
        return Ok(as_path.to_path_buf());
    }
    let id = uuid::Uuid::parse_str(turn).map_err(|_| {
        let what = if as_path.is_dir() {
            format!(
                "is a directory without a {} or {}: not a turn's",
                turn_dir::SPEC_FILE,
                turn_dir::PROCESS_FILE
            )
        } else {
            "is neither a turn directory nor a turn id (a UUID)".to_owned()
        };
        format!("{:?} {what}", crate::jsonrpc::quote(turn))
    })?;
    let state = match state_dir {
        Some(dir) => dir.to_path_buf(),
        None => store::default_state_dir().ok_or("no state directory: pass --state-dir")?,
    };
    match turn_dir::find(&state, id) {
        Ok(Some(found)) => Ok(found.path),
        Ok(None) => Err(format!("no turn {id} in {}", state.display())),
        Err(err) => Err(err.to_string()),
    }
}

/// The command's one place that writes to stdout: the exit record.
#[allow(clippy::print_stdout)] // printing the result is this command's job
fn print_line(line: &str) {
    // A closed stdout is not worth a panic: the turn has been stopped all the same.
    let _ = writeln!(io::stdout().lock(), "{line}");
}
