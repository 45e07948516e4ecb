//! Canonical records of a turn: the event log lines, the exit record and the process record.
//!
//! These are the stored, versioned types of `docs/contracts.md`. They are converted into
//! protocol notifications by the server; nothing here knows about JSON-RPC. Every record
//! carries `"v": 1` and a reader rejects a version it does not know.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::process::identity::Identity;

/// The version of every record defined here.
pub const RECORD_VERSION: u32 = 1;

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub v: u32,
    /// Counts up from 1 without gaps.
    pub seq: u64,
    /// Wall-clock milliseconds since the Unix epoch when the runner wrote the record.
    pub at_ms: u64,
    pub event: Event,
}

impl EventRecord {
    /// Returns true when this is the last record of a turn.
    pub fn is_turn_ended(&self) -> bool {
        matches!(self.event, Event::TurnEnded { .. })
    }
}

/// The canonical events of a turn (`event.type` in the log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The backend is running.
    RunnerStarted {
        runner_pid: i32,
        backend_pid: i32,
        backend_pgid: i32,
    },
    /// The backend's own session or thread id: the resume key.
    BackendSession {
        session_id: String,
    },
    /// An app-server `ThreadItem` (camelCase JSON, as Codex sends it).
    ItemStarted {
        item: Value,
    },
    AgentMessageDelta {
        item_id: String,
        delta: String,
    },
    ReasoningSummaryDelta {
        item_id: String,
        delta: String,
        summary_index: u32,
    },
    ReasoningTextDelta {
        item_id: String,
        delta: String,
        content_index: u32,
    },
    /// Plain text output of a command.
    CommandOutputDelta {
        item_id: String,
        delta: String,
    },
    /// The turn's unified diff so far (Codex's `turn/diff/updated`).
    TurnDiff {
        diff: String,
    },
    /// The final state of an item.
    ItemCompleted {
        item: Value,
    },
    /// Token usage: `total` for the whole thread so far (every earlier turn included),
    /// `last` since the previous report (for a one-shot backend: this turn).
    TokenUsage {
        total: TokenBreakdown,
        last: TokenBreakdown,
        model_context_window: Option<u64>,
        /// The backend's own cumulative figure for its session, as it reported it, for
        /// backends that report session totals (codex): where the next turn that resumes
        /// the session counts from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_total: Option<TokenBreakdown>,
    },
    /// Something non-fatal the user may want to see.
    Warning {
        message: String,
    },
    /// An error reported by the backend; `will_retry` when it is a retry notice.
    Error {
        message: String,
        will_retry: bool,
    },
    /// The backend waits for an approval answer.
    ApprovalRequested {
        request_id: String,
        kind: ApprovalKind,
        item_id: String,
        reason: Option<String>,
        command: Option<String>,
        cwd: Option<String>,
    },
    /// The answer went to the backend.
    ApprovalResolved {
        request_id: String,
        decision: Value,
        /// Who decided: the client, or the thread's `approvalPolicy` when no client could
        /// answer.
        #[serde(default)]
        decided_by: DecidedBy,
    },
    /// Extra user input accepted mid-turn (written to the backend): the client's
    /// `UserInput[]` and the ids of its user message item.
    Steered {
        input: Value,
        #[serde(default)]
        user_message_id: String,
        #[serde(default)]
        client_user_message_id: Option<String>,
    },
    /// The runner took a request of the turn's control inbox (`control.inbox`): its `id`,
    /// and the answer it would have given on the control socket.
    ControlAcknowledged {
        id: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The runner starts the interrupt ladder.
    InterruptRequested {
        reason: InterruptReason,
    },
    /// The backend's own end-of-turn marker.
    Marker {
        outcome: MarkerOutcome,
        error: Option<ErrorInfo>,
    },
    /// The backend leader was reaped.
    BackendExited {
        exit_code: Option<i32>,
        signal: Option<i32>,
    },
    /// The last record of the turn; same content as `exit.json`.
    TurnEnded {
        status: TurnStatus,
        reason: EndReason,
        error: Option<ErrorInfo>,
    },
}

/// A token usage breakdown, as in `thread/tokenUsage/updated`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBreakdown {
    pub total_tokens: u64,
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    pub output_tokens: u64,
    pub reasoning_output_tokens: u64,
}

