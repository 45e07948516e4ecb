//! The state owner: connection state, loaded threads, and the dispatch of every event.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Event;
use super::unavailable::{self, ExperimentalApi};
use crate::config::Config;
use crate::jsonrpc::{self, ErrorObject, Incoming, Line, Outgoing, RequestId};
use crate::protocol::{
    ClientRequest, InitializeParams, InitializeResponse, RequestParseError, ServerNotification,
};
use crate::runner::launch::Lifeline;
use crate::store::{Store, ThreadRecord};
use crate::transport::InputLine;

/// Whether the loop goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// What the client told us in `initialize`.
#[derive(Debug)]
pub(crate) struct Session {
    pub client_name: String,
    pub opt_out: HashSet<String>,
    pub experimental_api: bool,
}

/// A thread loaded in this server (started, resumed or forked here).
#[derive(Debug)]
pub(crate) struct LoadedThread {
    pub record: ThreadRecord,
    pub ephemeral: Ephemeral,
    pub subscription: Subscription,
    pub status: LoadedStatus,
    /// The turn running on this thread, if any.
    pub active: Option<super::turn::ActiveTurn>,
    /// Tells other processes that this server has the stored thread loaded (`agent-host rm`
    /// refuses it); dropped with the thread. `None` for an ephemeral thread.
    pub _mark: Option<crate::store::LoadedMark>,
}

