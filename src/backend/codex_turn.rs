//! Kind `codex`: one turn as the client of a fresh `codex app-server` (JSON-RPC over its
//! stdin and stdout), run by the turn's runner.
//!
//! The adapter sends `initialize` (then `initialized`), `thread/start` (or `thread/resume` of
//! the Codex thread the previous turn recorded, when the thread continues its session) and
//! `turn/start` with the prompt and the turn's settings in Codex's own parameters
//! (`approvalPolicy`, `sandbox` on the thread and the whole `sandboxPolicy` on the turn,
//! `model`, `cwd`): the spec holds them in Codex's shapes, so they pass as they are. Codex's notifications map one to one onto
//! canonical events: items (its `userMessage` excepted: the server shows the user's own),
//! agent message, reasoning and command output deltas, token usage, errors. Its approval
//! requests become `approvalRequested`; the decision goes back as the JSON-RPC response. Its
//! `turn/completed` is the end marker, at which the runner closes stdin and the app-server
//! exits. The interrupt is Codex's own `turn/interrupt`; a steered message is Codex's own
//! `turn/steer` of its running turn.
//!
//! A warm spare (`docs/arch/runner.md`, "Warm spares") says ahead of its turn what needs no
//! prompt ([`Warmup`]: `initialize`, `initialized`, and `thread/start` with the settings it was
//! given); the turn's adapter ([`Stream::after_spare`]) then reads the app-server's output
//! from its start and sends only what the spare did not, taking the spare's thread only
//! when the turn would have started exactly that one.
//!
//! Every method and field used here is named by a constant or a `json!` key in this file;
//! `tests/it/codex_pin.rs` checks them against the installed Codex's schema.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::codex_app_server::{INITIALIZE, INITIALIZED, initialize_params};
use super::emit;
use super::permissions::{Approval, Permissions, Sandbox};
use crate::events::{ApprovalKind, ErrorInfo, Event, MarkerOutcome, TokenBreakdown};
use crate::spec::Spec;

/// The client requests the adapter sends.
pub const THREAD_START: &str = "thread/start";
pub const THREAD_RESUME: &str = "thread/resume";
pub const TURN_START: &str = "turn/start";
pub const TURN_INTERRUPT: &str = "turn/interrupt";
pub const TURN_STEER: &str = "turn/steer";

/// The server notifications the adapter maps.
pub const THREAD_STARTED: &str = "thread/started";
pub const ITEM_STARTED: &str = "item/started";
pub const ITEM_COMPLETED: &str = "item/completed";
pub const AGENT_MESSAGE_DELTA: &str = "item/agentMessage/delta";
pub const REASONING_SUMMARY_DELTA: &str = "item/reasoning/summaryTextDelta";
pub const REASONING_TEXT_DELTA: &str = "item/reasoning/textDelta";
pub const COMMAND_OUTPUT_DELTA: &str = "item/commandExecution/outputDelta";
pub const TOKEN_USAGE_UPDATED: &str = "thread/tokenUsage/updated";
pub const TURN_DIFF_UPDATED: &str = "turn/diff/updated";
pub const ERROR: &str = "error";
pub const TURN_COMPLETED: &str = "turn/completed";

/// The server requests the adapter forwards to our client.
pub const COMMAND_APPROVAL: &str = "item/commandExecution/requestApproval";
pub const FILE_CHANGE_APPROVAL: &str = "item/fileChange/requestApproval";

/// The ids of our requests: each is sent at most once per turn.
const INITIALIZE_ID: i64 = 0;
const THREAD_ID: i64 = 1;
const TURN_ID: i64 = 2;
const INTERRUPT_ID: i64 = 3;
/// The id of the first `turn/steer`; each later one takes the next.
const FIRST_STEER_ID: i64 = 100;
/// The ids of a warm spare's requests, sent before its turn exists: strings, so that they
/// never meet the turn's own.
pub const SPARE_INITIALIZE_ID: &str = "spare-initialize";
pub const SPARE_THREAD_ID: &str = "spare-thread";

/// Where the conversation with the app-server is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// `initialize` sent, its answer awaited.
    Initializing,
    /// `thread/start` or `thread/resume` sent.
    OpeningThread,
    /// `turn/start` sent to this Codex thread.
    StartingTurn { thread: String },
    /// Codex runs its turn.
    Running { thread: String, turn: String },
    /// Its turn completed, or the conversation failed: the marker is out.
    Ended,
}

/// What a warm spare sent its app-server before the turn existed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpareSent {
    /// `initialize` (id [`SPARE_INITIALIZE_ID`]).
    pub initialize: bool,
    /// `initialized`, after the answer to `initialize`.
    pub initialized: bool,
    /// The params of its `thread/start` (id [`SPARE_THREAD_ID`]), sent after `initialized`.
    pub thread_start: Option<Value>,
}

/// The requests whose answers the adapter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Initialize,
    Thread,
    /// The spare's `thread/start`, whose thread the turn does not take.
    UnusedSpareThread,
    Turn,
    Interrupt,
    Steer,
}

/// The adapter of one `codex` turn.
#[derive(Debug)]
pub struct Stream {
    phase: Phase,
    /// What a warm spare already sent (nothing for a backend started for the turn).
    spare: SpareSent,
    /// Whether the turn takes the thread the spare started.
    uses_spare_thread: bool,
    /// What `thread/start` or `thread/resume` and `turn/start` carry.
    setup: Setup,
    /// Lines for the app-server's stdin, taken by the runner.
    input: Vec<String>,
    /// The JSON-RPC ids of Codex's pending approval requests, by our request id.
    approvals: BTreeMap<String, Value>,
    /// The id of the next `turn/steer`.
    next_steer: i64,
    session: emit::Session,
    total: emit::ThreadTotal,
}

