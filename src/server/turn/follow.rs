//! Following a running turn: its records become notifications, on the loop, in order.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use uuid::Uuid;

use super::super::Event;
use super::super::state::{LoadedStatus, Server, now_ms};
use super::*;
use crate::events::{self, EventRecord};
use crate::protocol::*;
use crate::runner::{self};

impl Server {
    /// Starts forwarding a turn's records, from `from_seq`, to the loop. A stream that ends
    /// without `turnEnded` is reported as lost, once.
    pub(crate) fn follow(&self, thread: Uuid, turn: Uuid, dir: PathBuf, from_seq: u64) {
        let events = self.events.clone();
        tokio::spawn(async move {
            let error = match runner::client::subscribe(&dir, from_seq).await {
                Err(err) => err.to_string(),
                Ok(mut records) => loop {
                    match records.recv().await {
                        Some(Ok(record)) => {
                            let ended = record.is_turn_ended();
                            let event = Event::TurnRecord {
                                thread,
                                turn,
                                record,
                            };
                            if events.send(event).await.is_err() || ended {
                                return;
                            }
                        }
                        Some(Err(err)) => break err.to_string(),
                        None => {
                            break "the turn's event stream ended before the turn did".to_string();
                        }
                    }
                },
            };
            let _ = events
                .send(Event::TurnLost {
                    thread,
                    turn,
                    error,
                })
                .await;
        });
    }

