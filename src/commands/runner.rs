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

use crate::cli::{RunnerArgs, RunnerCommand};
use crate::runner::control::ControlRequest;

/// Runs the turn in `turn_dir` to its end ([`crate::runner::run`]), in an engine's job when
/// `--engine` names one ([`crate::runner::run_in_engine`]), or as a warm spare the turn it is
/// given, if any ([`crate::runner::spare::run`]); then the turn's notice.
pub(super) fn run(args: RunnerArgs) -> io::Result<()> {
    if let Some(RunnerCommand::Ctl { turn_dir, request }) = args.command {
        return ctl(&turn_dir, &request);
    }
    let turn_dir = match (args.turn_dir, args.spare) {
        (Some(turn_dir), _) => {
            crate::runner::init_logging(&turn_dir);
            if let Some(engine) = args.engine {
                crate::runner::run_in_engine(&turn_dir, &engine)?;
                // In an engine's job the notice runs here, in the job: a detached notifier
                // would be ended with the job.
                if let Err(err) = crate::notify::run(&turn_dir) {
                    tracing::warn!(%err, "the completion notice failed; recovery will retry");
                }
                return Ok(());
            }
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

/// `runner ctl`: one interrupt, steer or approval to the turn's runner on this node; prints
/// the runner's answer (its `ok`), and fails when the runner refused the request.
fn ctl(turn_dir: &Path, request: &str) -> io::Result<()> {
    let request: ControlRequest = serde_json::from_str(request)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, format!("--request: {err}")))?;
    if matches!(
        request,
        ControlRequest::Subscribe { .. } | ControlRequest::Attach {}
    ) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--request: only interrupt, steer and approve are sent by `runner ctl`",
        ));
    }
    let reply = crate::runner::client::ctl(turn_dir, &request)?;
    let line = serde_json::to_string(&reply).map_err(io::Error::other)?;
    super::print::line(&line);
    match reply.ok {
        true => Ok(()),
        false => {
            Err(io::Error::other(reply.error.unwrap_or_else(|| {
                "the runner refused the request".to_owned()
            })))
        }
    }
}