/// The turn's settings and input, as the spec gives them.
#[derive(Debug)]
struct Setup {
    resume: Option<String>,
    cwd: String,
    model: Option<String>,
    approval_policy: Option<Value>,
    /// Codex's `SandboxPolicy` object, for `turn/start`.
    sandbox_policy: Option<Value>,
    /// Its mode, for `thread/start` and `thread/resume` (none for an external sandbox, which
    /// has no mode).
    sandbox_mode: Option<&'static str>,
    prompt: String,
    images: Vec<String>,
}

impl Setup {
    fn of(spec: &Spec) -> Setup {
        Setup {
            resume: spec.resume_session_id.clone(),
            cwd: spec.cwd.to_string_lossy().into_owned(),
            model: spec.model.clone(),
            approval_policy: spec.approval_policy.clone().filter(|p| !p.is_null()),
            sandbox_policy: spec.sandbox_policy.clone().filter(|s| !s.is_null()),
            sandbox_mode: sandbox_mode(spec),
            prompt: spec.prompt.clone(),
            images: spec
                .images
                .iter()
                .map(|path| path.to_string_lossy().into_owned())
                .collect(),
        }
    }

    /// The params of `thread/start` (and, with `threadId`, of `thread/resume`).
    fn thread_params(&self) -> Value {
        let mut params = json!({"cwd": self.cwd});
        insert(&mut params, "model", self.model.clone().map(Value::from));
        insert(&mut params, "approvalPolicy", self.approval_policy.clone());
        insert(&mut params, "sandbox", self.sandbox_mode.map(Value::from));
        params
    }
}

/// The params of the `thread/start` that `spec`'s turn sends when it starts a new Codex
/// thread: what a warm spare may send ahead of a turn like it.
pub fn thread_start_params(spec: &Spec) -> Value {
    Setup::of(spec).thread_params()
}

/// A warm spare's conversation with its app-server before any turn exists: `initialize`,
/// `initialized` once it is answered, then `thread/start` with `thread_start` (if given).
/// Nothing of a turn and no prompt; what was sent is handed to the turn ([`SpareSent`]).
#[derive(Debug)]
pub struct Warmup {
    thread_start: Option<Value>,
    sent: SpareSent,
    input: Vec<String>,
    initialized: bool,
    thread: Option<String>,
    refused: Option<String>,
}

impl Warmup {
    /// Its first line, `initialize`, is ready to be taken.
    pub fn new(thread_start: Option<Value>) -> Warmup {
        let initialize =
            json!({"id": SPARE_INITIALIZE_ID, "method": INITIALIZE, "params": initialize_params()});
        Warmup {
            thread_start,
            sent: SpareSent {
                initialize: true,
                ..SpareSent::default()
            },
            input: vec![initialize.to_string()],
            initialized: false,
            thread: None,
            refused: None,
        }
    }

    /// The lines to write since the last call.
    pub fn take_input(&mut self) -> Vec<String> {
        std::mem::take(&mut self.input)
    }

    /// What was sent so far (once the lines are written).
    pub fn sent(&self) -> &SpareSent {
        &self.sent
    }

    /// Whether Codex answered `initialize`.
    pub fn initialized(&self) -> bool {
        self.initialized
    }

    /// The thread Codex started for the spare, once it answered.
    pub fn thread(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    /// Codex's refusal of one of the spare's requests: the spare cannot serve a turn.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Reads one line of the app-server's output; only the answers to its requests matter.
    pub fn on_line(&mut self, line: &[u8]) {
        let Ok(message) = serde_json::from_slice::<Value>(line) else {
            return;
        };
        let Some(id) = message.get("id").and_then(Value::as_str) else {
            return;
        };
        if message.get("method").is_some() {
            return;
        }
        if let Some(error) = message.get("error") {
            let text = error["message"].as_str().unwrap_or("no message");
            self.refused = Some(format!("codex app-server refused the spare's {id}: {text}"));
            return;
        }
        match id {
            SPARE_INITIALIZE_ID if !self.initialized => {
                self.initialized = true;
                self.input.push(json!({"method": INITIALIZED}).to_string());
                self.sent.initialized = true;
                if let Some(params) = self.thread_start.take() {
                    let request =
                        json!({"id": SPARE_THREAD_ID, "method": THREAD_START, "params": params});
                    self.input.push(request.to_string());
                    self.sent.thread_start = Some(params);
                }
            }
            SPARE_THREAD_ID => {
                self.thread = message["result"]["thread"]["id"]
                    .as_str()
                    .map(str::to_owned);
            }
            _ => {}
        }
    }
}

impl Stream {
    /// The adapter of `spec`'s turn; its first line, `initialize`, is ready to be taken.
    pub fn new(spec: &Spec) -> Stream {
        Stream::after_spare(spec, &SpareSent::default())
    }

    /// The adapter of `spec`'s turn on a backend to which a warm spare sent `sent`: it sends
    /// the rest, and reads the backend's output from its start (the answers to the spare's
    /// requests included). The spare's thread is the turn's only when the turn would start
    /// exactly that thread: no resume, the same params.
    pub fn after_spare(spec: &Spec, sent: &SpareSent) -> Stream {
        let mut stream = Stream {
            phase: Phase::Initializing,
            spare: sent.clone(),
            uses_spare_thread: false,
            setup: Setup::of(spec),
            input: Vec::new(),
            approvals: BTreeMap::new(),
            next_steer: FIRST_STEER_ID,
            session: emit::Session::default(),
            total: emit::ThreadTotal::new(spec.previous_total_usage.unwrap_or_default()),
        };
        if !sent.initialize {
            stream.request(INITIALIZE_ID, INITIALIZE, initialize_params());
        }
        stream
    }