    /// One record of a followed turn, in log order.
    pub(crate) async fn on_turn_record(&mut self, thread: Uuid, turn: Uuid, record: EventRecord) {
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let Some(active) = loaded.active.as_mut().filter(|a| a.turn_id == turn) else {
            // A record of a turn that has already ended here: exactly once means dropping it.
            return;
        };
        let thread_id = thread.to_string();
        let turn_id = turn.to_string();
        let at_ms = record.at_ms as i64;
        match record.event {
            events::Event::ApprovalResolved {
                request_id,
                decided_by: events::DecidedBy::Policy,
                ..
            } => {
                // The policy answered while our request was still out: it is settled.
                self.resolve_by_runner(thread, turn, &request_id).await;
            }
            events::Event::Steered {
                input,
                user_message_id,
                client_user_message_id,
            } => {
                let item = steered_item(input, user_message_id, client_user_message_id, at_ms);
                let completed = serde_json::to_value(&item).unwrap_or(Value::Null);
                let mut started = item;
                started.completed_at_ms = None;
                let started = serde_json::to_value(&started).unwrap_or(Value::Null);
                self.notify_thread(
                    thread,
                    "item/started",
                    &json!({"item": started, "threadId": thread_id, "turnId": turn_id, "startedAtMs": at_ms}),
                )
                .await;
                self.notify_thread(
                    thread,
                    "item/completed",
                    &json!({"item": completed, "threadId": thread_id, "turnId": turn_id, "contentTokenCount": null, "completedAtMs": at_ms}),
                )
                .await;
            }
            events::Event::RunnerStarted { .. }
            | events::Event::ApprovalResolved { .. }
            | events::Event::InterruptRequested { .. }
            | events::Event::Marker { .. }
            | events::Event::BackendExited { .. } => {}
            events::Event::BackendSession { session_id } => {
                let keep = loaded.record.continue_session
                    && loaded.ephemeral == super::super::state::Ephemeral::No;
                if keep {
                    match self
                        .store
                        .update_thread(thread, |r| r.backend_session_id = Some(session_id))
                    {
                        Ok(stored) => {
                            if let Some(loaded) = self.loaded.get_mut(&thread) {
                                loaded.record = stored;
                            }
                        }
                        Err(err) => tracing::warn!("cannot record the backend session: {err}"),
                    }
                }
            }
            events::Event::ItemStarted { item } => {
                let item = normalize_item(item, Some(at_ms), None);
                let started = item_time(&item, "startedAtMs").unwrap_or(at_ms);
                self.notify_thread(
                    thread,
                    "item/started",
                    &json!({"item": item, "threadId": thread_id, "turnId": turn_id, "startedAtMs": started}),
                )
                .await;
            }
            events::Event::AgentMessageDelta { item_id, delta } => {
                self.notify_thread(
                    thread,
                    "item/agentMessage/delta",
                    &AgentMessageDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                    },
                )
                .await;
            }
            events::Event::ReasoningSummaryDelta {
                item_id,
                delta,
                summary_index,
            } => {
                let new_part = active
                    .summary_parts
                    .insert((item_id.clone(), summary_index));
                if new_part {
                    self.notify_thread(
                        thread,
                        "item/reasoning/summaryPartAdded",
                        &ReasoningSummaryPartAddedNotification {
                            thread_id: thread_id.clone(),
                            turn_id: turn_id.clone(),
                            item_id: item_id.clone(),
                            summary_index: i64::from(summary_index),
                        },
                    )
                    .await;
                }
                self.notify_thread(
                    thread,
                    "item/reasoning/summaryTextDelta",
                    &ReasoningSummaryTextDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                        summary_index: i64::from(summary_index),
                    },
                )
                .await;
            }
            events::Event::ReasoningTextDelta {
                item_id,
                delta,
                content_index,
            } => {
                self.notify_thread(
                    thread,
                    "item/reasoning/textDelta",
                    &ReasoningTextDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                        content_index: i64::from(content_index),
                    },
                )
                .await;
            }
            events::Event::CommandOutputDelta { item_id, delta } => {
                self.notify_thread(
                    thread,
                    "item/commandExecution/outputDelta",
                    &CommandExecutionOutputDeltaNotification {
                        thread_id,
                        turn_id,
                        item_id,
                        delta,
                    },
                )
                .await;
            }
            events::Event::ItemCompleted { item } => {
                let item = normalize_item(item, None, Some(at_ms));
                if item.get("type").and_then(Value::as_str) == Some("agentMessage") {
                    active.final_message = Some(item.clone());
                }
                let completed = item_time(&item, "completedAtMs").unwrap_or(at_ms);
                self.notify_thread(
                    thread,
                    "item/completed",
                    &json!({"item": item, "threadId": thread_id, "turnId": turn_id, "contentTokenCount": null, "completedAtMs": completed}),
                )
                .await;
            }
            events::Event::TokenUsage {
                total,
                last,
                model_context_window,
                ..
            } => {
                self.notify_thread(
                    thread,
                    "thread/tokenUsage/updated",
                    &json!({"threadId": thread_id, "turnId": turn_id, "tokenUsage": {"total": total, "last": last, "modelContextWindow": model_context_window}}),
                )
                .await;
            }
            events::Event::Warning { message } => {
                self.notify_thread(
                    thread,
                    "warning",
                    &WarningNotification {
                        thread_id: Some(thread_id),
                        message,
                    },
                )
                .await;
            }
            events::Event::Error {
                message,
                will_retry,
            } => {
                if will_retry {
                    self.notify_thread(
                        thread,
                        "error",
                        &ErrorNotification {
                            error: turn_error(message, None),
                            will_retry,
                            thread_id,
                            turn_id,
                        },
                    )
                    .await;
                } else {
                    active.last_error = Some(message);
                }
            }
            events::Event::ApprovalRequested {
                request_id,
                kind,
                item_id,
                reason,
                command,
                cwd,
            } => {
                let dir = active.dir.clone();
                self.request_approval(
                    thread, turn, dir, request_id, kind, item_id, reason, command, cwd,
                )
                .await;
            }
            events::Event::TurnEnded {
                status,
                reason,
                error,
            } => {
                self.finish_turn(thread, turn, status, reason, error).await;
            }
        }
    }

    /// Follows the thread's last turn again if it has not ended (a server that restarted,
    /// or another server's background turn). A turn whose runner died is finished by the
    /// follower: its stream ends without `turnEnded`, and [`Server::on_turn_lost`] stops
    /// what is left of it.
    pub(crate) fn reattach(&mut self, thread: Uuid) {
        let Ok(ids) = self.store.list_turn_ids(thread) else {
            return;
        };
        let Some(&turn) = ids.last() else {
            return;
        };
        let dir = self.store.turn_dir(thread, turn);
        if !matches!(runner::client::read_exit_record(&dir), Ok(None)) {
            return;
        }
        let Some(record) = std::fs::read(dir.join(TURN_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<TurnRecord>(&bytes).ok())
        else {
            return;
        };
        let records = runner::log::read_all(&dir.join(runner::log::EVENTS_FILE))
            .map(|log| log.records)
            .unwrap_or_default();
        let next_seq = records.last().map_or(1, |r| r.seq + 1);
        // What the records so far say: the result so far, the last error, and the approval
        // requests still waiting for an answer (asked again once the client is told).
        let mut final_message = None;
        let mut last_error = None;
        let mut waiting: Vec<events::Event> = Vec::new();
        for entry in records {
            match entry.event {
                events::Event::ItemCompleted { item }
                    if item.get("type").and_then(Value::as_str) == Some("agentMessage") =>
                {
                    final_message = Some(normalize_item(item, None, Some(entry.at_ms as i64)));
                }
                events::Event::Error {
                    message,
                    will_retry: false,
                } => last_error = Some(message),
                asked @ events::Event::ApprovalRequested { .. } => waiting.push(asked),
                events::Event::ApprovalResolved { request_id, .. } => waiting.retain(|w| {
                    !matches!(w, events::Event::ApprovalRequested { request_id: r, .. } if *r == request_id)
                }),
                _ => {}
            }
        }
        if let Some(loaded) = self.loaded.get_mut(&thread) {
            loaded.active = Some(ActiveTurn {
                turn_id: turn,
                dir: dir.clone(),
                started_at_ms: record.started_at_ms,
                final_message,
                last_error,
                summary_parts: BTreeSet::new(),
                waiting_approvals: waiting,
            });
            loaded.status = LoadedStatus::Active {
                waiting_on_approval: false,
            };
        }
        self.follow(thread, turn, dir, next_seq);
    }

    /// Asks the client again for the approvals a re-attached turn is still waiting for.
    pub(crate) async fn ask_waiting_approvals(&mut self, thread: Uuid) {
        let Some(active) = self.loaded.get_mut(&thread).and_then(|l| l.active.as_mut()) else {
            return;
        };
        let (turn, dir) = (active.turn_id, active.dir.clone());
        for asked in std::mem::take(&mut active.waiting_approvals) {
            if let events::Event::ApprovalRequested {
                request_id,
                kind,
                item_id,
                reason,
                command,
                cwd,
            } = asked
            {
                self.request_approval(
                    thread,
                    turn,
                    dir.clone(),
                    request_id,
                    kind,
                    item_id,
                    reason,
                    command,
                    cwd,
                )
                .await;
            }
        }
    }

    /// The runner's stream failed: finish the turn from what the files say.
    pub(crate) async fn on_turn_lost(&mut self, thread: Uuid, turn: Uuid, error: String) {
        let Some(active) = self
            .loaded
            .get(&thread)
            .and_then(|l| l.active.as_ref())
            .filter(|a| a.turn_id == turn)
        else {
            return;
        };
        tracing::warn!("turn {turn}: {error}");
        let recorded = runner::client::read_exit_record(&active.dir).ok().flatten();
        match recorded {
            Some(exit) => {
                self.finish_turn(thread, turn, exit.status, exit.reason, exit.error)
                    .await;
            }
            None => {
                // The runner died without its exit record: stop whatever is left of the
                // turn (identity-checked) and record it as interrupted, so it can be resumed.
                let dir = active.dir.clone();
                let stopped =
                    tokio::task::spawn_blocking(move || crate::kill::stop(&dir, RECOVERY_TIMEOUT))
                        .await;
                let (status, reason, message) = match stopped {
                    Ok(Ok(Some(exit))) => (exit.status, exit.reason, exit.error),
                    Ok(Ok(None)) | Ok(Err(_)) | Err(_) => (
                        events::TurnStatus::Interrupted,
                        "runnerLost".to_string(),
                        Some(events::ErrorInfo::new(format!(
                            "the turn's runner was lost: {error}"
                        ))),
                    ),
                };
                self.finish_turn(thread, turn, status, reason, message)
                    .await;
            }
        }
    }

    /// Sends the end of a turn: status change, error, `turn/completed`. Once per turn.
    pub(super) async fn finish_turn(
        &mut self,
        thread: Uuid,
        turn: Uuid,
        status: events::TurnStatus,
        reason: String,
        error: Option<events::ErrorInfo>,
    ) {
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let Some(active) = loaded.active.take_if(|a| a.turn_id == turn) else {
            return;
        };
        self.resolve_turn_requests(thread, turn).await;
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let (turn_status, thread_status) = match status {
            events::TurnStatus::Completed => (TurnStatus::Completed, LoadedStatus::Idle),
            events::TurnStatus::Interrupted => (TurnStatus::Interrupted, LoadedStatus::Idle),
            events::TurnStatus::Failed => (TurnStatus::Failed, LoadedStatus::SystemError),
        };
        loaded.status = thread_status.clone();
        let thread_id = thread.to_string();
        let turn_error = match turn_status {
            TurnStatus::Failed => Some(match error {
                // The runner's words, with the backend's last stderr as the details.
                Some(info) => TurnError {
                    additional_details: info.additional_details,
                    ..turn_error(info.message, Some(CodexErrorInfo::Other))
                },
                None => turn_error(
                    active
                        .last_error
                        .clone()
                        .unwrap_or_else(|| format!("the turn failed ({reason})")),
                    Some(CodexErrorInfo::Other),
                ),
            }),
            TurnStatus::Completed | TurnStatus::Interrupted | TurnStatus::InProgress => None,
        };
        self.notify_thread(
            thread,
            "thread/status/changed",
            &ThreadStatusChangedNotification {
                thread_id: thread_id.clone(),
                status: super::super::convert::status(&thread_status),
            },
        )
        .await;
        if let Some(err) = &turn_error {
            self.notify_thread(
                thread,
                "error",
                &ErrorNotification {
                    error: err.clone(),
                    will_retry: false,
                    thread_id: thread_id.clone(),
                    turn_id: turn.to_string(),
                },
            )
            .await;
        }
        let completed_ms = now_ms();
        let (items, items_view) = match turn_status {
            TurnStatus::Completed => (
                active
                    .final_message
                    .iter()
                    .filter_map(|v| serde_json::from_value::<ThreadItem>(v.clone()).ok())
                    .collect(),
                ItemsView::Summary,
            ),
            TurnStatus::Interrupted | TurnStatus::Failed | TurnStatus::InProgress => {
                (Vec::new(), ItemsView::NotLoaded)
            }
        };
        let turn_view = Turn {
            id: turn.to_string(),
            root_turn_id: Some(turn.to_string()),
            items,
            items_view,
            status: turn_status,
            error: turn_error,
            started_at: Some(active.started_at_ms / 1000),
            completed_at: Some(completed_ms / 1000),
            duration_ms: Some(completed_ms - active.started_at_ms),
        };
        let completed = TurnCompletedNotification {
            thread_id,
            turn: turn_view,
        };
        self.notify_thread(thread, "turn/completed", &completed)
            .await;
        self.inject_fault_after_completion(thread, &completed).await;
    }

    /// The test hook of `docs/testing.md`, "Mutation checks": with `AGENT_HOST_FAULT` set, a
    /// deliberately broken server that the exactly-once checks of the tests must catch.
    pub(super) async fn inject_fault_after_completion(
        &self,
        thread: Uuid,
        completed: &TurnCompletedNotification,
    ) {
        match crate::fault::fault() {
            Some(crate::fault::Fault::SecondTurnCompleted) => {
                self.notify_thread(thread, "turn/completed", completed)
                    .await;
            }
            Some(crate::fault::Fault::ItemAfterTurnCompleted) => {
                let item = serde_json::json!({
                    "item": {"type": "agentMessage", "id": "fault-item", "text": "late",
                             "phase": null, "memoryCitation": null},
                    "threadId": completed.thread_id,
                    "turnId": completed.turn.id,
                    "completedAtMs": now_ms(),
                });
                self.notify_thread(thread, "item/completed", &item).await;
            }
            Some(crate::fault::Fault::InterruptNeverWins) | None => {}
        }
    }
}
