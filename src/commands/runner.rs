//! `agent-host runner --turn-dir DIR` (hidden): the supervisor of one turn, started by the
//! server, detached. Its log, stdout and stderr all go to the turn's `runner.log`. Once the
//! turn has ended, the runner starts its completion notice ([`crate::notify::launch`]): the
//! one owner of the notice of every turn whose runner lives to its end.

use std::io;
use std::path::Path;

use crate::cli::RunnerArgs;

/// Runs the turn in `turn_dir` to its end ([`crate::runner::run`]), or as a warm spare the
/// turn it is given, if any ([`crate::runner::spare::run`]); then the turn's notice.
pub(super) fn run(args: RunnerArgs) -> io::Result<()> {
    let turn_dir = match (args.turn_dir, args.spare) {
        (Some(turn_dir), _) => {
            crate::runner::init_logging(&turn_dir);
            crate::runner::run(&turn_dir)?;
            turn_dir
        }
        (None, Some(spare)) => {
            crate::runner::init_logging(&spare);
            match crate::runner::spare::run(&spare)? {
                Some(turn_dir) => turn_dir,
                None => return Ok(()),
            }
        }
        (None, None) => return Err(io::Error::other("runner: --turn-dir or --spare is needed")),
    };
    launch_notice(&turn_dir);
    Ok(())
}

fn launch_notice(turn_dir: &Path) {
    if let Err(err) = crate::notify::launch(turn_dir) {
        tracing::warn!(%err, "cannot start the completion notice; recovery will");
    }
}
