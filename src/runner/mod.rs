//! The per-turn runner: a detached supervisor of one backend process tree.

use std::path::Path;
use std::process::ExitCode;

/// Entry point of the hidden `runner` command.
pub fn main(_turn_dir: &Path) -> ExitCode {
    ExitCode::FAILURE
}
