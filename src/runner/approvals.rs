//! Approval requests of a backend: which are pending, who can answer them, and the pipe the
//! answers go down (`docs/backend-jsonl.md`, "Approvals").
//!
//! The supervisor loop owns one [`Approvals`]. A request is answered by the client (control
//! `approve`) while a client is attached, and by the spec's `approvalPolicy` when none is:
//! a foreground turn's client is attached while its lifeline holds (when it breaks, pending
//! requests are decided by the policy and the turn is interrupted); any other turn's client is
//! attached while a subscription is open on the control socket. A request that finds no
//! subscriber before any ever came waits [`ATTACH_GRACE`] for the server that started the
//! turn to subscribe. A client that is attached but never answers is waited for: there is no
//! timeout. An interrupt drops every pending request (the backend is being stopped).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ChildStdin;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a request with no subscriber waits for the first one (the server subscribes
/// right after it launched the runner).
pub const ATTACH_GRACE: Duration = Duration::from_secs(2);

/// How the runner knows that a client can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLink {
    /// A foreground turn's lifeline: attached until it breaks.
    Lifeline,
    /// Attached while a subscription is open on the control socket.
    Subscribers,
}

/// Where the answer lines go.
#[derive(Debug)]
pub enum AnswerPipe {
    /// The backend takes no answers (its stdin is not a pipe for them).
    None,
    /// A stdin of their own (`approvals = "stdin"`).
    Stdin(mpsc::Sender<String>),
    /// The stdin that carries the user messages (Claude's stream-json input, where the
    /// answers are `control_response` lines), or the backend's own protocol (kind `codex`,
    /// where they are JSON-RPC responses): open until the turn's end.
    UserMessages,
}

/// The approval state of a turn.
#[derive(Debug)]
pub struct Approvals {
    answers: AnswerPipe,
    /// The decision when no client can answer.
    pub policy_decision: &'static str,
    pub link: ClientLink,
    /// Request ids waiting for an answer.
    pub pending: Vec<String>,
    /// Open subscriptions, by id.
    pub subscribers: BTreeSet<u64>,
    pub ever_subscribed: bool,
    /// When the policy decides the pending requests if still no client is attached.
    pub policy_at: Option<Instant>,
    /// Until when a client that attached through the control inbox counts as attached.
    pub lease_until: Option<Instant>,
}

impl Approvals {
    pub fn new(answers: AnswerPipe, policy_decision: &'static str, link: ClientLink) -> Approvals {
        Approvals {
            answers,
            policy_decision,
            link,
            pending: Vec::new(),
            subscribers: BTreeSet::new(),
            ever_subscribed: false,
            policy_at: None,
            lease_until: None,
        }
    }

    /// A backend that takes no answers.
    pub fn none() -> Approvals {
        Approvals::new(AnswerPipe::None, "decline", ClientLink::Subscribers)
    }

    /// Why a new request cannot be taken, if it cannot.
    pub fn refusal(&self, request_id: &str, interrupting: bool) -> Option<String> {
        if matches!(self.answers, AnswerPipe::None) {
            Some(format!(
                "ignored approval request {request_id:?}: this provider does not take answers \
                 on stdin (set its `approvals = \"stdin\"`)"
            ))
        } else if interrupting {
            Some(format!(
                "ignored approval request {request_id:?}: the turn is being interrupted"
            ))
        } else if self.pending.iter().any(|id| id == request_id) {
            Some(format!(
                "ignored approval request {request_id:?}: a request with this id is pending"
            ))
        } else {
            None
        }
    }

    pub fn is_pending(&self, request_id: &str) -> bool {
        self.pending.iter().any(|id| id == request_id)
    }

    /// Removes a pending request; false if it was not pending.
    pub fn take(&mut self, request_id: &str) -> bool {
        let before = self.pending.len();
        self.pending.retain(|id| id != request_id);
        self.pending.len() != before
    }

    /// Sends the answer line (the adapter's) to the backend, through `messages` when the
    /// answers share the user messages' stdin; false when that stdin is gone.
    pub fn send_answer(&self, line: String, messages: Option<&mpsc::Sender<String>>) -> bool {
        let pipe = match &self.answers {
            AnswerPipe::None => None,
            AnswerPipe::Stdin(answers) => Some(answers),
            AnswerPipe::UserMessages => messages,
        };
        pipe.is_some_and(|pipe| pipe.send(line).is_ok())
    }

    /// Whether a client can answer now, with the lifeline intact (`lifeline_intact`).
    pub fn client_attached(&self, lifeline_intact: bool) -> bool {
        match self.link {
            ClientLink::Lifeline => lifeline_intact,
            ClientLink::Subscribers => {
                !self.subscribers.is_empty()
                    || self.lease_until.is_some_and(|until| Instant::now() < until)
            }
        }
    }
}

/// Writes lines (approval answers, user messages) to the backend's stdin until the sender is
/// dropped or the pipe breaks; returning drops (closes) stdin.
pub fn write_lines(mut stdin: ChildStdin, lines: mpsc::Receiver<String>) {
    for mut line in lines {
        line.push('\n');
        if let Err(err) = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
        {
            tracing::warn!(%err, "cannot write a line to the backend's stdin");
            return;
        }
    }
}