    /// The lines written since the last call.
    pub fn take_input(&mut self) -> Vec<String> {
        std::mem::take(&mut self.input)
    }

    /// `turn/interrupt` of Codex's running turn; `None` before it started or once it ended.
    pub fn interrupt_request(&self) -> Option<String> {
        let Phase::Running { thread, turn } = &self.phase else {
            return None;
        };
        let params = json!({"threadId": thread, "turnId": turn});
        Some(json!({"id": INTERRUPT_ID, "method": TURN_INTERRUPT, "params": params}).to_string())
    }

    /// Codex's `turn/steer` of its running turn with `text`; `None` before it started or once
    /// it ended. Codex adds the message to its running turn (the next model request carries
    /// it), whose `turn/completed` stays the end.
    pub fn steer_request(&mut self, text: &str) -> Option<String> {
        let Phase::Running { thread, turn } = &self.phase else {
            return None;
        };
        let input = [json!({"type": "text", "text": text, "text_elements": []})];
        let params = json!({"threadId": thread, "input": input, "expectedTurnId": turn});
        let id = self.next_steer;
        self.next_steer += 1;
        Some(json!({"id": id, "method": TURN_STEER, "params": params}).to_string())
    }

    /// The JSON-RPC response that carries `decision` for approval request `request_id`.
    pub fn approval_answer(&mut self, request_id: &str, decision: &Value) -> Option<String> {
        let id = self.approvals.remove(request_id)?;
        Some(json!({"id": id, "result": {"decision": decision}}).to_string())
    }

