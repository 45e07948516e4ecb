//! `agent-host turns`: which turns are running, from any process.
//!
//! Reads the state directory only (no server needed): every turn directory, of stored and of
//! ephemeral threads (`store::turn_dir`), each described by [`turn_control::summary`]. One
//! JSON object per line, oldest turn first; with `--all`, ended turns too.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::store::{self, turn_dir};
use crate::turn_control::{self, Listing};

/// Why `agent-host turns` could not list the turns.
#[derive(Debug, thiserror::Error)]
pub enum TurnsError {
    #[error("no state directory: pass --state-dir")]
    NoStateDir,
    #[error(transparent)]
    List(io::Error),
}

/// Lists the turns of `state_dir` (else the default state directory) on stdout.
pub(super) fn run(state_dir: Option<PathBuf>, listing: Listing) -> Result<(), TurnsError> {
    let state = state_dir
        .or_else(store::default_state_dir)
        .ok_or(TurnsError::NoStateDir)?;
    let turns = turn_dir::all(&state).map_err(TurnsError::List)?;
    let mut out = io::stdout().lock();
    for turn in turns {
        let Some(summary) = turn_control::summary(&turn.path, listing) else {
            continue;
        };
        let Ok(line) = serde_json::to_string(&summary) else {
            continue;
        };
        if print_line(&mut out, &line).is_err() {
            break; // stdout closed (e.g. `| head`)
        }
    }
    Ok(())
}

/// The command's one place that writes to stdout: its result, one line per turn.
#[allow(clippy::print_stdout)] // printing the result is this command's job
fn print_line(out: &mut io::StdoutLock<'_>, line: &str) -> io::Result<()> {
    writeln!(out, "{line}")
}
