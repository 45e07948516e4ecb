//! Deleting a stored thread from its files alone, by any process: every turn of it that has
//! not ended is stopped the way `agent-host kill` stops one (the runner's interrupt, else a
//! direct, identity-checked kill of the turn's whole process tree; [`turn_control::stop`]),
//! then its record, index row and directory are removed ([`Store::remove_thread`]).
//!
//! [`delete_thread_when_announced`] (`agent-host rm`) also waits, bounded, until every turn's
//! completion notice has ended, and refuses the thread otherwise: a turn is never deleted
//! under its notifier.
//!
//! `thread/delete` ends the thread's live turn on its own loop first, so that its client
//! gets that turn's one `turn/completed`; this function then finds nothing left running of
//! its own, but still stops a turn another server or a background runner runs.

use std::path::Path;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::notify::{self, NoticeState};
use crate::runner::client::read_exit_record;
use crate::runner::launch::read_process_record;
use crate::store::{Store, StoreError, turn_dir};
use crate::turn_control;

/// What a deletion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The turns that were still running and were stopped, oldest first.
    pub stopped: Vec<Uuid>,
}

/// Why a thread was not deleted. Nothing is removed unless every turn of it has ended.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// No stored thread has that id (never stored, ephemeral, or already deleted).
    #[error("no stored thread {0}")]
    NotFound(Uuid),
    /// A turn of the thread could not be stopped; the thread is left as it was.
    #[error("turn {turn} of the thread could not be stopped: {reason}")]
    TurnNotStopped { turn: Uuid, reason: String },
    /// A turn's completion notice did not end in time; the thread is left as it was.
    #[error(
        "the completion notice of turn {turn} has not finished (it is {state}); try again once it has"
    )]
    NoticeNotFinished { turn: Uuid, state: &'static str },
    #[error(transparent)]
    Store(StoreError),
}

/// Whether a deletion waits for the completion notices of the thread's turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notices {
    /// Deletes whatever state they are in (`thread/delete`).
    Ignore,
    /// Waits until each has ended, refusing the thread past the deadline.
    WaitUntil(Instant),
}

impl From<StoreError> for DeleteError {
    fn from(err: StoreError) -> DeleteError {
        match err {
            StoreError::NotFound(id) => DeleteError::NotFound(id),
            other => DeleteError::Store(other),
        }
    }
}

/// Deletes the stored thread `thread`: stops its turns that have not ended (each waited for
/// up to `stop_within`), then removes everything of it. Holds the thread's lock throughout,
/// so no server starts a turn of it meanwhile; one that waits for the lock finds the thread
/// gone.
pub fn delete_thread(
    store: &Store,
    thread: Uuid,
    stop_within: Duration,
) -> Result<Deleted, DeleteError> {
    delete(store, thread, stop_within, Notices::Ignore)
}

/// As [`delete_thread`], and, once every turn has ended, waits until each turn's completion
/// notice has ended too (starting the notifier of one nobody works on, as recovery does);
/// refuses the thread with [`DeleteError::NoticeNotFinished`] when one has not ended within
/// `within`. No notice can start after that: every turn has ended, and no turn starts while
/// the thread's lock is held.
pub fn delete_thread_when_announced(
    store: &Store,
    thread: Uuid,
    within: Duration,
) -> Result<Deleted, DeleteError> {
    let deadline = Instant::now() + within;
    delete(store, thread, within, Notices::WaitUntil(deadline))
}

fn delete(
    store: &Store,
    thread: Uuid,
    stop_within: Duration,
    notices: Notices,
) -> Result<Deleted, DeleteError> {
    let lock = store.lock_thread(thread)?;
    if store.read_thread(thread)?.is_none() {
        return Err(DeleteError::NotFound(thread));
    }
    let mut stopped = Vec::new();
    for turn in store.list_turn_ids(thread)? {
        let dir = store.turn_dir(thread, turn);
        if stop_turn(&dir, turn, stop_within)? {
            stopped.push(turn);
        }
    }
    if let Notices::WaitUntil(deadline) = notices {
        for turn in store.list_turn_ids(thread)? {
            wait_for_notice(&store.turn_dir(thread, turn), turn, deadline)?;
        }
    }
    store.remove_thread(thread, &lock)?;
    drop(lock);
    store.empty_trash();
    Ok(Deleted { stopped })
}

/// Stops one turn of a thread being deleted, if it has not ended; whether it had to.
fn stop_turn(dir: &Path, turn: Uuid, within: Duration) -> Result<bool, DeleteError> {
    let not_stopped = |reason: String| DeleteError::TurnNotStopped { turn, reason };
    match read_exit_record(dir) {
        Ok(Some(_)) => return Ok(false),
        Ok(None) => {}
        Err(err) => return Err(not_stopped(err.to_string())),
    }
    // Under the thread's lock nobody is launching a runner: a turn without a spec or a
    // process record never ran, and nothing of it can be running.
    if !dir.join(turn_dir::SPEC_FILE).exists() || read_process_record(dir).is_none() {
        return Ok(false);
    }
    match turn_control::stop(dir, within) {
        Ok(Some(_exit)) => Ok(true),
        Ok(None) => Err(not_stopped(format!(
            "it did not end within {} s",
            within.as_secs()
        ))),
        Err(err) => Err(not_stopped(err.to_string())),
    }
}

/// How often a wait for a notice looks again at `notify.json`.
const NOTICE_POLL: Duration = Duration::from_millis(20);
/// How often it starts the notifier of a notice nobody works on (the runner that would have
/// started it died, or the notifier did).
const NOTICE_RESCUE_EVERY: u32 = 50;

/// Waits until the notice of an ended turn has ended; a turn that owes none, or that never
/// ran (no exit record), has nothing to wait for.
fn wait_for_notice(dir: &Path, turn: Uuid, deadline: Instant) -> Result<(), DeleteError> {
    let unreadable = |err: std::io::Error| DeleteError::TurnNotStopped {
        turn,
        reason: format!("its completion notice cannot be read: {err}"),
    };
    if !dir.join(turn_dir::EXIT_FILE).exists() {
        return Ok(());
    }
    let mut look = 0u32;
    loop {
        let state = match notify::record::read(dir).map_err(unreadable)? {
            None => return Ok(()),
            Some(record) => record.state,
        };
        if matches!(state, NoticeState::Ended { .. }) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DeleteError::NoticeNotFinished {
                turn,
                state: state.name(),
            });
        }
        if look.is_multiple_of(NOTICE_RESCUE_EVERY) {
            notify::launch_if_abandoned(dir).map_err(unreadable)?;
        }
        look = look.wrapping_add(1);
        std::thread::sleep(NOTICE_POLL);
    }
}
