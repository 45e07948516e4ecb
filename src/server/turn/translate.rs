//! From a followed turn's canonical records to what its client is told: one exhaustive
//! `match` over [`events::Event`], pure (no IO), so that every record kind has one answer
//! and a new kind does not compile until it has one.

use super::*;
use crate::events::{self, EventRecord};

/// What one record of a turn asks of the loop.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// Send these notifications of the thread, in order.
    Notify(Vec<ServerNotification>),
    /// The thread's policy answered an approval the client was asked: it is settled.
    PolicyResolved { request_id: String },
    /// The backend announced the session a continued thread resumes next.
    BackendSession { session_id: String },
    /// Ask the client for an approval.
    AskApproval(events::Event),
    /// The turn ended: send its end, once.
    End(Ended),
    /// Nothing the client sees.
    Nothing,
}

/// How a turn ended, as its `turnEnded` record or its exit record says; `at_ms` is the
/// record's time, so the client that saw the end live and one that reads the turn later
/// (`completedAt`, `durationMs`) are told the same.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ended {
    pub status: events::TurnStatus,
    pub reason: events::EndReason,
    pub error: Option<events::ErrorInfo>,
    pub at_ms: i64,
}

impl Ended {
    /// The end an exit record gives.
    pub fn recorded(exit: events::ExitRecord) -> Ended {
        Ended {
            status: exit.status,
            reason: exit.reason,
            error: exit.error,
            at_ms: exit.ended_at_ms as i64,
        }
    }
}

/// The step one record of `active` (the turn `turn` of `thread`) leads to; keeps in
/// `active` what later records and the end need (the result so far, the last error, the
/// reasoning parts already announced).
pub(super) fn translate(active: &mut ActiveTurn, thread: Uuid, record: EventRecord) -> Step {
    let ids = Ids {
        thread_id: thread.to_string(),
        turn_id: active.turn_id.to_string(),
    };
    let at_ms = record.at_ms as i64;
    match record.event {
        events::Event::ApprovalResolved {
            request_id,
            decided_by: events::DecidedBy::Policy,
            ..
        } => Step::PolicyResolved { request_id },
        events::Event::RunnerStarted { .. }
        | events::Event::ApprovalResolved { .. }
        | events::Event::InterruptRequested { .. }
        | events::Event::ControlAcknowledged { .. }
        | events::Event::Marker { .. }
        | events::Event::BackendExited { .. } => Step::Nothing,
        events::Event::BackendSession { session_id } => Step::BackendSession { session_id },
        events::Event::Steered {
            input,
            user_message_id,
            client_user_message_id,
        } => ids.steered(steered_item(
            input,
            user_message_id,
            client_user_message_id,
            at_ms,
        )),
        events::Event::ItemStarted { item } => ids.item_started(item, at_ms),
        events::Event::ItemCompleted { item } => item_completed_step(active, ids, item, at_ms),
        events::Event::AgentMessageDelta { item_id, delta } => {
            ids.agent_message_delta(item_id, delta)
        }
        events::Event::ReasoningSummaryDelta {
            item_id,
            delta,
            summary_index,
        } => reasoning_summary(active, ids, item_id, delta, summary_index),
        events::Event::ReasoningTextDelta {
            item_id,
            delta,
            content_index,
        } => ids.reasoning_text_delta(item_id, delta, content_index),
        events::Event::CommandOutputDelta { item_id, delta } => {
            ids.command_output_delta(item_id, delta)
        }
        events::Event::TokenUsage {
            total,
            last,
            model_context_window,
            ..
        } => ids.token_usage(&total, &last, model_context_window),
        events::Event::Warning { message } => ids.warning(message),
        events::Event::TurnDiff { diff } => ids.turn_diff(diff),
        events::Event::Error {
            message,
            will_retry: true,
        } => ids.retry_error(message),
        events::Event::Error {
            message,
            will_retry: false,
        } => {
            // Reported with the turn's end, if it fails.
            active.last_error = Some(message);
            Step::Nothing
        }
        asked @ events::Event::ApprovalRequested { .. } => Step::AskApproval(asked),
        events::Event::TurnEnded {
            status,
            reason,
            error,
        } => Step::End(Ended {
            status,
            reason,
            error,
            at_ms,
        }),
    }
}