    /// Maps one line of the app-server's stdout.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let message: Value = match serde_json::from_slice(line) {
            Ok(message @ Value::Object(_)) => message,
            Ok(_) | Err(_) => {
                let text = String::from_utf8_lossy(line);
                let start: String = text.chars().take(200).collect();
                out.push(Event::Warning {
                    message: format!(
                        "skipped a line of codex app-server that is no JSON-RPC message: {start}"
                    ),
                });
                return;
            }
        };
        let method = message.get("method").and_then(Value::as_str);
        match (method, message.get("id")) {
            (Some(method), Some(id)) => self.on_server_request(method, id.clone(), &message, out),
            (Some(method), None) => self.on_notification(method, &message["params"], out),
            (None, Some(id)) => self.on_response(id, &message, out),
            (None, None) => {}
        }
    }

    /// Stdout ended: a turn that never completed gets no marker (the runner reports the
    /// exit without one).
    pub fn finish(&mut self, _out: &mut [Event]) {}

    fn request(&mut self, id: i64, method: &str, params: Value) {
        self.input
            .push(json!({"id": id, "method": method, "params": params}).to_string());
    }

    /// Which of our requests (or the spare's) `id` answers.
    fn answered(&self, id: &Value) -> Option<Answer> {
        if let Some(id) = id.as_str() {
            return match id {
                SPARE_INITIALIZE_ID => Some(Answer::Initialize),
                SPARE_THREAD_ID if self.uses_spare_thread => Some(Answer::Thread),
                SPARE_THREAD_ID => Some(Answer::UnusedSpareThread),
                _ => None,
            };
        }
        match id.as_i64()? {
            INITIALIZE_ID => Some(Answer::Initialize),
            THREAD_ID => Some(Answer::Thread),
            TURN_ID => Some(Answer::Turn),
            INTERRUPT_ID => Some(Answer::Interrupt),
            id if id >= FIRST_STEER_ID => Some(Answer::Steer),
            _ => None,
        }
    }

    fn on_response(&mut self, id: &Value, message: &Value, out: &mut Vec<Event>) {
        let Some(answer) = self.answered(id) else {
            return;
        };
        if let Some(error) = message.get("error") {
            let text = error["message"].as_str().unwrap_or("no message");
            let method = match answer {
                Answer::Steer => {
                    // The turn goes on without the message (Codex's turn had just ended, say).
                    out.push(Event::Warning {
                        message: format!("codex app-server refused {TURN_STEER}: {text}"),
                    });
                    return;
                }
                // The turn does not need either.
                Answer::Interrupt | Answer::UnusedSpareThread => return,
                Answer::Initialize => INITIALIZE,
                Answer::Thread if self.setup.resume.is_some() => THREAD_RESUME,
                Answer::Thread => THREAD_START,
                Answer::Turn => TURN_START,
            };
            self.fail(format!("codex app-server refused {method}: {text}"), out);
            return;
        }
        let result = &message["result"];
        match (answer, &self.phase) {
            (Answer::Initialize, Phase::Initializing) => self.open_thread(),
            (Answer::Thread, Phase::OpeningThread) => match result["thread"]["id"].as_str() {
                Some(thread) => {
                    self.session.named(Some(thread), out);
                    self.start_turn(thread.to_owned());
                }
                None => self.fail("codex app-server named no thread".to_owned(), out),
            },
            (Answer::Turn, Phase::StartingTurn { thread }) => {
                if let Some(turn) = result["turn"]["id"].as_str() {
                    self.phase = Phase::Running {
                        thread: thread.clone(),
                        turn: turn.to_owned(),
                    };
                }
            }
            _ => {}
        }
    }

    /// `initialized` (unless the spare sent it), then `thread/resume` of the recorded thread
    /// or `thread/start`; or nothing when the spare's `thread/start` is the one the turn
    /// would send (its answer opens the thread).
    fn open_thread(&mut self) {
        if !self.spare.initialized {
            self.input.push(json!({"method": INITIALIZED}).to_string());
        }
        self.phase = Phase::OpeningThread;
        let mut params = self.setup.thread_params();
        let method = match &self.setup.resume {
            Some(thread) => {
                params["threadId"] = Value::from(thread.clone());
                THREAD_RESUME
            }
            None if self.spare.thread_start.as_ref() == Some(&params) => {
                self.uses_spare_thread = true;
                return;
            }
            None => THREAD_START,
        };
        self.request(THREAD_ID, method, params);
    }

    /// The turn's model and approval policy, which `thread/start` (or `thread/resume`) and
    /// `turn/start` both carry.
    fn insert_model_and_approvals(&self, params: &mut Value) {
        insert(params, "model", self.setup.model.clone().map(Value::from));
        insert(params, "approvalPolicy", self.setup.approval_policy.clone());
    }

    /// `turn/start` with the prompt (and the local images) and the turn's settings.
    fn start_turn(&mut self, thread: String) {
        let mut input =
            vec![json!({"type": "text", "text": self.setup.prompt, "text_elements": []})];
        input.extend(
            self.setup
                .images
                .iter()
                .map(|path| json!({"type": "localImage", "path": path})),
        );
        let mut params = json!({"threadId": thread, "input": input, "cwd": self.setup.cwd});
        self.insert_model_and_approvals(&mut params);
        insert(
            &mut params,
            "sandboxPolicy",
            self.setup.sandbox_policy.clone(),
        );
        self.request(TURN_ID, TURN_START, params);
        self.phase = Phase::StartingTurn { thread };
    }

    fn on_notification(&mut self, method: &str, params: &Value, out: &mut Vec<Event>) {
        let text = |key: &str| params[key].as_str().unwrap_or_default().to_owned();
        let index = |key: &str| params[key].as_u64().unwrap_or(0) as u32;
        match method {
            // A thread the spare started and the turn does not take is not the turn's
            // session (the answer to the turn's own request names that one).
            THREAD_STARTED if self.spare.thread_start.is_some() && !self.uses_spare_thread => {}
            THREAD_STARTED => self.session.named(params["thread"]["id"].as_str(), out),
            ITEM_STARTED | ITEM_COMPLETED => {
                let item = params["item"].clone();
                // The server shows the user's own input; Codex's copy would be a second one.
                if item["type"] == "userMessage" || !item.is_object() {
                    return;
                }
                out.push(if method == ITEM_STARTED {
                    Event::ItemStarted { item }
                } else {
                    Event::ItemCompleted { item }
                });
            }
            AGENT_MESSAGE_DELTA => out.push(Event::AgentMessageDelta {
                item_id: text("itemId"),
                delta: text("delta"),
            }),
            REASONING_SUMMARY_DELTA => out.push(Event::ReasoningSummaryDelta {
                item_id: text("itemId"),
                delta: text("delta"),
                summary_index: index("summaryIndex"),
            }),
            REASONING_TEXT_DELTA => out.push(Event::ReasoningTextDelta {
                item_id: text("itemId"),
                delta: text("delta"),
                content_index: index("contentIndex"),
            }),
            COMMAND_OUTPUT_DELTA => out.push(Event::CommandOutputDelta {
                item_id: text("itemId"),
                delta: text("delta"),
            }),
            TOKEN_USAGE_UPDATED => self.usage(params, out),
            TURN_DIFF_UPDATED => out.push(Event::TurnDiff { diff: text("diff") }),
            ERROR => out.push(Event::Error {
                message: params["error"]["message"]
                    .as_str()
                    .unwrap_or("codex reported an error")
                    .to_owned(),
                will_retry: params["willRetry"].as_bool().unwrap_or(false),
            }),
            TURN_COMPLETED => self.turn_completed(&params["turn"], out),
            // Everything else (plan updates, MCP progress, rate limits, …) has no canonical
            // event; the items carry their final state.
            _ => {}
        }
    }

    /// Codex's `last` grows the thread's total; its `total` is its own thread's figure. Only
    /// the reports of this turn count: a resumed thread first reports what it had before.
    fn usage(&mut self, params: &Value, out: &mut Vec<Event>) {
        let Phase::Running { turn, .. } = &self.phase else {
            return;
        };
        if params["turnId"].as_str() != Some(turn) {
            return;
        }
        let usage = &params["tokenUsage"];
        let (Some(last), Some(total)) = (breakdown(&usage["last"]), breakdown(&usage["total"]))
        else {
            return;
        };
        let window = usage["modelContextWindow"].as_u64();
        out.push(self.total.add(last, window, Some(total)));
    }

    fn turn_completed(&mut self, turn: &Value, out: &mut Vec<Event>) {
        if self.phase == Phase::Ended {
            return;
        }
        self.phase = Phase::Ended;
        let marker = match turn["status"].as_str() {
            Some("completed") => emit::completed(),
            Some("interrupted") => Event::Marker {
                outcome: MarkerOutcome::Failed,
                error: Some(ErrorInfo::new("codex interrupted its turn")),
            },
            _ => Event::Marker {
                outcome: MarkerOutcome::Failed,
                error: Some(ErrorInfo::new(
                    turn["error"]["message"]
                        .as_str()
                        .unwrap_or("codex reported a failed turn"),
                )),
            },
        };
        out.push(marker);
    }

    /// The conversation cannot go on: the error, and the marker that ends the turn.
    fn fail(&mut self, message: String, out: &mut Vec<Event>) {
        if self.phase != Phase::Ended {
            self.phase = Phase::Ended;
            emit::failed(message, out);
        }
    }

    fn on_server_request(
        &mut self,
        method: &str,
        id: Value,
        message: &Value,
        out: &mut Vec<Event>,
    ) {
        let params = &message["params"];
        let kind = match method {
            COMMAND_APPROVAL => ApprovalKind::CommandExecution,
            FILE_CHANGE_APPROVAL => ApprovalKind::FileChange,
            other => {
                // Nothing else is offered to our client: Codex hears a clear refusal.
                let error = json!({"code": -32601,
                    "message": format!("agent-host does not answer {other}")});
                self.input
                    .push(json!({"id": id, "error": error}).to_string());
                out.push(Event::Warning {
                    message: format!("codex asked {other}, which agent-host does not answer"),
                });
                return;
            }
        };
        let request_id = match &id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        self.approvals.insert(request_id.clone(), id);
        let text = |key: &str| params[key].as_str().map(str::to_owned);
        out.push(Event::ApprovalRequested {
            request_id,
            kind,
            item_id: text("itemId").unwrap_or_default(),
            reason: text("reason"),
            command: text("command"),
            cwd: text("cwd"),
        });
    }
}

