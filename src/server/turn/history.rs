//! Ended turns read back from their directories: `thread/read`, fork, token usage.

use std::path::{Path, PathBuf};

use serde_json::Value;
use uuid::Uuid;

use super::super::state::Server;
use super::super::usage;
use super::*;
use crate::events::{self};
use crate::protocol::*;
use crate::runner::{self};

impl Server {
    /// The last token usage a stored thread's turns reported, as `thread/tokenUsage/updated`
    /// carries it (`total` is the thread's), with the turn that reported it.
    fn last_token_usage(&self, thread: Uuid) -> Option<(Uuid, ThreadTokenUsage)> {
        let ids = self.store.list_turn_ids(thread).ok()?;
        let dirs: Vec<PathBuf> = ids
            .iter()
            .rev()
            .map(|turn| self.store.turn_dir(thread, *turn))
            .collect();
        let (at, report) = usage::latest_report(dirs.iter().map(PathBuf::as_path))?;
        Some((
            ids[ids.len() - 1 - at],
            super::super::convert::token_usage(
                &report.total,
                &report.last,
                report.model_context_window,
            ),
        ))
    }

    /// Like Codex after a resume or a fork: the thread's last token usage, replayed as
    /// `thread/tokenUsage/updated` (nothing when no turn reported any).
    pub(crate) async fn replay_token_usage(&self, thread: Uuid) {
        if let Some((turn, token_usage)) = self.last_token_usage(thread) {
            let replayed = ThreadTokenUsageUpdatedNotification {
                thread_id: thread.to_string(),
                turn_id: turn.to_string(),
                token_usage,
            };
            self.notify_thread(
                thread,
                ServerNotification::ThreadTokenUsageUpdated(replayed),
            )
            .await;
        }
    }

    /// The turns of a thread with every item: its imported history (`store::imported`),
    /// then what its turn directories hold.
    pub(crate) fn read_turns(&self, thread: Uuid) -> Vec<Turn> {
        let ids = match self.store.list_turn_ids(thread) {
            Ok(ids) => ids,
            Err(err) => {
                tracing::warn!("cannot list the turns of {thread}: {err}");
                return Vec::new();
            }
        };
        let imported = match self.store.read_imported(thread) {
            Ok(history) => history
                .map(|history| super::super::import::imported_turns(&history))
                .unwrap_or_default(),
            Err(err) => {
                tracing::warn!("cannot read the imported history of {thread}: {err}");
                Vec::new()
            }
        };
        imported
            .into_iter()
            .chain(
                ids.into_iter()
                    .filter_map(|turn| read_turn(&self.store.turn_dir(thread, turn), turn)),
            )
            .collect()
    }
}

/// One stored turn with its items: the user message, then every item that completed.
pub(super) fn read_turn(dir: &Path, turn: Uuid) -> Option<Turn> {
    let record: TurnRecord =
        serde_json::from_slice(&std::fs::read(dir.join(TURN_FILE)).ok()?).ok()?;
    let mut items = opening_items(&record);
    let log = runner::log::read_all(&dir.join(runner::log::EVENTS_FILE)).ok();
    let mut started_at: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for entry in log.map(|l| l.records).unwrap_or_default() {
        let at_ms = entry.at_ms as i64;
        match entry.event {
            events::Event::ItemStarted { item } => {
                if let Some(id) = item.get("id").and_then(Value::as_str) {
                    let at = item
                        .get("startedAtMs")
                        .and_then(Value::as_i64)
                        .unwrap_or(at_ms);
                    started_at.insert(id.to_owned(), at);
                }
            }
            events::Event::ItemCompleted { item } => {
                let started = item
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(|id| started_at.get(id).copied())
                    .unwrap_or(at_ms);
                match protocol_item(item, Some(started), Some(at_ms)) {
                    Ok(item) => items.push(item),
                    Err(err) => tracing::warn!("turn {turn}: {err}"),
                }
            }
            events::Event::Steered {
                input,
                user_message_id,
                client_user_message_id,
            } => items.push(steered_item(
                input,
                user_message_id,
                client_user_message_id,
                at_ms,
            )),
            _ => {}
        }
    }
    // The end's time is the exit record's: the `turnEnded` record carries the same, but a
    // turn ended on a dead runner's behalf has none.
    let exit = runner::client::read_exit_record(dir).ok().flatten();
    let ended_at_ms = exit.as_ref().map(|exit| exit.ended_at_ms as i64);
    let (status, error) = match exit {
        Some(exit) => (
            super::super::convert::turn_status(exit.status),
            exit.error.map(|e| TurnError {
                additional_details: e.additional_details,
                ..turn_error(e.message, Some(CodexErrorInfo::Other))
            }),
        ),
        None => (TurnStatus::InProgress, None),
    };
    if let (Some(review), Some(ended_ms)) = (&record.review, ended_at_ms) {
        let result = items
            .iter()
            .rev()
            .find(|item| matches!(item.kind, ThreadItemKind::AgentMessage { .. }));
        items.push(super::super::review::exited_item(
            review, status, result, ended_ms,
        ));
    }
    Some(Turn {
        id: turn.to_string(),
        root_turn_id: Some(turn.to_string()),
        items,
        items_view: ItemsView::Full,
        status,
        error,
        started_at: Some(record.started_at_ms / 1000),
        completed_at: ended_at_ms.map(|ms| ms / 1000),
        duration_ms: ended_at_ms.map(|ms| ms - record.started_at_ms),
    })
}