/// The mark that this server has the stored thread `uuid` loaded (`store::loaded`); none for
/// an ephemeral thread, nor while an `agent-host rm` deletes the thread.
pub(crate) fn loaded_mark(
    store: &Store,
    uuid: Uuid,
    ephemeral: Ephemeral,
) -> Option<crate::store::LoadedMark> {
    if ephemeral == Ephemeral::Yes {
        return None;
    }
    match store.mark_loaded(uuid) {
        Ok(Some(mark)) => Some(mark),
        Ok(None) => {
            tracing::warn!("thread {uuid} is being deleted by another process");
            None
        }
        Err(err) => {
            tracing::warn!("cannot mark thread {uuid} loaded: {err}");
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ephemeral {
    Yes,
    No,
}

impl Ephemeral {
    /// The `ephemeral` param of `thread/start` and `thread/fork` (absent means no).
    pub fn from_flag(flag: Option<bool>) -> Ephemeral {
        if flag.unwrap_or(false) {
            Ephemeral::Yes
        } else {
            Ephemeral::No
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subscription {
    Subscribed,
    Unsubscribed,
}

/// The live status of a loaded thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadedStatus {
    Idle,
    SystemError,
    #[allow(dead_code)]
    Active {
        waiting_on_approval: bool,
    },
}

pub(crate) struct Server {
    pub state_dir: PathBuf,
    max_line_bytes: usize,
    pub config: Config,
    pub store: Store,
    out: mpsc::Sender<Outgoing>,
    pub events: mpsc::Sender<Event>,
    /// Our requests to the client waiting for an answer, by id.
    pub pending_approvals: HashMap<i64, super::approvals::PendingApproval>,
    /// The id of our next request to the client (from 0, like Codex).
    pub next_server_request_id: i64,
    /// The lifeline of this server's foreground runners, made at the first turn.
    lifeline: Option<Lifeline>,
    pub session: Option<Session>,
    /// Loaded threads, and their load order for `thread/loaded/list`.
    pub loaded: HashMap<Uuid, LoadedThread>,
    pub load_order: Vec<Uuid>,
    /// The running standalone commands (`command/exec`) of this connection.
    pub commands: super::command_exec::Commands,
    /// The warm spares of providers with `warm_spare = true`.
    pub spares: super::spares::Spares,
}

/// The answer to one request: a result to serialize, or an error object.
pub(crate) type Reply = Result<Value, ErrorObject>;

/// Serializes a response body; our types always serialize.
pub(crate) fn to_value<T: Serialize>(value: &T) -> Reply {
    serde_json::to_value(value).map_err(ErrorObject::internal)
}

impl Server {
    pub fn new(
        state_dir: PathBuf,
        max_line_bytes: usize,
        config: Config,
        store: Store,
        out: mpsc::Sender<Outgoing>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        Server {
            state_dir,
            max_line_bytes,
            config,
            store,
            out,
            events,
            session: None,
            loaded: HashMap::new(),
            load_order: Vec::new(),
            lifeline: None,
            pending_approvals: HashMap::new(),
            next_server_request_id: 0,
            commands: Default::default(),
            spares: Default::default(),
        }
    }

    pub async fn handle(&mut self, event: Event) -> Flow {
        match event {
            Event::Input(InputLine::TooLong { bytes }) => {
                self.send(Outgoing::Unaddressed {
                    error: ErrorObject::invalid_request(format!(
                        "line of {bytes} bytes exceeds the maximum of {} bytes (--max-line-bytes)",
                        self.max_line_bytes
                    )),
                })
                .await;
                Flow::Continue
            }
            Event::Input(InputLine::Line(line)) => {
                match jsonrpc::classify(&line) {
                    Line::Blank => {}
                    Line::Invalid(err) => {
                        tracing::debug!("invalid input line: {}", err.error.message);
                        self.send(match err.id {
                            Some(id) => Outgoing::Response {
                                id,
                                result: Err(err.error),
                            },
                            None => Outgoing::Unaddressed { error: err.error },
                        })
                        .await;
                    }
                    Line::Message(message) => self.on_message(message).await,
                }
                Flow::Continue
            }
            Event::InputClosed => Flow::Stop,
            Event::TurnRecord {
                thread,
                turn,
                record,
            } => {
                self.on_turn_record(thread, turn, record).await;
                Flow::Continue
            }
            Event::Command(event) => {
                self.on_command_event(event).await;
                Flow::Continue
            }
            Event::TurnLost {
                thread,
                turn,
                error,
            } => {
                self.on_turn_lost(thread, turn, error).await;
                Flow::Continue
            }
        }
    }

    async fn on_message(&mut self, message: Incoming) {
        match message {
            Incoming::Request { id, method, params } => {
                let reply = self.on_request(&id, &method, params).await;
                if let Some(reply) = reply {
                    self.send(Outgoing::Response { id, result: reply }).await;
                }
            }
            Incoming::Notification { method, .. } => {
                // `initialized` needs no action; unknown notifications are ignored like Codex.
                tracing::debug!("client notification {method}");
            }
            Incoming::Response { id, result } => self.on_client_response(id, result).await,
        }
    }

    /// Serves one request. `None` means the handler already sent its response (because
    /// notifications had to follow it in a fixed order).
    async fn on_request(
        &mut self,
        id: &RequestId,
        method: &str,
        params: Option<Value>,
    ) -> Option<Reply> {
        if self.session.is_none() && method != "initialize" {
            return Some(Err(ErrorObject::not_initialized()));
        }
        let request = match ClientRequest::parse(method, params) {
            Ok(request) => request,
            Err(err) => return Some(Err(parse_error_object(err, self.experimental_api()))),
        };
        match request {
            ClientRequest::Initialize(params) => Some(self.initialize(params)),
            other => self.dispatch(id, other).await,
        }
    }

    fn initialize(&mut self, params: InitializeParams) -> Reply {
        if self.session.is_some() {
            return Err(ErrorObject::already_initialized());
        }
        let capabilities = params.capabilities.unwrap_or_default();
        let session = Session {
            client_name: params.client_info.name.clone(),
            opt_out: capabilities
                .opt_out_notification_methods
                .unwrap_or_default()
                .into_iter()
                .collect(),
            experimental_api: capabilities.experimental_api,
        };
        let response = InitializeResponse {
            user_agent: user_agent(&params.client_info.name, &params.client_info.version),
            codex_home: self.state_dir.display().to_string(),
            platform_family: "unix".to_string(),
            platform_os: std::env::consts::OS.to_string(),
        };
        self.session = Some(session);
        to_value(&response)
    }

    /// Sends a message; waits while stdout is backed up, so nothing is ever dropped.
    pub async fn send(&self, message: Outgoing) {
        if self.out.send(message).await.is_err() {
            tracing::debug!("stdout writer is gone; message not sent");
        }
    }

    /// Sends a notification unless the client opted out of its method.
    pub async fn notify(&self, notification: ServerNotification) {
        let method = notification.method();
        if let Some(session) = &self.session
            && session.opt_out.contains(method)
        {
            return;
        }
        let params_json = match notification.params_json() {
            Ok(params_json) => params_json,
            Err(err) => {
                tracing::error!("cannot serialize {method}: {err}");
                return;
            }
        };
        self.send(Outgoing::Notification {
            method,
            params_json,
            emitted_at_ms: now_ms(),
        })
        .await;
    }

    /// Sends a response now, so that notifications can follow it.
    pub async fn respond_now(&self, id: &RequestId, reply: Reply) {
        self.send(Outgoing::Response {
            id: id.clone(),
            result: reply,
        })
        .await;
    }

    /// The lifeline handed to foreground runners: it breaks when this process ends.
    pub fn lifeline(&mut self) -> std::io::Result<&Lifeline> {
        if self.lifeline.is_none() {
            self.lifeline = Some(Lifeline::new()?);
        }
        self.lifeline
            .as_ref()
            .ok_or_else(|| std::io::Error::other("lifeline missing"))
    }

    /// Starts the spare for the next turn like `spec`'s, if its provider keeps one and it has
    /// none of that key yet.
    pub fn refill_spare(
        &mut self,
        spec: &crate::spec::Spec,
        env: &std::collections::BTreeMap<String, String>,
    ) {
        if self.lifeline.is_none() {
            match Lifeline::new() {
                Ok(lifeline) => self.lifeline = Some(lifeline),
                Err(err) => {
                    tracing::warn!(%err, "cannot make the lifeline; no warm spare");
                    return;
                }
            }
        }
        if let Some(lifeline) = &self.lifeline {
            self.spares.refill(&self.state_dir, spec, env, lifeline);
        }
    }

    /// Whether the client opted into experimental methods and fields.
    pub fn experimental_api(&self) -> ExperimentalApi {
        match &self.session {
            Some(session) if session.experimental_api => ExperimentalApi::Enabled,
            Some(_) | None => ExperimentalApi::Disabled,
        }
    }

    /// The client name given in `initialize`, recorded as a thread's originator.
    pub fn originator(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.client_name.clone())
    }
}

/// Maps a method-table error to its wire error.
pub(crate) fn parse_error_object(
    err: RequestParseError,
    experimental: ExperimentalApi,
) -> ErrorObject {
    match err {
        RequestParseError::UnknownMethod { method } => unavailable::answer(&method, experimental),
        RequestParseError::MissingParams { method } => {
            ErrorObject::invalid_params(method, "missing field `params` (send `\"params\":{}`)")
        }
        RequestParseError::InvalidParams { method, message } => {
            ErrorObject::invalid_params(method, message)
        }
    }
}

/// `agent-host/<version> (<os> <release>; <arch>) (<client>; <client version>)`.
fn user_agent(client_name: &str, client_version: &str) -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{client_name}/{} (agent-host; {} {release}; {}) ({client_name}; {client_version})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