impl TokenBreakdown {
    /// This breakdown plus `other`, field by field (saturating).
    pub fn plus(&self, other: &TokenBreakdown) -> TokenBreakdown {
        TokenBreakdown {
            total_tokens: self.total_tokens.saturating_add(other.total_tokens),
            input_tokens: self.input_tokens.saturating_add(other.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_add(other.cached_input_tokens),
            cache_write_input_tokens: self
                .cache_write_input_tokens
                .saturating_add(other.cache_write_input_tokens),
            output_tokens: self.output_tokens.saturating_add(other.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_add(other.reasoning_output_tokens),
        }
    }

    /// This breakdown minus `earlier`, field by field, never below zero.
    pub fn since(&self, earlier: &TokenBreakdown) -> TokenBreakdown {
        TokenBreakdown {
            total_tokens: self.total_tokens.saturating_sub(earlier.total_tokens),
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_sub(earlier.cached_input_tokens),
            cache_write_input_tokens: self
                .cache_write_input_tokens
                .saturating_sub(earlier.cache_write_input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_sub(earlier.reasoning_output_tokens),
        }
    }
}

/// `input` prompt tokens and `output` completion tokens, none cached or for reasoning: the
/// figures the tests of usage write.
#[cfg(test)]
pub(crate) fn breakdown(input: u64, output: u64) -> TokenBreakdown {
    TokenBreakdown {
        total_tokens: input + output,
        input_tokens: input,
        output_tokens: output,
        ..TokenBreakdown::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalKind {
    CommandExecution,
    FileChange,
}

/// Who decided an approval request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DecidedBy {
    /// The client's answer (through the control socket's `approve`).
    #[default]
    Client,
    /// The spec's `approvalPolicy`, because no client was attached to answer.
    Policy,
}

/// Why an interrupt was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InterruptReason {
    /// The client asked (`turn/interrupt`).
    Client,
    /// The foreground client went away (lifeline broken).
    ClientLost,
    /// `agent-host kill` or another process asked.
    Kill,
}

impl InterruptReason {
    /// The wire name (as serde writes it), also the `reason` of the exit record.
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptReason::Client => "client",
            InterruptReason::ClientLost => "clientLost",
            InterruptReason::Kill => "kill",
        }
    }
}

/// Why a turn ended: the `reason` of `exit.json` and of `turnEnded` (`docs/contracts.md`,
/// "exit.json"). Every reason belongs to one status ([`EndReason::status`]), and
/// [`EndReason::as_str`] is the one place that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Marker `completed`, and the leader exited 0 or was stopped by us after the marker.
    Completed,
    /// Marker `failed`.
    Failed,
    /// Marker `completed`, then the leader failed.
    ExitedAfterMarker,
    /// The leader exited without an end marker.
    ExitedWithoutMarker,
    /// An interrupt asked before any marker.
    Interrupted(InterruptReason),
    /// The runner died without recording the end; a recovering server ended the turn.
    RunnerLost,
    /// The backend could not be started.
    SpawnFailed,
    /// `spec.json` could not be read.
    BadSpec,
    /// The runner itself failed.
    RunnerError,
}

impl EndReason {
    /// Every reason, in the order of `docs/contracts.md`.
    pub const ALL: [EndReason; 11] = [
        EndReason::Completed,
        EndReason::Failed,
        EndReason::ExitedAfterMarker,
        EndReason::ExitedWithoutMarker,
        EndReason::Interrupted(InterruptReason::Client),
        EndReason::Interrupted(InterruptReason::ClientLost),
        EndReason::Interrupted(InterruptReason::Kill),
        EndReason::RunnerLost,
        EndReason::SpawnFailed,
        EndReason::BadSpec,
        EndReason::RunnerError,
    ];

    /// The name written in the records.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::Failed => "failed",
            EndReason::ExitedAfterMarker => "exitedAfterMarker",
            EndReason::ExitedWithoutMarker => "exitedWithoutMarker",
            EndReason::Interrupted(reason) => reason.as_str(),
            EndReason::RunnerLost => "runnerLost",
            EndReason::SpawnFailed => "spawnFailed",
            EndReason::BadSpec => "badSpec",
            EndReason::RunnerError => "runnerError",
        }
    }

    /// The reason a record names, if it is one.
    pub fn from_name(name: &str) -> Option<EndReason> {
        EndReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == name)
    }

    /// The status of a turn that ended for this reason.
    pub fn status(self) -> TurnStatus {
        match self {
            EndReason::Completed => TurnStatus::Completed,
            EndReason::Interrupted(_) | EndReason::RunnerLost => TurnStatus::Interrupted,
            EndReason::Failed
            | EndReason::ExitedAfterMarker
            | EndReason::ExitedWithoutMarker
            | EndReason::SpawnFailed
            | EndReason::BadSpec
            | EndReason::RunnerError => TurnStatus::Failed,
        }
    }
}

/// Written as its name, so that the records keep their strings.
impl Serialize for EndReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Read from its name; a name that is no reason is an error naming the valid ones.
impl<'de> Deserialize<'de> for EndReason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        EndReason::from_name(&name).ok_or_else(|| {
            let valid: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown end reason {name:?}, expected one of {}",
                valid.join(", ")
            ))
        })
    }
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MarkerOutcome {
    Completed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    Completed,
    Failed,
    Interrupted,
}

/// A readable error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    pub message: String,
    /// More detail, such as the tail of the backend's stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_details: Option<String>,
}

impl ErrorInfo {
    pub fn new(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            message: message.into(),
            additional_details: None,
        }
    }
}

