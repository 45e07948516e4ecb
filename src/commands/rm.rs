//! `agent-host rm THREAD...`: deletes stored threads from the state directory, each as
//! `thread/delete` deletes one ([`crate::thread_delete`]): what still runs of it is stopped
//! first (as `agent-host kill` stops a turn), then its record, index row and directory go.
//!
//! Two things make it refuse a thread and leave it as it was:
//! - a live server has the thread loaded, and so may write it at any moment
//!   ([`crate::store::NotLoaded`]); `--force` deletes it all the same, and that server then
//!   finds it gone, as after another server's `thread/delete`;
//! - a turn's completion notice has not ended within the timeout (it is waited for first:
//!   a turn is never deleted under its notifier).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use super::print;
use super::select::{self, EXIT_NOT_FOUND, OpsError};
use crate::cli::RmOptions;
use crate::store::turn_dir::{self, Named};
use crate::store::{Store, StoreError};
use crate::thread_delete::{DeleteError, delete_thread_when_announced};

/// Whether a thread that a live server has loaded is deleted all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Force {
    Yes,
    No,
}

/// What became of one thread (`--json` prints an array of these, in the order given).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    thread_id: String,
    deleted: bool,
    /// The turns that were still running and were stopped.
    stopped_turns: Vec<String>,
    /// Why the thread was not deleted.
    error: Option<String>,
}

/// Why one thread was not deleted, and the exit code that says so.
struct Refusal {
    message: String,
    code: u8,
}

/// Deletes the threads that `names` name (whole ids or unique prefixes). Every name is
/// resolved before anything is deleted; then each thread is deleted or refused on its own.
pub(super) fn run(options: RmOptions) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let force = if options.force { Force::Yes } else { Force::No };
    let timeout = Duration::from_millis(options.timeout_ms);
    let json = options.state.json;
    let state = select::state_dir(options.state.state_dir)?;
    let threads = resolve_threads(&state, &options.threads)?;
    let store = Store::open(&state).map_err(|err| OpsError::Read(std::io::Error::other(err)))?;
    let mut outcomes = Vec::new();
    let mut refusals = Vec::new();
    for thread in threads {
        let outcome = match remove(&store, thread, force, timeout) {
            Ok(stopped) => Outcome {
                thread_id: thread.to_string(),
                deleted: true,
                stopped_turns: stopped.iter().map(Uuid::to_string).collect(),
                error: None,
            },
            Err(refusal) => {
                let outcome = Outcome {
                    thread_id: thread.to_string(),
                    deleted: false,
                    stopped_turns: Vec::new(),
                    error: Some(refusal.message.clone()),
                };
                refusals.push(refusal);
                outcome
            }
        };
        if !json && outcome.deleted {
            print::line(&deleted_line(&outcome));
        }
        outcomes.push(outcome);
    }
    if json {
        print::json(&outcomes);
    }
    match refusals.iter().map(|r| r.code).min() {
        None => Ok(ExitCode::SUCCESS),
        Some(code) => {
            let message = refusals
                .into_iter()
                .map(|r| r.message)
                .collect::<Vec<_>>()
                .join("; ");
            Err(OpsError::NotDeleted { message, code })
        }
    }
}

/// The stored or ephemeral thread each name stands for, each once, in the order given.
fn resolve_threads(state: &Path, names: &[String]) -> Result<Vec<Uuid>, OpsError> {
    let mut threads = Vec::new();
    for name in names {
        let thread = match turn_dir::resolve(state, name).map_err(OpsError::Read)?? {
            Named::Thread { thread_id, .. } => thread_id,
            Named::Turn(turn) => {
                return Err(OpsError::NotAThread {
                    turn: turn.turn_id,
                    thread: turn.thread_id,
                });
            }
        };
        if !threads.contains(&thread) {
            threads.push(thread);
        }
    }
    Ok(threads)
}

/// Deletes one thread unless a live server has it loaded (without `--force`); the turns it
/// stopped.
fn remove(
    store: &Store,
    thread: Uuid,
    force: Force,
    timeout: Duration,
) -> Result<Vec<Uuid>, Refusal> {
    // Held until the thread is gone: no server can load it meanwhile.
    let _not_loaded = match force {
        Force::Yes => None,
        Force::No => match store.claim_not_loaded(thread) {
            Ok(Some(claim)) => Some(claim),
            Ok(None) => {
                return Err(Refusal {
                    message: format!(
                        "thread {thread} is loaded by a running agent-host server, which may \
                         write it at any moment: stop that server, or pass --force"
                    ),
                    code: 1,
                });
            }
            Err(err) => return Err(store_refusal(thread, err)),
        },
    };
    match delete_thread_when_announced(store, thread, timeout) {
        Ok(deleted) => Ok(deleted.stopped),
        Err(DeleteError::NotFound(_)) => Err(not_stored(thread)),
        Err(DeleteError::Store(err)) => Err(store_refusal(thread, err)),
        Err(err @ (DeleteError::TurnNotStopped { .. } | DeleteError::NoticeNotFinished { .. })) => {
            Err(Refusal {
                message: format!("thread {thread} was not deleted: {err}"),
                code: 1,
            })
        }
    }
}

fn store_refusal(thread: Uuid, err: StoreError) -> Refusal {
    match err {
        StoreError::NotFound(_) => not_stored(thread),
        other => Refusal {
            message: format!("thread {thread} was not deleted: {other}"),
            code: 1,
        },
    }
}

/// An ephemeral thread (its turns are found, it has no record), or one deleted meanwhile.
fn not_stored(thread: Uuid) -> Refusal {
    Refusal {
        message: format!("no stored thread {thread} (an ephemeral thread is never stored)"),
        code: EXIT_NOT_FOUND,
    }
}

fn deleted_line(outcome: &Outcome) -> String {
    match outcome.stopped_turns.as_slice() {
        [] => format!("deleted thread {}", outcome.thread_id),
        turns => format!(
            "deleted thread {} (stopped turn {})",
            outcome.thread_id,
            turns.join(", ")
        ),
    }
}
