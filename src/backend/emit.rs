//! The canonical events every adapter emits alike, whatever its backend's format: agent
//! messages and reasoning, the backend session, token usage added to the thread's total, and
//! the end of a turn.

use serde_json::{Value, json};

use crate::events::{ErrorInfo, Event, MarkerOutcome, TokenBreakdown};

/// An `agentMessage` item.
pub(crate) fn agent_message(id: &str, text: &str) -> Value {
    json!({"type": "agentMessage", "id": id, "text": text, "phase": null})
}

/// A `reasoning` item; its summary is `text` once the reasoning is complete.
pub(crate) fn reasoning(id: &str, text: Option<&str>) -> Value {
    let summary: Vec<&str> = text.into_iter().collect();
    json!({"type": "reasoning", "id": id, "summary": summary, "content": []})
}

/// An agent message that comes whole: started, its text as one delta, completed.
pub(crate) fn whole_agent_message(id: &str, text: &str, out: &mut Vec<Event>) {
    out.push(Event::ItemStarted {
        item: agent_message(id, ""),
    });
    complete_agent_message(id, text, out);
}

/// The end of an agent message already started: its text as one delta, then completed.
pub(crate) fn complete_agent_message(id: &str, text: &str, out: &mut Vec<Event>) {
    if !text.is_empty() {
        out.push(Event::AgentMessageDelta {
            item_id: id.to_owned(),
            delta: text.to_owned(),
        });
    }
    out.push(Event::ItemCompleted {
        item: agent_message(id, text),
    });
}

/// Reasoning that comes whole: started, its text as one summary delta, completed.
pub(crate) fn whole_reasoning(id: &str, text: &str, out: &mut Vec<Event>) {
    out.push(Event::ItemStarted {
        item: reasoning(id, None),
    });
    if !text.is_empty() {
        out.push(Event::ReasoningSummaryDelta {
            item_id: id.to_owned(),
            delta: text.to_owned(),
            summary_index: 0,
        });
    }
    out.push(Event::ItemCompleted {
        item: reasoning(id, Some(text)),
    });
}

/// The backend session a stream named last; each new one is announced once.
#[derive(Debug, Default)]
pub(crate) struct Session {
    id: Option<String>,
}

impl Session {
    /// A `backendSession` event when `id` is a session other than the last one named.
    pub(crate) fn named(&mut self, id: Option<&str>, out: &mut Vec<Event>) {
        if let Some(id) = id
            && self.id.as_deref() != Some(id)
        {
            self.id = Some(id.to_owned());
            out.push(Event::BackendSession {
                session_id: id.to_owned(),
            });
        }
    }
}

/// The thread's token total (`tokenUsage.total`), which every usage report of the turn adds to.
#[derive(Debug)]
pub(crate) struct ThreadTotal {
    total: TokenBreakdown,
}

impl ThreadTotal {
    /// Starts from the thread's total before the turn.
    pub(crate) fn new(before: TokenBreakdown) -> ThreadTotal {
        ThreadTotal { total: before }
    }

    /// The `tokenUsage` event of a report of `last`, the usage since the previous report,
    /// which the thread's total grows by.
    pub(crate) fn add(
        &mut self,
        last: TokenBreakdown,
        model_context_window: Option<u64>,
        session_total: Option<TokenBreakdown>,
    ) -> Event {
        self.total = self.total.plus(&last);
        Event::TokenUsage {
            total: self.total,
            last,
            model_context_window,
            session_total,
        }
    }
}

/// The end marker of a turn the backend completed.
pub(crate) fn completed() -> Event {
    Event::Marker {
        outcome: MarkerOutcome::Completed,
        error: None,
    }
}

/// The error the backend reported for the turn, which it does not retry.
pub(crate) fn turn_error(message: String) -> Event {
    Event::Error {
        message,
        will_retry: false,
    }
}

/// A turn the backend failed: its error, then the end marker that carries it.
pub(crate) fn failed(message: String, out: &mut Vec<Event>) {
    out.push(turn_error(message.clone()));
    out.push(Event::Marker {
        outcome: MarkerOutcome::Failed,
        error: Some(ErrorInfo::new(message)),
    });
}
