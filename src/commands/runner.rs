//! `agent-host runner --turn-dir DIR` (hidden): the supervisor of one turn, started by the
//! server, detached. Its log, stdout and stderr all go to the turn's `runner.log`.

use std::io;
use std::path::Path;

/// Runs the turn in `turn_dir` to its end ([`crate::runner::run`]).
pub(super) fn run(turn_dir: &Path) -> io::Result<()> {
    crate::runner::init_logging(turn_dir);
    crate::runner::run(turn_dir)
}