/// An item that completed; a completed agent message is the turn's result so far.
fn item_completed_step(active: &mut ActiveTurn, ids: Ids, item: Value, at_ms: i64) -> Step {
    match protocol_item(item, None, Some(at_ms)) {
        Ok(item) => {
            if matches!(item.kind, ThreadItemKind::AgentMessage { .. }) {
                active.final_message = Some(item.clone());
            }
            Step::Notify(vec![item_completed(
                ids.thread_id,
                ids.turn_id,
                item,
                at_ms,
            )])
        }
        Err(why) => ids.warning(why),
    }
}

/// The ids every notification of a turn carries, and the notifications built from them.
struct Ids {
    thread_id: String,
    turn_id: String,
}

impl Ids {
    fn warning(self, message: String) -> Step {
        Step::Notify(vec![ServerNotification::Warning(WarningNotification {
            thread_id: Some(self.thread_id),
            message,
        })])
    }

    fn turn_diff(self, diff: String) -> Step {
        Step::Notify(vec![ServerNotification::TurnDiffUpdated(
            TurnDiffUpdatedNotification {
                thread_id: self.thread_id,
                turn_id: self.turn_id,
                diff,
            },
        )])
    }

    fn steered(self, item: ThreadItem) -> Step {
        let at_ms = item.started_at_ms.unwrap_or_default();
        Step::Notify(vec![
            item_started(
                self.thread_id.clone(),
                self.turn_id.clone(),
                item.clone(),
                at_ms,
            ),
            item_completed(self.thread_id, self.turn_id, item, at_ms),
        ])
    }

    fn item_started(self, item: Value, at_ms: i64) -> Step {
        match protocol_item(item, Some(at_ms), None) {
            Ok(item) => Step::Notify(vec![item_started(
                self.thread_id,
                self.turn_id,
                item,
                at_ms,
            )]),
            Err(why) => self.warning(why),
        }
    }

    fn agent_message_delta(self, item_id: String, delta: String) -> Step {
        Step::Notify(vec![ServerNotification::AgentMessageDelta(
            AgentMessageDeltaNotification {
                thread_id: self.thread_id,
                turn_id: self.turn_id,
                item_id,
                delta,
            },
        )])
    }

    fn reasoning_text_delta(self, item_id: String, delta: String, content_index: u32) -> Step {
        Step::Notify(vec![ServerNotification::ReasoningTextDelta(
            ReasoningTextDeltaNotification {
                thread_id: self.thread_id,
                turn_id: self.turn_id,
                item_id,
                delta,
                content_index: i64::from(content_index),
            },
        )])
    }

    fn command_output_delta(self, item_id: String, delta: String) -> Step {
        Step::Notify(vec![ServerNotification::CommandExecutionOutputDelta(
            CommandExecutionOutputDeltaNotification {
                thread_id: self.thread_id,
                turn_id: self.turn_id,
                item_id,
                delta,
            },
        )])
    }

    fn token_usage(
        self,
        total: &events::TokenBreakdown,
        last: &events::TokenBreakdown,
        model_context_window: Option<u64>,
    ) -> Step {
        Step::Notify(vec![ServerNotification::ThreadTokenUsageUpdated(
            ThreadTokenUsageUpdatedNotification {
                thread_id: self.thread_id,
                turn_id: self.turn_id,
                token_usage: super::super::convert::token_usage(total, last, model_context_window),
            },
        )])
    }

    fn retry_error(self, message: String) -> Step {
        Step::Notify(vec![ServerNotification::Error(ErrorNotification {
            error: turn_error(message, None),
            will_retry: true,
            thread_id: self.thread_id,
            turn_id: self.turn_id,
        })])
    }
}

