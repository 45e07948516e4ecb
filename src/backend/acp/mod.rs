//! Kind `acp`: an Agent Client Protocol agent over stdio (newline-delimited JSON-RPC 2.0),
//! with the runner as its client for one turn (`docs/backends.md`, "acp").
//!
//! The conversation of one turn: `initialize` (protocol version 1, no client capabilities:
//! we serve no file system and no terminal), then `session/load` of the session the thread
//! continues when there is one and the agent advertises `loadSession`, else `session/new`;
//! then `session/set_mode` when the turn's sandbox and approval policy ask for another of the
//! agent's session modes (`modes.rs`); then one `session/prompt`. The agent's
//! `session/update` notifications become items and deltas (updates before the prompt, such
//! as the history a loaded session replays, are not the turn's and are skipped); its
//! `session/request_permission` requests become approval requests
//! ([`Stream::approval_answer`] writes the decision back as the option the agent offered), or
//! with `approvalPolicy` `never` are answered here without asking anyone; the answer to
//! `session/prompt` is the end marker, after which the runner closes stdin and the agent
//! exits. The cancel is `session/cancel`, with every pending permission request answered
//! `cancelled` first, as the protocol asks. Requests we do not serve get a JSON-RPC "method
//! not found" error.
//!
//! Lines to the agent are queued here and taken by the runner ([`Stream::take_input`]),
//! which writes them to the agent's stdin in order.

mod modes;
#[cfg(test)]
mod tests;
mod tools;

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::UsageBase;
use super::emit::{self, Session, ThreadTotal};
use super::lines::Lines;
use super::permissions::{Permissions, Sandbox};
use super::tool_items::ToolKind;
use crate::events::{ApprovalKind, Event, TokenBreakdown};
use tools::Tools;

/// The ACP protocol version we speak.
const PROTOCOL_VERSION: u64 = 1;

/// What one of our requests to the agent was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Initialize,
    NewSession,
    LoadSession,
    SetMode,
    Prompt,
}

impl Call {
    fn method(self) -> &'static str {
        match self {
            Call::Initialize => "initialize",
            Call::NewSession => "session/new",
            Call::LoadSession => "session/load",
            Call::SetMode => "session/set_mode",
            Call::Prompt => "session/prompt",
        }
    }
}

/// A permission request of the agent waiting for our client's decision.
#[derive(Debug)]
struct Permission {
    /// The agent's JSON-RPC request id, echoed in the answer.
    rpc_id: Value,
    options: Vec<Value>,
    tool_call_id: Option<String>,
}

/// A text item being written from chunks: an agent message or reasoning.
#[derive(Debug)]
struct OpenText {
    id: String,
    text: String,
}

/// The state of one ACP agent process, for one turn.
#[derive(Debug)]
pub struct Stream {
    turn_id: String,
    cwd: String,
    /// The session the thread continues.
    resume: Option<String>,
    /// The turn's approval policy and sandbox: the session mode, and who answers the agent's
    /// permission requests.
    asked: Permissions,
    /// The user's prompt, from the first user message until `session/prompt` is sent.
    prompt: Option<String>,
    started: bool,
    lines: Lines,
    session: Session,
    thread_total: ThreadTotal,
    session_id: Option<String>,
    next_request: u64,
    calls: HashMap<u64, Call>,
    outgoing: Vec<String>,
    /// `session/prompt` was sent: updates from now on are the turn's.
    prompting: bool,
    /// The marker was emitted.
    ended: bool,
    /// `session/cancel` was sent: no more permission requests reach the client.
    cancelled: bool,
    message: Option<OpenText>,
    thought: Option<OpenText>,
    plan: Option<OpenText>,
    texts: u32,
    tools: Tools,
    /// Pending permission requests, by our approval request id.
    permissions: BTreeMap<String, Permission>,
}

impl Stream {
    pub fn new(turn_id: &str, cwd: &str, usage: UsageBase, asked: Permissions) -> Stream {
        Stream {
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            resume: usage.session_id,
            asked,
            prompt: None,
            started: false,
            lines: Lines::default(),
            session: Session::default(),
            thread_total: ThreadTotal::new(usage.thread_total),
            session_id: None,
            next_request: 0,
            calls: HashMap::new(),
            outgoing: Vec::new(),
            prompting: false,
            ended: false,
            cancelled: false,
            message: None,
            thought: None,
            plan: None,
            texts: 0,
            tools: Tools::new(turn_id, cwd),
            permissions: BTreeMap::new(),
        }
    }

