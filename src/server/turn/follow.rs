//! Following a running turn: its records become notifications, on the loop, in order.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use uuid::Uuid;

use super::super::Event;
use super::super::state::{LoadedStatus, Server, now_ms};
use super::translate::{Ended, Step, translate};
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

    /// The turn `turn` of `thread` if this server still follows it (it has not ended here).
    fn following(&mut self, thread: Uuid, turn: Uuid) -> Option<&mut ActiveTurn> {
        self.loaded
            .get_mut(&thread)
            .and_then(|loaded| loaded.active.as_mut())
            .filter(|active| active.turn_id == turn)
    }

    /// One record of a followed turn, in log order.
    pub(crate) async fn on_turn_record(&mut self, thread: Uuid, turn: Uuid, record: EventRecord) {
        let Some(active) = self.following(thread, turn) else {
            // A record of a turn that has already ended here: exactly once means dropping it.
            return;
        };
        match translate(active, thread, record) {
            Step::Notify(notifications) => {
                for notification in notifications {
                    self.notify_thread(thread, notification).await;
                }
            }
            Step::PolicyResolved { request_id } => {
                // The policy answered while our request was still out: it is settled.
                self.resolve_by_runner(thread, turn, &request_id).await;
            }
            Step::BackendSession { session_id } => self.keep_backend_session(thread, session_id),
            Step::AskApproval(asked) => {
                if let Some(dir) = self
                    .following(thread, turn)
                    .map(|active| active.dir.clone())
                {
                    self.ask_approval(thread, turn, dir, asked).await;
                }
            }
            Step::End(ended) => self.finish_turn(thread, turn, ended).await,
            Step::Nothing => {}
        }
    }

    /// Records the backend session a continued, stored thread resumes on its next turn.
    fn keep_backend_session(&mut self, thread: Uuid, session_id: String) {
        let Some(loaded) = self.loaded.get(&thread) else {
            return;
        };
        let keep = loaded.record.continue_session
            && loaded.ephemeral == super::super::state::Ephemeral::No;
        if !keep {
            return;
        }
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
                    final_message = protocol_item(item, None, Some(entry.at_ms as i64)).ok();
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
                review: record.review,
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
            self.ask_approval(thread, turn, dir.clone(), asked).await;
        }
    }

    /// Asks the client for the approval an `approvalRequested` record stands for.
    async fn ask_approval(&mut self, thread: Uuid, turn: Uuid, dir: PathBuf, asked: events::Event) {
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
                thread, turn, dir, request_id, kind, item_id, reason, command, cwd,
            )
            .await;
        }
    }

    /// The runner's stream failed: finish the turn from what the files say.
    pub(crate) async fn on_turn_lost(&mut self, thread: Uuid, turn: Uuid, error: String) {
        let Some(active) = self.following(thread, turn) else {
            return;
        };
        tracing::warn!("turn {turn}: {error}");
        let recorded = runner::client::read_exit_record(&active.dir).ok().flatten();
        match recorded {
            Some(exit) => {
                self.finish_turn(thread, turn, Ended::recorded(exit)).await;
            }
            None => {
                // The runner died without its exit record: stop whatever is left of the
                // turn (identity-checked) and record it as interrupted, so it can be resumed.
                let dir = active.dir.clone();
                let stopped = tokio::task::spawn_blocking(move || {
                    crate::turn_control::stop(&dir, RECOVERY_TIMEOUT)
                })
                .await;
                let ended = match stopped {
                    Ok(Ok(Some(exit))) => Ended::recorded(exit),
                    Ok(Ok(None)) | Ok(Err(_)) | Err(_) => Ended {
                        status: events::TurnStatus::Interrupted,
                        reason: events::EndReason::RunnerLost,
                        error: Some(events::ErrorInfo::new(format!(
                            "the turn's runner was lost: {error}"
                        ))),
                        at_ms: now_ms(),
                    },
                };
                self.finish_turn(thread, turn, ended).await;
            }
        }
    }

    /// Sends the end of a turn: status change, error, `turn/completed`. Once per turn: the
    /// active turn is taken from the thread first, so a second end finds nothing to end.
    pub(super) async fn finish_turn(&mut self, thread: Uuid, turn: Uuid, ended: Ended) {
        let Some(loaded) = self.loaded.get_mut(&thread) else {
            return;
        };
        let Some(active) = loaded.active.take_if(|a| a.turn_id == turn) else {
            return;
        };
        self.resolve_turn_requests(thread, turn).await;
        self.count_goal_turn(thread, turn, &active.dir, active.started_at_ms)
            .await;
        let end = turn_end(&active, ended);
        if let Some(review) = &active.review {
            let result = active.final_message.as_ref();
            let ended = (end.turn.status, active.dir.as_path());
            self.exit_review_mode(thread, turn, review, result, ended)
                .await;
        }
        if let Some(loaded) = self.loaded.get_mut(&thread) {
            loaded.status = end.thread_status.clone();
        }
        let thread_id = thread.to_string();
        self.notify_thread(
            thread,
            ServerNotification::ThreadStatusChanged(ThreadStatusChangedNotification {
                thread_id: thread_id.clone(),
                status: super::super::convert::status(&end.thread_status),
            }),
        )
        .await;
        if let Some(error) = &end.turn.error {
            let failed = ErrorNotification {
                error: error.clone(),
                will_retry: false,
                thread_id: thread_id.clone(),
                turn_id: turn.to_string(),
            };
            self.notify_thread(thread, ServerNotification::Error(failed))
                .await;
        }
        let completed = TurnCompletedNotification {
            thread_id,
            turn: end.turn,
        };
        self.notify_thread(thread, ServerNotification::TurnCompleted(completed.clone()))
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
                self.notify_thread(thread, ServerNotification::TurnCompleted(completed.clone()))
                    .await;
            }
            Some(crate::fault::Fault::ItemAfterTurnCompleted) => {
                let item =
                    serde_json::json!({"type": "agentMessage", "id": "fault-item", "text": "late"});
                if let Ok(item) = protocol_item(item, None, Some(now_ms())) {
                    let late = item_completed(
                        completed.thread_id.clone(),
                        completed.turn.id.clone(),
                        item,
                        now_ms(),
                    );
                    self.notify_thread(thread, late).await;
                }
            }
            Some(crate::fault::Fault::InterruptNeverWins) | None => {}
        }
    }
}