/// A reasoning summary delta, announced by `item/reasoning/summaryPartAdded` the first time
/// its part appears.
fn reasoning_summary(
    active: &mut ActiveTurn,
    ids: Ids,
    item_id: String,
    delta: String,
    summary_index: u32,
) -> Step {
    let mut notifications = Vec::new();
    if active
        .summary_parts
        .insert((item_id.clone(), summary_index))
    {
        notifications.push(ServerNotification::ReasoningSummaryPartAdded(
            ReasoningSummaryPartAddedNotification {
                thread_id: ids.thread_id.clone(),
                turn_id: ids.turn_id.clone(),
                item_id: item_id.clone(),
                summary_index: i64::from(summary_index),
            },
        ));
    }
    notifications.push(ServerNotification::ReasoningSummaryTextDelta(
        ReasoningSummaryTextDeltaNotification {
            thread_id: ids.thread_id,
            turn_id: ids.turn_id,
            item_id,
            delta,
            summary_index: i64::from(summary_index),
        },
    ));
    Step::Notify(notifications)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn active() -> ActiveTurn {
        ActiveTurn {
            turn_id: Uuid::now_v7(),
            dir: PathBuf::from("turn"),
            started_at_ms: 1_764_000_000_000,
            final_message: None,
            last_error: None,
            summary_parts: BTreeSet::new(),
            waiting_approvals: Vec::new(),
            review: None,
        }
    }

    fn record(event: events::Event) -> EventRecord {
        EventRecord {
            v: events::RECORD_VERSION,
            seq: 2,
            at_ms: 1_764_000_000_500,
            event,
        }
    }

    fn methods(step: &Step) -> Vec<&'static str> {
        match step {
            Step::Notify(list) => list.iter().map(ServerNotification::method).collect(),
            other => panic!("not notifications: {other:?}"),
        }
    }

    #[test]
    fn a_completed_agent_message_is_the_result_so_far_with_its_times() {
        let mut turn = active();
        let item = json!({"type": "agentMessage", "id": "m1", "text": "hi"});
        let step = translate(
            &mut turn,
            Uuid::now_v7(),
            record(events::Event::ItemCompleted { item }),
        );
        let Step::Notify(list) = &step else {
            panic!("{step:?}")
        };
        let ServerNotification::ItemCompleted(done) = &list[0] else {
            panic!("{list:?}")
        };
        assert_eq!(done.completed_at_ms, 1_764_000_000_500);
        assert_eq!(done.item.started_at_ms, Some(1_764_000_000_500));
        assert_eq!(turn.final_message.as_ref(), Some(&done.item));
    }

    #[test]
    fn an_item_that_is_not_a_protocol_item_becomes_a_warning() {
        let mut turn = active();
        let item = json!({"type": "noSuchKind", "id": "x"});
        let step = translate(
            &mut turn,
            Uuid::now_v7(),
            record(events::Event::ItemStarted { item }),
        );
        assert_eq!(methods(&step), ["warning"]);
    }

    #[test]
    fn a_summary_part_is_announced_once() {
        let mut turn = active();
        let delta = |text: &str| {
            record(events::Event::ReasoningSummaryDelta {
                item_id: "r1".into(),
                delta: text.into(),
                summary_index: 0,
            })
        };
        let thread = Uuid::now_v7();
        let first = translate(&mut turn, thread, delta("a"));
        let second = translate(&mut turn, thread, delta("b"));
        assert_eq!(
            methods(&first),
            [
                "item/reasoning/summaryPartAdded",
                "item/reasoning/summaryTextDelta"
            ]
        );
        assert_eq!(methods(&second), ["item/reasoning/summaryTextDelta"]);
    }

    #[test]
    fn a_final_error_waits_for_the_end_and_a_retry_is_shown() {
        let mut turn = active();
        let thread = Uuid::now_v7();
        let retry = translate(
            &mut turn,
            thread,
            record(events::Event::Error {
                message: "again".into(),
                will_retry: true,
            }),
        );
        assert_eq!(methods(&retry), ["error"]);
        let last = translate(
            &mut turn,
            thread,
            record(events::Event::Error {
                message: "no".into(),
                will_retry: false,
            }),
        );
        assert_eq!(last, Step::Nothing);
        assert_eq!(turn.last_error.as_deref(), Some("no"));
    }
}