    /// The first user message starts the conversation (its `initialize` line); the agent
    /// takes no more messages during a turn.
    pub fn user_message(&mut self, text: &str) -> Option<String> {
        if self.started {
            return None;
        }
        self.started = true;
        self.prompt = Some(text.to_owned());
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "clientCapabilities": {
                "fs": {"readTextFile": false, "writeTextFile": false},
                "terminal": false,
            },
            "clientInfo": {"name": "agent-host", "version": env!("CARGO_PKG_VERSION")},
        });
        self.request(Call::Initialize, params);
        self.outgoing.pop()
    }

    /// The lines queued for the agent's stdin since the last call.
    pub fn take_input(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outgoing)
    }

    /// The cancel: `cancelled` for every pending permission request, then `session/cancel`;
    /// from now on every permission request is answered `cancelled` at once. `None` before
    /// the session exists (there is nothing to cancel in the protocol yet).
    pub fn cancel(&mut self) -> Option<String> {
        let session_id = self.session_id.clone()?;
        self.cancelled = true;
        let mut lines: Vec<String> = std::mem::take(&mut self.permissions)
            .into_values()
            .map(|p| response(&p.rpc_id, json!({"outcome": {"outcome": "cancelled"}})))
            .collect();
        lines.push(
            json!({"jsonrpc": "2.0", "method": "session/cancel",
                "params": {"sessionId": session_id}})
            .to_string(),
        );
        Some(lines.join("\n"))
    }

    /// The answer line to the permission request `request_id` for our client's (or the
    /// policy's) `decision`: the offered option of the matching kind (`acceptForSession` →
    /// `allow_always`, `accept` and the other `accept…` decisions → `allow_once`, each
    /// falling back to the other; anything else → `reject_once`, else `reject_always`, else
    /// the `cancelled` outcome).
    /// A declined call's item is completed `declined`. `None` for an unknown request.
    pub fn approval_answer(
        &mut self,
        request_id: &str,
        decision: &Value,
        out: &mut Vec<Event>,
    ) -> Option<String> {
        let permission = self.permissions.remove(request_id)?;
        Some(self.answer(permission, decision, out))
    }

    /// The answer line to `permission` for `decision` (see [`Stream::approval_answer`]).
    fn answer(&mut self, permission: Permission, decision: &Value, out: &mut Vec<Event>) -> String {
        let accepts = match decision {
            Value::String(name) => name.starts_with("accept"),
            Value::Object(map) => map.keys().any(|key| key.starts_with("accept")),
            _ => false,
        };
        let wanted: &[&str] = match (accepts, decision.as_str()) {
            (true, Some("acceptForSession")) => &["allow_always", "allow_once"],
            (true, _) => &["allow_once", "allow_always"],
            (false, _) => &["reject_once", "reject_always"],
        };
        let chosen = wanted.iter().find_map(|kind| {
            permission
                .options
                .iter()
                .find(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
                .and_then(|o| o.get("optionId").cloned())
        });
        let allowed = wanted[0].starts_with("allow") && chosen.is_some();
        if !allowed && let Some(call_id) = &permission.tool_call_id {
            self.tools.decline(call_id, out);
        }
        let outcome = match chosen {
            Some(option_id) => json!({"outcome": "selected", "optionId": option_id}),
            None => json!({"outcome": "cancelled"}),
        };
        response(&permission.rpc_id, json!({"outcome": outcome}))
    }

    /// Maps one line from the agent.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Some(message) = self.lines.read_object(line, out) else {
            return;
        };
        let method = message.get("method").and_then(Value::as_str);
        match (method, message.get("id")) {
            (Some(method), Some(id)) => self.on_request(method, id.clone(), &message, out),
            (Some(method), None) => self.on_notification(method, &message, out),
            (None, Some(id)) => self.on_response(id, &message, out),
            (None, None) => out.push(self.lines.skipped(line, "not a JSON-RPC message")),
        }
    }

    /// At stdout EOF: completes whatever is still open.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.close_all(out);
    }

    fn request(&mut self, call: Call, params: Value) {
        let id = self.next_request;
        self.next_request += 1;
        self.calls.insert(id, call);
        self.outgoing.push(
            json!({"jsonrpc": "2.0", "id": id, "method": call.method(), "params": params})
                .to_string(),
        );
    }

    fn on_response(&mut self, id: &Value, message: &Value, out: &mut Vec<Event>) {
        let Some(call) = id.as_u64().and_then(|id| self.calls.remove(&id)) else {
            out.push(Event::Warning {
                message: format!("the ACP agent answered a request we did not send: {id}"),
            });
            return;
        };
        if let Some(error) = message.get("error") {
            let text = error_text(error);
            if call == Call::LoadSession {
                // The turn still runs, on a new session, and says so.
                out.push(Event::Warning {
                    message: format!(
                        "the agent could not load session {} ({text}): this turn starts a new \
                         session",
                        self.resume.as_deref().unwrap_or_default()
                    ),
                });
                self.new_session();
                return;
            }
            self.end_failed(format!("the agent's {} failed: {text}", call.method()), out);
            return;
        }
        let result = message.get("result").cloned().unwrap_or(Value::Null);
        match call {
            Call::Initialize => self.open_session(&result, out),
            Call::NewSession => match result.get("sessionId").and_then(Value::as_str) {
                Some(id) => self.session_opened(id.to_owned(), &result, out),
                None => self.end_failed("the agent's session/new gave no sessionId".into(), out),
            },
            Call::LoadSession => {
                let id = self.resume.clone().unwrap_or_default();
                self.session_opened(id, &result, out);
            }
            Call::SetMode => self.send_prompt(),
            Call::Prompt => self.prompt_answered(&result, out),
        }
    }

    /// After `initialize`: load the thread's session when the agent can, else a new one.
    fn open_session(&mut self, result: &Value, out: &mut Vec<Event>) {
        let can_load = result
            .pointer("/agentCapabilities/loadSession")
            .and_then(Value::as_bool)
            == Some(true);
        match self.resume.clone() {
            Some(session_id) if can_load => self.request(
                Call::LoadSession,
                json!({"sessionId": session_id, "cwd": self.cwd, "mcpServers": []}),
            ),
            resume => {
                if let Some(session_id) = resume {
                    out.push(Event::Warning {
                        message: format!(
                            "the agent cannot load sessions (no loadSession capability): this \
                             turn starts a new session instead of continuing {session_id}"
                        ),
                    });
                }
                self.new_session();
            }
        }
    }

    fn new_session(&mut self) {
        self.request(Call::NewSession, json!({"cwd": self.cwd, "mcpServers": []}));
    }

    /// The session is open: record it, put it in the session mode the client's sandbox
    /// asks for (`session/set_mode`, when it is not in it already), then send the prompt. A
    /// read-only sandbox that the agent has no mode for fails the turn before the prompt.
    fn session_opened(&mut self, session_id: String, result: &Value, out: &mut Vec<Event>) {
        self.session.named(Some(&session_id), out);
        self.session_id = Some(session_id.clone());
        match modes::choose(&self.asked, result.get("modes")) {
            modes::Choice::Keep(warning) => {
                if let Some(message) = warning {
                    out.push(Event::Warning { message });
                }
                self.send_prompt();
            }
            modes::Choice::Set(mode_id) => self.request(
                Call::SetMode,
                json!({"sessionId": session_id, "modeId": mode_id}),
            ),
            modes::Choice::Refuse(message) => self.end_failed(message, out),
        }
    }

    fn send_prompt(&mut self) {
        let session_id = self.session_id.clone().unwrap_or_default();
        let prompt = self.prompt.take().unwrap_or_default();
        self.request(
            Call::Prompt,
            json!({"sessionId": session_id, "prompt": [{"type": "text", "text": prompt}]}),
        );
        self.prompting = true;
    }

    /// The answer to `session/prompt`: the end of the turn.
    fn prompt_answered(&mut self, result: &Value, out: &mut Vec<Event>) {
        self.close_all(out);
        self.ended = true;
        if let Some(last) = prompt_usage(result) {
            out.push(self.thread_total.add(last, None, None));
        }
        match result.get("stopReason").and_then(Value::as_str) {
            Some("refusal") => emit::failed("the agent refused to continue".to_owned(), out),
            Some(reason @ ("max_tokens" | "max_turn_requests")) => {
                out.push(Event::Warning {
                    message: format!("the agent stopped the turn early: {reason}"),
                });
                out.push(emit::completed());
            }
            _ => out.push(emit::completed()),
        }
    }

    fn end_failed(&mut self, message: String, out: &mut Vec<Event>) {
        self.close_all(out);
        self.ended = true;
        emit::failed(message, out);
    }

    fn on_request(&mut self, method: &str, id: Value, message: &Value, out: &mut Vec<Event>) {
        if method == "session/request_permission"
            && self.prompting
            && !self.ended
            && !self.cancelled
        {
            let params = message.get("params").cloned().unwrap_or(Value::Null);
            self.permission_requested(id, &params, out);
            return;
        }
        let error = if method == "session/request_permission" {
            // Outside the prompt, or once it is cancelled, nothing of ours runs: the request
            // is cancelled.
            self.outgoing
                .push(response(&id, json!({"outcome": {"outcome": "cancelled"}})));
            return;
        } else {
            json!({"code": -32601, "message": format!("method not found: {method}")})
        };
        self.outgoing
            .push(json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string());
    }

    /// A permission request: the call's item (opened now if the agent announced none), then
    /// our approval request about it; with `approvalPolicy` `never` nobody is asked, and the
    /// runner answers at once: allowed with full access (the sandbox allows anything), else
    /// rejected (the agent asks for what its mode does not allow).
    fn permission_requested(&mut self, rpc_id: Value, params: &Value, out: &mut Vec<Event>) {
        self.close_texts(out);
        let call = params.get("toolCall").cloned().unwrap_or(Value::Null);
        let summary = self.tools.on_call(&call, out);
        let request_id = format!("acp-{}", rpc_id_text(&rpc_id));
        let permission = Permission {
            rpc_id,
            options: params
                .get("options")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            tool_call_id: call
                .get("toolCallId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        if !self.asked.approval.asks() {
            let decision = match self.asked.sandbox {
                Sandbox::DangerFullAccess | Sandbox::External => "accept",
                Sandbox::ReadOnly | Sandbox::WorkspaceWrite { .. } => "decline",
            };
            let line = self.answer(permission, &Value::from(decision), out);
            self.outgoing.push(line);
            return;
        }
        self.permissions.insert(request_id.clone(), permission);
        let (kind, item_id, command, reason) = match summary {
            Some(s) => (s.kind, s.item_id, s.command, s.title),
            None => (
                ToolKind::Command,
                format!("{}:permission", self.turn_id),
                "tool".to_owned(),
                None,
            ),
        };
        let (kind, command) = match kind {
            ToolKind::FileChange => (ApprovalKind::FileChange, None),
            ToolKind::Command | ToolKind::Mcp => (ApprovalKind::CommandExecution, Some(command)),
        };
        out.push(Event::ApprovalRequested {
            request_id,
            kind,
            item_id,
            reason,
            command,
            cwd: Some(self.cwd.clone()),
        });
    }

    fn on_notification(&mut self, method: &str, message: &Value, out: &mut Vec<Event>) {
        if method != "session/update" || !self.prompting || self.ended {
            return;
        }
        let Some(update) = message.pointer("/params/update") else {
            return;
        };
        match update.get("sessionUpdate").and_then(Value::as_str) {
            Some("agent_message_chunk") if is_notice(update) => {
                // The agent's own notice, not the model's words (claude-agent-acp marks them).
                out.push(Event::Warning {
                    message: chunk_text(update),
                });
            }
            Some("agent_message_chunk") => {
                close_text(&mut self.thought, reasoning_done, out);
                let text = chunk_text(update);
                self.message_delta(&text, out);
            }
            Some("agent_thought_chunk") => {
                close_text(&mut self.message, message_done, out);
                let text = chunk_text(update);
                self.thought_delta(&text, out);
            }
            Some("tool_call" | "tool_call_update") => {
                self.close_texts(out);
                self.tools.on_call(update, out);
            }
            Some("plan") => {
                self.close_texts(out);
                self.plan_update(update, out);
            }
            _ => {}
        }
    }

    fn next_text_id(&mut self, what: &str) -> String {
        self.texts += 1;
        format!("{}:{what}:{}", self.turn_id, self.texts)
    }

    fn message_delta(&mut self, text: &str, out: &mut Vec<Event>) {
        if text.is_empty() {
            return;
        }
        if self.message.is_none() {
            let id = self.next_text_id("message");
            out.push(Event::ItemStarted {
                item: emit::agent_message(&id, ""),
            });
            self.message = Some(OpenText {
                id,
                text: String::new(),
            });
        }
        if let Some(message) = self.message.as_mut() {
            message.text.push_str(text);
            out.push(Event::AgentMessageDelta {
                item_id: message.id.clone(),
                delta: text.to_owned(),
            });
        }
    }

    fn thought_delta(&mut self, text: &str, out: &mut Vec<Event>) {
        if text.is_empty() {
            return;
        }
        if self.thought.is_none() {
            let id = self.next_text_id("reasoning");
            out.push(Event::ItemStarted {
                item: emit::reasoning(&id, None),
            });
            self.thought = Some(OpenText {
                id,
                text: String::new(),
            });
        }
        if let Some(thought) = self.thought.as_mut() {
            thought.text.push_str(text);
            out.push(Event::ReasoningSummaryDelta {
                item_id: thought.id.clone(),
                delta: text.to_owned(),
                summary_index: 0,
            });
        }
    }

    /// A plan (the whole list each time): one `plan` item, completed with the last plan at
    /// the end of the prompt.
    fn plan_update(&mut self, update: &Value, out: &mut Vec<Event>) {
        let text = plan_text(update);
        if self.plan.is_none() {
            let id = self.next_text_id("plan");
            out.push(Event::ItemStarted {
                item: json!({"type": "plan", "id": id, "text": ""}),
            });
            self.plan = Some(OpenText {
                id,
                text: String::new(),
            });
        }
        if let Some(plan) = self.plan.as_mut() {
            plan.text = text;
        }
    }

    fn close_texts(&mut self, out: &mut Vec<Event>) {
        close_text(&mut self.message, message_done, out);
        close_text(&mut self.thought, reasoning_done, out);
    }

    fn close_all(&mut self, out: &mut Vec<Event>) {
        self.close_texts(out);
        self.tools.close_all(out);
        close_text(&mut self.plan, plan_done, out);
    }
}