/// Sets `key` when there is a value.
fn insert(params: &mut Value, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        params[key] = value;
    }
}

/// The mode of the spec's sandbox, as `thread/start` takes it; `None` without a sandbox in
/// the spec and for an external one.
fn sandbox_mode(spec: &Spec) -> Option<&'static str> {
    spec.sandbox_policy.as_ref()?;
    match Permissions::of(spec).sandbox {
        Sandbox::External => None,
        sandbox @ (Sandbox::ReadOnly
        | Sandbox::WorkspaceWrite { .. }
        | Sandbox::DangerFullAccess) => Some(sandbox.as_str()),
    }
}

/// A `TokenUsageBreakdown` of Codex.
fn breakdown(value: &Value) -> Option<TokenBreakdown> {
    let field = |key: &str| value[key].as_u64();
    Some(TokenBreakdown {
        total_tokens: field("totalTokens")?,
        input_tokens: field("inputTokens")?,
        cached_input_tokens: field("cachedInputTokens").unwrap_or(0),
        cache_write_input_tokens: 0,
        output_tokens: field("outputTokens")?,
        reasoning_output_tokens: field("reasoningOutputTokens").unwrap_or(0),
    })
}

/// Which of the turn's settings a `codex` app-server cannot be given, if one cannot: a
/// granular `approvalPolicy` is part of Codex's experimental API, which the adapter does not
/// opt into (it speaks the stable schema only, which the pin test checks). Every other
/// policy and sandbox is Codex's own and passes as it is.
pub fn refusal(permissions: &Permissions) -> Option<String> {
    match permissions.approval {
        Approval::Granular => Some(
            "approvalPolicy `granular`: agent-host drives codex app-server through its stable \
             API, which has no granular approvals; use untrusted, on-request or never"
                .to_owned(),
        ),
        Approval::Untrusted | Approval::OnRequest | Approval::Never => None,
    }
}