/// `exit.json`: how the turn ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    pub v: u32,
    pub status: TurnStatus,
    /// An [`EndReason`] by its name (`completed`, `failed`, `exitedAfterMarker`,
    /// `exitedWithoutMarker`, `client`, `clientLost`, `kill`, `runnerLost`, `spawnFailed`,
    /// `badSpec`, `runnerError`): see `docs/contracts.md`.
    pub reason: EndReason,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<ErrorInfo>,
    /// The `seq` of the `turnEnded` record that goes with this exit record.
    pub last_seq: u64,
    pub ended_at_ms: u64,
}

impl ExitRecord {
    /// The exit record of a turn that ended now for `reason`, with the status of the reason;
    /// the leader's `exit_code` and `signal` are unknown (set them when they are known).
    pub fn ended(reason: EndReason, error: Option<ErrorInfo>, last_seq: u64) -> ExitRecord {
        ExitRecord {
            v: RECORD_VERSION,
            status: reason.status(),
            reason,
            exit_code: None,
            signal: None,
            error,
            last_seq,
            ended_at_ms: now_ms(),
        }
    }

    /// The `turnEnded` record carrying the same content, as a reader synthesizes it when the
    /// runner died between writing `exit.json` and appending the record.
    pub fn turn_ended_record(&self) -> EventRecord {
        EventRecord {
            v: RECORD_VERSION,
            seq: self.last_seq,
            at_ms: self.ended_at_ms,
            event: Event::TurnEnded {
                status: self.status,
                reason: self.reason,
                error: self.error.clone(),
            },
        }
    }
}

/// Whether a turn's runner holds a lifeline to its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Interrupted (reason `clientLost`) when the server's lifeline breaks.
    Foreground,
    /// Runs to the end whatever happens to the server.
    Background,
}

/// The backend part of `process.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendProcess {
    #[serde(flatten)]
    pub identity: Identity,
    pub pgid: i32,
    /// The command line it was started with, program first (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
}

/// `process.json`: the runner's process record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    pub v: u32,
    pub runner: Identity,
    pub backend: Option<BackendProcess>,
    /// The control socket path.
    pub socket: String,
    pub mode: Mode,
    pub started_at_ms: u64,
    pub heartbeat_at_ms: u64,
    /// The live processes of the turn at the last heartbeat (so that they can be found and
    /// stopped by identity when the runner is gone and they were reparented to init).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descendants: Vec<Identity>,
    /// The engine whose job the runner is the main process of (absent: a local runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineJob>,
    /// The warm spare this runner was before it took the turn (absent for a runner started
    /// for the turn): its backend was started then, with the spare's id as its marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spare: Option<SpareOrigin>,
}

/// A runner's place in an engine: which launcher placed it, its job and the node it runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineJob {
    pub launcher: String,
    pub job_id: String,
    pub node: String,
}

/// A turn's runner that was a warm spare first (`docs/arch/runner.md`, "Warm spares").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpareOrigin {
    /// The spare's id: the backend's marker (`AGENT_HOST_TURN=<id>`) instead of the turn id.
    pub id: String,
    /// When the spare started its backend.
    pub started_at_ms: u64,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Checks the version of a record read from disk.
pub fn check_version(v: u32, what: &str) -> Result<(), String> {
    if v == RECORD_VERSION {
        Ok(())
    } else {
        Err(format!(
            "{what} has record version {v}; this agent-host reads version {RECORD_VERSION}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_record_round_trips_in_contract_shape() {
        let record = EventRecord {
            v: 1,
            seq: 3,
            at_ms: 10,
            event: Event::Error {
                message: "Reconnecting... 1/2".into(),
                will_retry: true,
            },
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"v":1,"seq":3,"atMs":10,"event":{"type":"error","message":"Reconnecting... 1/2","willRetry":true}}"#
        );
        let back: EventRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn end_reasons_keep_their_recorded_names_and_statuses() {
        use TurnStatus::{Completed, Failed, Interrupted};
        let expected = [
            ("completed", Completed),
            ("failed", Failed),
            ("exitedAfterMarker", Failed),
            ("exitedWithoutMarker", Failed),
            ("client", Interrupted),
            ("clientLost", Interrupted),
            ("kill", Interrupted),
            ("runnerLost", Interrupted),
            ("spawnFailed", Failed),
            ("badSpec", Failed),
            ("runnerError", Failed),
        ];
        let got: Vec<(&str, TurnStatus)> = EndReason::ALL
            .into_iter()
            .map(|reason| (reason.as_str(), reason.status()))
            .collect();
        assert_eq!(got, expected);
        for reason in EndReason::ALL {
            assert_eq!(EndReason::from_name(reason.as_str()), Some(reason));
        }
        assert_eq!(EndReason::from_name("archived"), None);
        // An interrupt's reason is named the same on the wire and in the exit record.
        for reason in [
            InterruptReason::Client,
            InterruptReason::ClientLost,
            InterruptReason::Kill,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                EndReason::Interrupted(reason).as_str()
            );
        }
    }

    #[test]
    fn an_exit_record_carries_the_status_of_its_reason() {
        let record = ExitRecord::ended(EndReason::Interrupted(InterruptReason::Kill), None, 4);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "interrupted");
        assert_eq!(json["reason"], "kill");
        assert_eq!(json["lastSeq"], 4);
    }
}
