//! The `turn/*` methods, and the following of running turns.
//!
//! A turn is a directory (see `docs/contracts.md`): the server writes `turn.json` (the user's
//! input) and `spec.json`, launches a runner for it, and follows the runner's event log.
//! Every record that arrives goes through [`Server::on_turn_record`] on the loop, in order.
//! `turn/completed` is sent only for the `turnEnded` record, which the runner writes after
//! the backend has exited, been reaped and its output drained; it is sent once, because the
//! active turn is removed from the thread when it is sent.

mod control;
#[cfg(test)]
mod end_properties;
mod follow;
mod history;
mod input;
mod plan;
mod start;
mod translate;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use uuid::Uuid;

use super::review::ReviewRecord;
use super::state::{Server, Subscription};
use crate::events;
use crate::protocol::*;

/// The file name of [`TurnRecord`] in a turn directory.
pub(crate) use crate::store::turn_dir::TURN_FILE;
pub(crate) use control::interrupt_or_kill;
pub(crate) use plan::spec_provider;

/// How long recovery waits for the leftovers of a turn whose runner died.
const RECOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server's own record of a turn: what the user sent. Written once, at `turn/start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TurnRecord {
    pub v: u32,
    pub turn_id: String,
    pub user_message_id: String,
    pub client_user_message_id: Option<String>,
    pub input: Vec<UserInput>,
    pub started_at_ms: i64,
    /// Present when the turn is a review (`review/start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewRecord>,
}

/// A turn this server is following.
#[derive(Debug)]
pub(crate) struct ActiveTurn {
    pub turn_id: Uuid,
    pub dir: PathBuf,
    pub started_at_ms: i64,
    /// The last completed agent message: the turn's result.
    pub final_message: Option<ThreadItem>,
    /// The last non-retried error, reported if the turn fails.
    pub last_error: Option<String>,
    /// Reasoning summary parts already announced, per item.
    pub summary_parts: BTreeSet<(String, u32)>,
    /// Approval requests found waiting when the turn was re-attached, to ask again.
    pub waiting_approvals: Vec<events::Event>,
    /// Present when the turn is a review: it ends with its `exitedReviewMode` item.
    pub review: Option<ReviewRecord>,
}

impl Server {
    /// Sends a thread's notification to this connection if it is subscribed.
    pub(crate) async fn notify_thread(&self, thread: Uuid, notification: ServerNotification) {
        let subscribed = self
            .loaded
            .get(&thread)
            .is_none_or(|l| l.subscription == Subscription::Subscribed);
        if subscribed {
            self.notify(notification).await;
        }
    }
}

/// The items a turn opens with: a review's `enteredReviewMode`, then the user's message.
pub(super) fn opening_items(record: &TurnRecord) -> Vec<ThreadItem> {
    let entered = record
        .review
        .as_ref()
        .map(|review| super::review::entered_item(review, record.started_at_ms));
    entered
        .into_iter()
        .chain([user_message_item(record)])
        .collect()
}

pub(super) fn user_message_item(record: &TurnRecord) -> ThreadItem {
    ThreadItem {
        kind: ThreadItemKind::UserMessage {
            id: record.user_message_id.clone(),
            client_id: record.client_user_message_id.clone(),
            content: record.input.clone(),
        },
        started_at_ms: Some(record.started_at_ms),
        completed_at_ms: Some(record.started_at_ms),
    }
}

/// The userMessage item of input steered into a running turn (a `steered` record).
pub(super) fn steered_item(
    input: Value,
    user_message_id: String,
    client_user_message_id: Option<String>,
    at_ms: i64,
) -> ThreadItem {
    let content = serde_json::from_value::<Vec<UserInput>>(input).unwrap_or_else(|err| {
        tracing::warn!("a steered input does not read as user input: {err}");
        Vec::new()
    });
    ThreadItem {
        kind: ThreadItemKind::UserMessage {
            id: user_message_id,
            client_id: client_user_message_id,
            content,
        },
        started_at_ms: Some(at_ms),
        completed_at_ms: Some(at_ms),
    }
}

pub(super) fn turn_error(message: String, info: Option<CodexErrorInfo>) -> TurnError {
    TurnError {
        message,
        codex_error_info: info,
        additional_details: None,
        misalignment: None,
    }
}

/// A backend's item as a protocol item, with every member Codex sends (`null` where it does
/// not apply) and the times it does not give filled in (the start defaults to the
/// completion). `Err` says why it does not read as one: such an item never reaches a client.
pub(super) fn protocol_item(
    item: Value,
    started_at_ms: Option<i64>,
    completed_at_ms: Option<i64>,
) -> Result<ThreadItem, String> {
    let mut typed: ThreadItem = serde_json::from_value(item)
        .map_err(|err| format!("a backend item does not read as a protocol item: {err}"))?;
    if typed.started_at_ms.is_none() {
        typed.started_at_ms = started_at_ms.or(completed_at_ms);
    }
    if typed.completed_at_ms.is_none() {
        typed.completed_at_ms = completed_at_ms;
    }
    Ok(typed)
}

/// `item/started` of `item`, which has no completion time yet (like Codex), at the item's
/// own start time, else `at_ms`.
pub(super) fn item_started(
    thread_id: String,
    turn_id: String,
    mut item: ThreadItem,
    at_ms: i64,
) -> ServerNotification {
    item.completed_at_ms = None;
    let started_at_ms = item.started_at_ms.unwrap_or(at_ms);
    ServerNotification::ItemStarted(ItemStartedNotification {
        item,
        thread_id,
        turn_id,
        started_at_ms,
    })
}

/// `item/completed` of `item`, at the item's own completion time, else `at_ms`.
pub(super) fn item_completed(
    thread_id: String,
    turn_id: String,
    item: ThreadItem,
    at_ms: i64,
) -> ServerNotification {
    let completed_at_ms = item.completed_at_ms.unwrap_or(at_ms);
    ServerNotification::ItemCompleted(ItemCompletedNotification {
        item,
        thread_id,
        turn_id,
        content_token_count: None,
        completed_at_ms,
    })
}

/// A turn as `turn/start` and `turn/started` show it: running, no items yet.
pub(super) fn running_turn(turn: Uuid) -> Turn {
    Turn {
        id: turn.to_string(),
        root_turn_id: Some(turn.to_string()),
        items: Vec::new(),
        items_view: ItemsView::NotLoaded,
        status: TurnStatus::InProgress,
        error: None,
        started_at: None,
        completed_at: None,
        duration_ms: None,
    }
}