/// Where in Codex's schema a use is found: a method of one of its message unions (the
/// method's `params`), or a type of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaPlace {
    /// A client request (`ClientRequest.json`): its `params`.
    ClientRequest(&'static str),
    /// A client notification (`ClientNotification.json`).
    ClientNotification(&'static str),
    /// A server notification (`ServerNotification.json`): its `params`.
    ServerNotification(&'static str),
    /// A server request (`ServerRequest.json`): its `params`.
    ServerRequest(&'static str),
    /// A type's own file (`v2/TurnStartResponse`, `CommandExecutionRequestApprovalResponse`).
    Type(&'static str),
}

/// One method or type the adapter uses, and the fields of it that it reads or writes (dotted
/// paths; `path=value` when the adapter relies on that value of an enum).
#[derive(Debug, Clone, Copy)]
pub struct SchemaUse {
    pub place: SchemaPlace,
    pub fields: &'static [&'static str],
}

/// Everything this adapter uses of Codex's app-server protocol; `tests/it/codex_pin.rs`
/// checks each against the installed Codex's `generate-json-schema`. Keep it in step with
/// the code above.
pub const SCHEMA_USES: &[SchemaUse] = &[
    SchemaUse {
        place: SchemaPlace::ClientRequest(INITIALIZE),
        fields: &["clientInfo.name", "clientInfo.title", "clientInfo.version"],
    },
    SchemaUse {
        place: SchemaPlace::ClientNotification(INITIALIZED),
        fields: &[],
    },
    SchemaUse {
        place: SchemaPlace::ClientRequest(THREAD_START),
        fields: &[
            "cwd",
            "model",
            "approvalPolicy=untrusted",
            "approvalPolicy=on-request",
            "approvalPolicy=never",
            "sandbox=read-only",
            "sandbox=workspace-write",
            "sandbox=danger-full-access",
        ],
    },
    SchemaUse {
        place: SchemaPlace::ClientRequest(THREAD_RESUME),
        fields: &["threadId", "cwd", "model", "approvalPolicy", "sandbox"],
    },
    SchemaUse {
        place: SchemaPlace::Type("v2/ThreadStartResponse"),
        fields: &["thread.id"],
    },
    SchemaUse {
        place: SchemaPlace::Type("v2/ThreadResumeResponse"),
        fields: &["thread.id"],
    },
    SchemaUse {
        place: SchemaPlace::ClientRequest(TURN_START),
        fields: &[
            "threadId",
            "input.type=text",
            "input.text",
            "input.text_elements",
            "input.type=localImage",
            "input.path",
            "cwd",
            "model",
            "approvalPolicy",
            "sandboxPolicy.type=readOnly",
            "sandboxPolicy.type=workspaceWrite",
            "sandboxPolicy.type=dangerFullAccess",
            "sandboxPolicy.type=externalSandbox",
            "sandboxPolicy.networkAccess",
            "sandboxPolicy.writableRoots",
            "sandboxPolicy.excludeTmpdirEnvVar",
            "sandboxPolicy.excludeSlashTmp",
        ],
    },
    SchemaUse {
        place: SchemaPlace::Type("v2/TurnStartResponse"),
        fields: &["turn.id"],
    },
    SchemaUse {
        place: SchemaPlace::ClientRequest(TURN_INTERRUPT),
        fields: &["threadId", "turnId"],
    },
    SchemaUse {
        place: SchemaPlace::ClientRequest(TURN_STEER),
        fields: &[
            "threadId",
            "input.type=text",
            "input.text",
            "input.text_elements",
            "expectedTurnId",
        ],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(THREAD_STARTED),
        fields: &["thread.id"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(ITEM_STARTED),
        fields: &["item.type=userMessage", "item.type=agentMessage", "item.id"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(ITEM_COMPLETED),
        fields: &["item"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(AGENT_MESSAGE_DELTA),
        fields: &["itemId", "delta"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(REASONING_SUMMARY_DELTA),
        fields: &["itemId", "delta", "summaryIndex"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(REASONING_TEXT_DELTA),
        fields: &["itemId", "delta", "contentIndex"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(COMMAND_OUTPUT_DELTA),
        fields: &["itemId", "delta"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(TOKEN_USAGE_UPDATED),
        fields: &[
            "turnId",
            "tokenUsage.modelContextWindow",
            "tokenUsage.last.totalTokens",
            "tokenUsage.last.inputTokens",
            "tokenUsage.last.cachedInputTokens",
            "tokenUsage.last.outputTokens",
            "tokenUsage.last.reasoningOutputTokens",
            "tokenUsage.total.totalTokens",
            "tokenUsage.total.inputTokens",
            "tokenUsage.total.cachedInputTokens",
            "tokenUsage.total.outputTokens",
            "tokenUsage.total.reasoningOutputTokens",
        ],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(TURN_DIFF_UPDATED),
        fields: &["diff"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(ERROR),
        fields: &["error.message", "willRetry"],
    },
    SchemaUse {
        place: SchemaPlace::ServerNotification(TURN_COMPLETED),
        fields: &[
            "turn.status=completed",
            "turn.status=interrupted",
            "turn.status=failed",
            "turn.error.message",
        ],
    },
    SchemaUse {
        place: SchemaPlace::ServerRequest(COMMAND_APPROVAL),
        fields: &["itemId", "reason", "command", "cwd"],
    },
    SchemaUse {
        place: SchemaPlace::ServerRequest(FILE_CHANGE_APPROVAL),
        fields: &["itemId", "reason"],
    },
    SchemaUse {
        place: SchemaPlace::Type("CommandExecutionRequestApprovalResponse"),
        fields: &["decision=accept", "decision=decline"],
    },
    SchemaUse {
        place: SchemaPlace::Type("FileChangeRequestApprovalResponse"),
        fields: &["decision=accept", "decision=decline"],
    },
];

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::backend::test_support::types;
    use crate::events::Mode;
    use crate::spec::{Approvals, BackendKind, GraceMs, InputMode, PromptVia, Provider};

    fn spec(resume: Option<&str>) -> Spec {
        Spec {
            v: 1,
            thread_id: "t".to_owned(),
            turn_id: "u".to_owned(),
            mode: Mode::Foreground,
            cwd: PathBuf::from("/work"),
            provider: Provider {
                name: "app".to_owned(),
                kind: BackendKind::Codex,
                command: String::new(),
                args: Vec::new(),
                env: Vec::new(),
                env_inherit: None,
                prompt_via: PromptVia::Arg,
                approvals: Approvals::None,
                input: InputMode::Once,
            },
            prompt: "hello".to_owned(),
            images: vec![PathBuf::from("/img/a.png")],
            model: Some("m".to_owned()),
            resume_session_id: resume.map(str::to_owned),
            approval_policy: Some(json!("on-request")),
            sandbox_policy: Some(json!({"type": "readOnly", "networkAccess": false})),
            grace_ms: GraceMs::default(),
            previous_total_usage: None,
            resumed_session_usage: None,
        }
    }

    fn sent(stream: &mut Stream) -> Vec<Value> {
        stream
            .take_input()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The methods of `lines`, in order.
    fn methods_of(lines: &[Value]) -> Vec<&str> {
        lines
            .iter()
            .map(|line| line["method"].as_str().unwrap())
            .collect()
    }

    fn feed(stream: &mut Stream, message: Value) -> Vec<Event> {
        let mut out = Vec::new();
        stream.on_line(message.to_string().as_bytes(), &mut out);
        out
    }

    /// A stream past `turn/start`, with Codex's thread `th` and turn `tu`.
    fn running(resume: Option<&str>) -> (Stream, Vec<Value>) {
        let mut stream = Stream::new(&spec(resume));
        let mut lines = sent(&mut stream);
        feed(&mut stream, json!({"id": 0, "result": {}}));
        lines.extend(sent(&mut stream));
        let out = feed(
            &mut stream,
            json!({"id": 1, "result": {"thread": {"id": "th"}}}),
        );
        assert_eq!(types(&out), ["backendSession"]);
        lines.extend(sent(&mut stream));
        feed(
            &mut stream,
            json!({"id": 2, "result": {"turn": {"id": "tu"}}}),
        );
        (stream, lines)
    }

    #[test]
    fn a_fresh_turn_starts_a_thread_then_the_turn_with_the_settings() {
        let (stream, lines) = running(None);
        let methods = methods_of(&lines);
        assert_eq!(methods, [INITIALIZE, INITIALIZED, THREAD_START, TURN_START]);
        assert_eq!(
            lines[2]["params"],
            json!({"cwd": "/work", "model": "m", "approvalPolicy": "on-request",
                   "sandbox": "read-only"})
        );
        let turn = &lines[3]["params"];
        assert_eq!(turn["threadId"], "th");
        assert_eq!(turn["input"][0]["text"], "hello");
        assert_eq!(
            turn["input"][1],
            json!({"type": "localImage", "path": "/img/a.png"})
        );
        assert_eq!(
            turn["sandboxPolicy"],
            json!({"type": "readOnly", "networkAccess": false})
        );
        assert_eq!(turn["approvalPolicy"], "on-request");
        let interrupt: Value = serde_json::from_str(&stream.interrupt_request().unwrap()).unwrap();
        assert_eq!(interrupt["method"], TURN_INTERRUPT);
        let mut stream = stream;
        let steer: Value =
            serde_json::from_str(&stream.steer_request("also this").unwrap()).unwrap();
        assert_eq!(steer["method"], TURN_STEER);
        assert_eq!(steer["params"]["expectedTurnId"], "tu");
        assert_eq!(steer["params"]["input"][0]["text"], "also this");
        let refused = feed(
            &mut stream,
            json!({"id": steer["id"], "error": {"code": -32600, "message": "no active turn"}}),
        );
        assert_eq!(
            types(&refused),
            ["warning"],
            "a refused steer does not end the turn"
        );
        assert!(stream.interrupt_request().is_some());
        assert_eq!(
            interrupt["params"],
            json!({"threadId": "th", "turnId": "tu"})
        );
    }

    /// What a warm spare sent, its lines, and what its app-server answered (the spare's
    /// thread is `sth`, when it had params for one).
    fn warmed_up(thread_start: Option<Value>) -> (SpareSent, Vec<Value>, Vec<Value>) {
        let mut warmup = Warmup::new(thread_start.clone());
        let mut lines: Vec<Value> = warmup
            .take_input()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let mut answers = vec![json!({"id": SPARE_INITIALIZE_ID, "result": {}})];
        warmup.on_line(answers[0].to_string().as_bytes());
        assert!(warmup.initialized());
        if thread_start.is_some() {
            answers.push(json!({"id": SPARE_THREAD_ID, "result": {"thread": {"id": "sth"}}}));
            answers.push(json!({"method": THREAD_STARTED, "params": {"thread": {"id": "sth"}}}));
            warmup.on_line(answers[1].to_string().as_bytes());
            assert_eq!(warmup.thread(), Some("sth"));
        }
        lines.extend(
            warmup
                .take_input()
                .iter()
                .map(|line| serde_json::from_str::<Value>(line).unwrap()),
        );
        (warmup.sent().clone(), lines, answers)
    }

    #[test]
    fn a_warm_spare_says_only_what_needs_no_prompt() {
        let params = thread_start_params(&spec(None));
        let (spare, lines, _) = warmed_up(Some(params.clone()));
        let methods = methods_of(&lines);
        assert_eq!(methods, [INITIALIZE, INITIALIZED, THREAD_START]);
        assert_eq!(lines[2]["params"], params);
        assert!(!lines.iter().any(|l| l.to_string().contains("hello")));
        assert_eq!(
            spare,
            SpareSent {
                initialize: true,
                initialized: true,
                thread_start: Some(params)
            }
        );
        let mut refused = Warmup::new(None);
        refused.on_line(br#"{"id":"spare-initialize","error":{"code":-1,"message":"no"}}"#);
        assert!(refused.refused().is_some());
    }

    /// The adapter after a spare: what it sends and the events of the spare's answers.
    fn after(
        spec: &Spec,
        spare: &SpareSent,
        answers: &[Value],
    ) -> (Stream, Vec<Value>, Vec<Event>) {
        let mut stream = Stream::after_spare(spec, spare);
        let mut lines = sent(&mut stream);
        let mut out = Vec::new();
        for answer in answers {
            out.extend(feed(&mut stream, answer.clone()));
            lines.extend(sent(&mut stream));
        }
        (stream, lines, out)
    }

    #[test]
    fn a_turn_takes_the_spare_thread_only_when_it_would_start_exactly_that_one() {
        let (spare, _, answers) = warmed_up(Some(thread_start_params(&spec(None))));
        // The same settings: straight to turn/start on the spare's thread.
        let (_, lines, out) = after(&spec(None), &spare, &answers);
        let methods = methods_of(&lines);
        assert_eq!(methods, [TURN_START]);
        assert_eq!(lines[0]["params"]["threadId"], "sth");
        assert_eq!(
            out,
            [Event::BackendSession {
                session_id: "sth".to_owned()
            }]
        );

        // Another model: its own thread/start in the same process; the spare's thread is not
        // the turn's session, whenever its notification comes.
        let mut other = spec(None);
        other.model = Some("other".to_owned());
        let (mut stream, lines, out) = after(&other, &spare, &answers);
        let methods = methods_of(&lines);
        assert_eq!(methods, [THREAD_START]);
        assert_eq!(lines[0]["params"]["model"], "other");
        assert_eq!(lines[0]["id"], THREAD_ID);
        assert!(out.is_empty(), "{out:?}");
        let out = feed(
            &mut stream,
            json!({"id": THREAD_ID, "result": {"thread": {"id": "own"}}}),
        );
        assert_eq!(
            out,
            [Event::BackendSession {
                session_id: "own".to_owned()
            }]
        );
        let late = json!({"method": THREAD_STARTED, "params": {"thread": {"id": "sth"}}});
        assert!(feed(&mut stream, late).is_empty());
        let turn = sent(&mut stream);
        assert_eq!(turn[0]["params"]["threadId"], "own");
        assert_eq!(turn[0]["params"]["model"], "other");

        // A continued session resumes its recorded thread, never the spare's.
        let (_, lines, out) = after(&spec(Some("th")), &spare, &answers);
        assert_eq!(lines[0]["method"], THREAD_RESUME);
        assert_eq!(lines[0]["params"]["threadId"], "th");
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn after_a_spare_that_only_initialized_the_turn_opens_its_thread() {
        let (spare, _, answers) = warmed_up(None);
        let (_, lines, _) = after(&spec(None), &spare, &answers);
        let methods = methods_of(&lines);
        assert_eq!(
            methods,
            [THREAD_START],
            "no second initialize or initialized"
        );
        // Adopted before Codex answered initialize: the answer still comes, then the rest.
        let early = SpareSent {
            initialize: true,
            ..SpareSent::default()
        };
        let (_, lines, _) = after(&spec(None), &early, &answers[..1]);
        let methods = methods_of(&lines);
        assert_eq!(methods, [INITIALIZED, THREAD_START]);
        // A refused initialize fails the turn as it would cold.
        let refused = json!({"id": SPARE_INITIALIZE_ID, "error": {"code": -1, "message": "no"}});
        let (_, _, out) = after(&spec(None), &early, &[refused]);
        assert_eq!(types(&out), ["error", "marker"]);
    }

    #[test]
    fn a_continued_session_resumes_the_recorded_thread() {
        let (_, lines) = running(Some("th"));
        assert_eq!(lines[2]["method"], THREAD_RESUME);
        assert_eq!(lines[2]["params"]["threadId"], "th");
    }

    #[test]
    fn notifications_map_one_to_one_and_the_approval_answer_is_the_response() {
        let (mut stream, _) = running(None);
        let item = json!({"type": "agentMessage", "id": "m1", "text": ""});
        let user = json!({"type": "userMessage", "id": "u1", "content": []});
        let usage = |turn: &str| {
            let b = json!({"totalTokens": 5, "inputTokens": 4, "cachedInputTokens": 0,
                           "outputTokens": 1, "reasoningOutputTokens": 0});
            json!({"method": TOKEN_USAGE_UPDATED, "params": {"turnId": turn,
                "tokenUsage": {"total": b, "last": b, "modelContextWindow": 9}}})
        };
        let mut out = Vec::new();
        for message in [
            json!({"method": ITEM_STARTED, "params": {"item": user}}),
            json!({"method": ITEM_STARTED, "params": {"item": item}}),
            json!({"method": AGENT_MESSAGE_DELTA, "params": {"itemId": "m1", "delta": "a"}}),
            usage("an-earlier-turn"),
            usage("tu"),
            json!({"id": "r7", "method": COMMAND_APPROVAL,
                   "params": {"itemId": "c1", "command": "ls", "cwd": "/work", "reason": null}}),
            json!({"method": TURN_COMPLETED, "params": {"turn": {"id": "tu", "status": "completed"}}}),
        ] {
            out.extend(feed(&mut stream, message));
        }
        assert_eq!(
            types(&out),
            [
                "itemStarted",
                "agentMessageDelta",
                "tokenUsage",
                "approvalRequested",
                "marker"
            ]
        );
        let answer: Value =
            serde_json::from_str(&stream.approval_answer("r7", &json!("decline")).unwrap())
                .unwrap();
        assert_eq!(
            answer,
            json!({"id": "r7", "result": {"decision": "decline"}})
        );
        assert_eq!(
            stream.approval_answer("r7", &json!("accept")),
            None,
            "answered once"
        );
        assert_eq!(stream.interrupt_request(), None, "the turn has ended");
    }

    #[test]
    fn every_kind_of_item_passes_as_codex_sent_it_and_plan_updates_are_dropped() {
        let (mut stream, _) = running(None);
        let items = [
            json!({"type": "commandExecution", "id": "c1", "command": "ls"}),
            json!({"type": "fileChange", "id": "f1", "changes": [], "status": "inProgress"}),
            json!({"type": "mcpToolCall", "id": "m1", "server": "s", "tool": "t"}),
            json!({"type": "plan", "id": "p1", "text": "1. look"}),
        ];
        let mut out = Vec::new();
        for item in &items {
            for method in [ITEM_STARTED, ITEM_COMPLETED] {
                out.extend(feed(
                    &mut stream,
                    json!({"method": method, "params": {"item": item}}),
                ));
            }
        }
        let plan = json!({"method": "turn/plan/updated", "params": {"plan": []}});
        out.extend(feed(&mut stream, plan));
        let passed: Vec<&Value> = out
            .iter()
            .map(|event| match event {
                Event::ItemStarted { item } | Event::ItemCompleted { item } => item,
                other => panic!("{other:?}"),
            })
            .collect();
        let sent: Vec<&Value> = items.iter().flat_map(|item| [item, item]).collect();
        assert_eq!(passed, sent);
    }

    #[test]
    fn a_refused_request_fails_the_turn_and_other_server_requests_are_refused() {
        let mut stream = Stream::new(&spec(None));
        sent(&mut stream);
        let out = feed(
            &mut stream,
            json!({"id": 5, "method": "item/tool/requestUserInput", "params": {}}),
        );
        assert_eq!(types(&out), ["warning"]);
        assert_eq!(sent(&mut stream)[0]["error"]["code"], -32601);
        let out = feed(
            &mut stream,
            json!({"id": 0, "error": {"code": -1, "message": "no"}}),
        );
        assert_eq!(types(&out), ["error", "marker"]);
        assert!(refusal(&Permissions::of(&spec(None))).is_none());
        let mut granular = spec(None);
        granular.approval_policy = Some(json!({"granular": {"rules": true}}));
        let problem = refusal(&Permissions::of(&granular)).unwrap();
        assert!(problem.contains("approvalPolicy `granular`"), "{problem}");
    }
}