fn close_text(open: &mut Option<OpenText>, done: fn(&OpenText) -> Value, out: &mut Vec<Event>) {
    if let Some(text) = open.take() {
        out.push(Event::ItemCompleted { item: done(&text) });
    }
}

fn message_done(text: &OpenText) -> Value {
    emit::agent_message(&text.id, &text.text)
}

fn reasoning_done(text: &OpenText) -> Value {
    emit::reasoning(&text.id, Some(&text.text))
}

fn plan_done(text: &OpenText) -> Value {
    json!({"type": "plan", "id": text.id, "text": text.text})
}

/// The text of a message or thought chunk (`content` is one content block; only text
/// blocks have text).
fn chunk_text(update: &Value) -> String {
    match update.pointer("/content/type").and_then(Value::as_str) {
        Some("text") => update
            .pointer("/content/text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// Whether a message chunk is a notice of the agent's own rather than model output:
/// claude-agent-acp sends Claude Code's notices as message chunks whose
/// `_meta.claudeCode.kind` is `informational`.
fn is_notice(update: &Value) -> bool {
    update
        .pointer("/_meta/claudeCode/kind")
        .and_then(Value::as_str)
        == Some("informational")
}

/// A plan as a Markdown checklist: `- [x]` completed, `- [ ]` otherwise (`(in progress)`
/// after an entry being worked on).
fn plan_text(update: &Value) -> String {
    let entries = update.get("entries").and_then(Value::as_array);
    let lines: Vec<String> = entries
        .into_iter()
        .flatten()
        .map(|entry| {
            let content = entry
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match entry.get("status").and_then(Value::as_str) {
                Some("completed") => format!("- [x] {content}"),
                Some("in_progress") => format!("- [ ] {content} (in progress)"),
                _ => format!("- [ ] {content}"),
            }
        })
        .collect();
    lines.join("\n")
}

/// The token usage of the prompt: the protocol's `usage` (`inputTokens`, `outputTokens`,
/// `thoughtTokens`, `cachedReadTokens`, `cachedWriteTokens`), else Gemini CLI's
/// `_meta.quota.token_count` (`input_tokens`, `output_tokens`).
fn prompt_usage(result: &Value) -> Option<TokenBreakdown> {
    let count = |value: &Value, name: &str| value.get(name).and_then(Value::as_u64).unwrap_or(0);
    let usage = if let Some(usage) = result.get("usage").filter(|u| u.is_object()) {
        TokenBreakdown {
            input_tokens: count(usage, "inputTokens"),
            cached_input_tokens: count(usage, "cachedReadTokens"),
            cache_write_input_tokens: count(usage, "cachedWriteTokens"),
            output_tokens: count(usage, "outputTokens"),
            reasoning_output_tokens: count(usage, "thoughtTokens"),
            ..TokenBreakdown::default()
        }
    } else {
        let quota = result.pointer("/_meta/quota/token_count")?;
        TokenBreakdown {
            input_tokens: count(quota, "input_tokens"),
            output_tokens: count(quota, "output_tokens"),
            ..TokenBreakdown::default()
        }
    };
    Some(TokenBreakdown {
        total_tokens: usage.input_tokens + usage.output_tokens,
        ..usage
    })
}

/// A JSON-RPC error's message, with its `data.details` when it has them (Gemini CLI puts the
/// reason there).
fn error_text(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    match error.pointer("/data/details").and_then(Value::as_str) {
        Some(details) => format!("{message}: {details}"),
        None => message.to_owned(),
    }
}

/// A JSON-RPC id as text (a string without its quotes).
fn rpc_id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A JSON-RPC response line.
fn response(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}
