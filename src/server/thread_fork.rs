//! What a fork takes from its source, as Codex 0.169.0 forks.
//!
//! The fork gets the source's history whether or not the response shows it (`excludeTurns`
//! only trims the response): every ended turn is copied, into the fork's own turn
//! directories (an ephemeral fork's are in the ephemeral area). A turn still running is
//! copied cut off where the fork was made: its user message, ended `interrupted`, as Codex
//! records it. The goal and the memory mode are the source's own and are not copied.

use std::io;
use std::path::Path;

use uuid::Uuid;

use super::state::{Ephemeral, Server};
use super::turn::TURN_FILE;
use crate::atomic_file;
use crate::events::{EndReason, ExitRecord, InterruptReason};
use crate::jsonrpc::{ErrorObject, quote};
use crate::runner;
use crate::store;
use crate::store::turn_dir::{EVENTS_FILE, EXIT_FILE};

impl Server {
    /// The `lastTurnId` of a fork of `source`: a turn of its history (stored or imported),
    /// else Codex's `turn not found` before anything is made.
    pub(crate) fn fork_last_turn(
        &self,
        source: Uuid,
        raw: Option<&str>,
    ) -> Result<Option<Uuid>, ErrorObject> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let not_found = || ErrorObject::request_failed(format!("turn not found: {}", quote(raw)));
        let turn = store::parse_turn_id(raw).map_err(|_| not_found())?;
        let stored = self.store.list_turn_ids(source).unwrap_or_default();
        let imported = match self.store.read_imported(source) {
            Ok(Some(history)) => history.turns.iter().any(|t| t.id == turn),
            Ok(None) | Err(_) => false,
        };
        if imported || stored.contains(&turn) {
            Ok(Some(turn))
        } else {
            Err(not_found())
        }
    }

    /// Copies the turns of `source` (up to and including `last_turn`, when given) into the
    /// new thread `target`.
    pub(crate) fn copy_history(
        &mut self,
        source: Uuid,
        target: Uuid,
        ephemeral: Ephemeral,
        last_turn: Option<Uuid>,
    ) {
        let Ok(ids) = self.store.list_turn_ids(source) else {
            return;
        };
        let (mut copied, reached) = match ephemeral {
            Ephemeral::No => self.copy_imported(source, target, last_turn),
            // An ephemeral thread has no directory to hold an imported history.
            Ephemeral::Yes => (0, false),
        };
        let ids = if reached { Vec::new() } else { ids };
        for turn in ids {
            let from = self.store.turn_dir(source, turn);
            if from.join(TURN_FILE).exists() {
                match self.copy_turn(&from, target, turn, ephemeral) {
                    Ok(()) => copied += 1,
                    Err(err) => tracing::warn!("fork: cannot copy turn {turn}: {err}"),
                }
            }
            if Some(turn) == last_turn {
                break;
            }
        }
        if copied > 0 && ephemeral == Ephemeral::No {
            match self.store.update_thread(target, |r| r.has_turns = true) {
                Ok(stored) => {
                    if let Some(loaded) = self.loaded.get_mut(&target) {
                        loaded.record = stored;
                    }
                }
                Err(err) => tracing::warn!("fork: cannot update thread {target}: {err}"),
            }
        }
    }

    /// Copies the imported history of `source`, if any, to the fork `target`, up to
    /// `last_turn` when that is an imported turn; returns how many turns were copied and
    /// whether `last_turn` was among them (then no turn directory is copied).
    fn copy_imported(&self, source: Uuid, target: Uuid, last_turn: Option<Uuid>) -> (usize, bool) {
        let mut history = match self.store.read_imported(source) {
            Ok(Some(history)) => history,
            Ok(None) => return (0, false),
            Err(err) => {
                tracing::warn!("fork: cannot read the imported history of {source}: {err}");
                return (0, false);
            }
        };
        let at = last_turn.and_then(|last| history.turns.iter().position(|t| t.id == last));
        if let Some(at) = at {
            history.turns.truncate(at + 1);
        }
        match self.store.write_imported(target, &history) {
            Ok(()) => (history.turns.len(), at.is_some()),
            Err(err) => {
                tracing::warn!("fork: cannot copy the imported history of {source}: {err}");
                (0, at.is_some())
            }
        }
    }

    fn copy_turn(
        &self,
        from: &Path,
        target: Uuid,
        turn: Uuid,
        ephemeral: Ephemeral,
    ) -> io::Result<()> {
        let made = match ephemeral {
            Ephemeral::No => self.store.create_turn_dir(target, turn),
            Ephemeral::Yes => self.store.create_ephemeral_turn_dir(target, turn),
        };
        let to = made.map_err(|err| io::Error::other(err.to_string()))?;
        if from.join(EXIT_FILE).exists() {
            for name in [TURN_FILE, EVENTS_FILE, EXIT_FILE] {
                std::fs::copy(from.join(name), to.join(name))?;
            }
        } else {
            std::fs::copy(from.join(TURN_FILE), to.join(TURN_FILE))?;
            record_cut_off(&to)?;
        }
        atomic_file::sync_dir(&to)
    }
}

/// The records of a copied turn that was still running: it ended `interrupted` now, with
/// nothing but its user message (no error: the source turn goes on).
fn record_cut_off(to: &Path) -> io::Result<()> {
    let exit = ExitRecord::ended(EndReason::Interrupted(InterruptReason::Kill), None, 1);
    let mut line = serde_json::to_string(&exit.turn_ended_record()).map_err(io::Error::other)?;
    line.push('\n');
    atomic_file::write_atomic(&to.join(EVENTS_FILE), line.as_bytes())?;
    atomic_file::write_json_atomic(&to.join(runner::EXIT_FILE), &exit)
}
