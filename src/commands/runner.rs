//! `agent-host runner --turn-dir DIR` (hidden): the supervisor of one turn, started by the
//! server, detached. Its log, stdout and stderr all go to the turn's `runner.log`. Once the
//! turn has ended, the runner starts its completion notice ([`crate::notify::launch`]): the
//! one owner of the notice of every turn whose runner lives to its end.
//!
//! With `--engine NAME` the runner is the main process of an engine's job (a Slurm batch
//! job): nothing detaches, so the notice runs in the runner's own process before it exits
//! (the engine ends whatever the job leaves behind).

use std::io;
use std::path::Path;

/// Runs the turn in `turn_dir` to its end ([`crate::runner::run`]), then its notice.
pub(super) fn run(turn_dir: &Path, engine: Option<String>) -> io::Result<()> {
    crate::runner::init_logging(turn_dir);
    match engine {
        None => {
            crate::runner::run(turn_dir)?;
            if let Err(err) = crate::notify::launch(turn_dir) {
                tracing::warn!(%err, "cannot start the completion notice; recovery will");
            }
        }
        Some(engine) => {
            crate::runner::run_in_engine(turn_dir, &engine)?;
            if let Err(err) = crate::notify::run(turn_dir) {
                tracing::warn!(%err, "the completion notice failed; recovery will retry");
            }
        }
    }
    Ok(())
}
