//! Recovery at start: every turn that was running when some server stopped is found (of
//! stored and of ephemeral threads alike), and the ones whose runner died are ended.
//!
//! A turn without `exit.json` whose runner is alive (pid, start time and boot id all match)
//! is left alone: it is still running, and `thread/resume` follows it again. A turn whose
//! runner is gone is stopped the way `agent-host kill` stops it (identity-checked leftovers
//! killed) and recorded `interrupted`, so it can be resumed; nothing already recorded is
//! touched. An ended turn whose completion notice was never started (its runner died first)
//! gets its notifier. A turn an engine placed is asked of its engine instead
//! (`launcher::Recovery`: the Kubernetes Jobs are listed by label once per pass). This runs
//! beside the loop (it only reads, and writes exit records of dead turns), so a large state
//! directory does not delay `initialize`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::EndReason;
use crate::launcher;
use crate::notify;
use crate::process::identity;
use crate::runner;
use crate::store::turn_dir;

/// A turn without a process record younger than this may still be launching.
const LAUNCH_WINDOW: Duration = Duration::from_secs(60);

/// How long recovery waits for one dead turn's leftovers to go.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Ends every turn under `state_dir` whose runner died before writing its exit record, and
/// starts the completion notice of every ended turn that owes one nobody works on (its
/// runner died before it started it: `crate::notify`); returns the turn directories it
/// ended.
pub fn recover(state_dir: &Path) -> Vec<PathBuf> {
    runner::spare::sweep_dead(state_dir);
    let turns = match turn_dir::all(state_dir) {
        Ok(turns) => turns,
        Err(err) => {
            tracing::warn!("recovery cannot list the turns: {err}");
            return Vec::new();
        }
    };
    let mut engines = launcher::Recovery::from_env();
    let mut ended = Vec::new();
    for dir in turns.into_iter().map(|turn| turn.path) {
        if dir.join(turn_dir::EXIT_FILE).exists() {
            if let Err(err) = notify::launch_if_abandoned(&dir) {
                tracing::warn!("recovery of the notice of {}: {err}", dir.display());
            }
        } else if dir.join(turn_dir::SPEC_FILE).exists() && recover_turn(&dir, &mut engines) {
            ended.push(dir);
        }
    }
    ended
}

/// Ends one turn if its runner is gone; `true` if it did. `engines` answers for a turn an
/// engine placed (and keeps what it learnt for the next turn of the same pass).
pub(crate) fn recover_turn(dir: &Path, engines: &mut launcher::Recovery) -> bool {
    tracing::debug!("recovery looks at {}", dir.display());
    // A turn an engine placed: the engine says whether its job lives, and how it ended.
    if let Some(ended) = engines.recover(dir) {
        return ended;
    }
    match runner::launch::read_process_record(dir) {
        Some(process) if identity::is_alive(&process.runner) => false,
        Some(_) => match crate::turn_control::stop(dir, STOP_TIMEOUT) {
            Ok(Some(_)) => true,
            Ok(None) => false,
            Err(err) => {
                tracing::warn!("recovery of {}: {err}", dir.display());
                false
            }
        },
        None => {
            // No process record: the runner never started a backend, or is starting right
            // now for another server. Only a turn older than any launch can be ended.
            let age = std::fs::metadata(dir.join(turn_dir::SPEC_FILE))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .unwrap_or_default();
            if age < LAUNCH_WINDOW {
                return false;
            }
            crate::turn_control::record_end(
                dir,
                EndReason::RunnerLost,
                "the turn's runner never started; the turn was ended at recovery",
                crate::turn_control::next_seq(dir).unwrap_or(1),
            )
            .is_ok()
        }
    }
}