/// How a turn ends for its client: the thread's new status and the turn as
/// `turn/completed` shows it.
struct TurnEnd {
    thread_status: LoadedStatus,
    turn: Turn,
}

/// The end of `active` as the runner's records say it ended, at the time they say.
/// A failed turn's error is the runner's words (with the backend's last stderr as the
/// details), else the backend's last error; a completed turn shows its result.
fn turn_end(active: &ActiveTurn, ended: Ended) -> TurnEnd {
    let Ended {
        status,
        reason,
        error,
        at_ms: completed_ms,
    } = ended;
    let turn_status = super::super::convert::turn_status(status);
    let thread_status = match status {
        events::TurnStatus::Completed | events::TurnStatus::Interrupted => LoadedStatus::Idle,
        events::TurnStatus::Failed => LoadedStatus::SystemError,
    };
    let turn_error = match (turn_status, error) {
        (TurnStatus::Failed, Some(info)) => Some(TurnError {
            additional_details: info.additional_details,
            ..turn_error(info.message, Some(CodexErrorInfo::Other))
        }),
        (TurnStatus::Failed, None) => Some(turn_error(
            active
                .last_error
                .clone()
                .unwrap_or_else(|| format!("the turn failed ({reason})")),
            Some(CodexErrorInfo::Other),
        )),
        _ => None,
    };
    let (items, items_view) = match turn_status {
        TurnStatus::Completed => (
            active.final_message.iter().cloned().collect(),
            ItemsView::Summary,
        ),
        TurnStatus::Interrupted | TurnStatus::Failed | TurnStatus::InProgress => {
            (Vec::new(), ItemsView::NotLoaded)
        }
    };
    let turn = Turn {
        items,
        items_view,
        status: turn_status,
        error: turn_error,
        started_at: Some(active.started_at_ms / 1000),
        completed_at: Some(completed_ms / 1000),
        duration_ms: Some(completed_ms - active.started_at_ms),
        ..running_turn(active.turn_id)
    };
    TurnEnd {
        thread_status,
        turn,
    }
}
