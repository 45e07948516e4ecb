//! Claude Code `-p --output-format stream-json --verbose` (one-shot), mapped onto canonical
//! events per `backends-and-supervision.md` §1.2.
//!
//! Each `assistant` line carries one content block; blocks of one message share its id, so
//! item ids are `<turn>:<message id>:<n>` with `n` counted per message. `tool_use` blocks open
//! items that the matching `tool_result` (in a `user` line) completes. Subagent traffic
//! (`parent_tool_use_id` set) is dropped. The `result` line is the end marker: `completed`
//! only when `subtype` is `success` and `is_error` is false (Claude reports API errors as a
//! "successful" result with `is_error`). `usage` in `result` is taken as this turn's usage.
//!
//! With stream-json input (`--input-format stream-json --replay-user-messages`) the runner
//! writes user messages to stdin ([`Stream::user_message`], each with a uuid of ours) and
//! Claude answers with one `result` per turn of its own. What 2.1.330 really does with a
//! message sent while a turn runs: during a tool call it folds the message into the running
//! turn (the next model request carries it, after the tool result) and writes one `result`
//! for both, whose `user_message_uuid` names the first message only; while the model request
//! of the first message is still out it queues the message as a turn of its own, with its own
//! `result` (next `result_index`). Either way it echoes each message (`user`, `isReplay`,
//! our uuid) when it takes it into a turn, and reports `command_lifecycle` `started` for it.
//! So a `result` ends our turn (is the [`Event::Marker`]) only when every message sent has
//! been taken, or when there are as many results as messages (a message that failed
//! before Claude echoed it); an earlier `result` only reports its usage.
//!
//! What the real CLI (2.1.330) showed beyond its documentation: a failed API call also comes
//! as an `assistant` line whose text is the error (`"API Error: 500 …"`, model `<synthetic>`,
//! `error` set); it is not the agent's message and is dropped, the `result` after it carries
//! the same text as the turn's error. An `error_during_execution` result (after SIGINT) has
//! no text and only internal diagnostics in `errors` (`[ede_diagnostic] …`).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::UsageBase;
use super::emit::{self, Session, ThreadTotal};
use super::lines::{Lines, str_field};
use super::tool_items::{self, McpNaming, OpenTool, ToolKind, ToolResult, ToolStatus};
use crate::events::{ApprovalKind, Event, TokenBreakdown};

/// Claude's MCP tools are `mcp__SERVER__TOOL`; its own tools without an item of their own
/// (`Read`, `Grep`, …) are shown as tools of the server `claude`.
const CLAUDE_MCP: McpNaming = McpNaming {
    separator: "__",
    own_server: "claude",
};

/// How the Claude process takes its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// The prompt as an argument; one `result`, then exit.
    Once,
    /// User messages on stdin (`--input-format stream-json`).
    Messages,
}

/// Parser state for one Claude process.
#[derive(Debug)]
pub struct Stream {
    input: InputKind,
    /// The uuids of the user messages written to stdin, in order.
    sent: Vec<String>,
    /// Those Claude has taken into a turn (echoed, or `command_lifecycle` `started`).
    taken: HashSet<String>,
    /// `result` lines seen.
    results: usize,
    turn_id: String,
    cwd: String,
    /// The thread's total so far (`tokenUsage.total`). Claude's `usage` counts one result
    /// only, also in a resumed session, so no session figure is needed.
    thread_total: ThreadTotal,
    session: Session,
    blocks_per_message: HashMap<String, u32>,
    open_tools: HashMap<String, OpenTool>,
    denied: HashSet<String>,
    /// The permission requests (`can_use_tool`) waiting for an answer: the tool's input,
    /// which an `allow` gives back, by request id.
    permission_requests: HashMap<String, Value>,
    lines: Lines,
}

impl Stream {
    pub fn new(turn_id: &str, cwd: &str, usage: UsageBase, input: InputKind) -> Stream {
        Stream {
            input,
            sent: Vec::new(),
            taken: HashSet::new(),
            results: 0,
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            thread_total: ThreadTotal::new(usage.thread_total),
            session: Session::default(),
            blocks_per_message: HashMap::new(),
            open_tools: HashMap::new(),
            denied: HashSet::new(),
            permission_requests: HashMap::new(),
            lines: Lines::default(),
        }
    }

    /// The stdin line of a new user message, counted for the end of the turn; `None` for a
    /// one-shot process.
    pub fn user_message(&mut self, text: &str) -> Option<String> {
        match self.input {
            InputKind::Once => None,
            InputKind::Messages => {
                let uuid = uuid::Uuid::now_v7().to_string();
                let line = json!({"type": "user", "uuid": uuid,
                    "message": {"role": "user", "content": text}});
                self.sent.push(uuid);
                Some(line.to_string())
            }
        }
    }

    /// The `control_request` that interrupts the running turn; `None` for a one-shot process.
    pub fn interrupt_line(&self) -> Option<String> {
        match self.input {
            InputKind::Once => None,
            InputKind::Messages => Some(
                json!({"type": "control_request", "request_id": "agent-host-interrupt",
                    "request": {"subtype": "interrupt"}})
                .to_string(),
            ),
        }
    }

    /// Whether a `result` now answers the last message sent (always, for a one-shot process).
    fn answers_last_message(&self) -> bool {
        match self.input {
            InputKind::Once => true,
            InputKind::Messages => {
                self.results >= self.sent.len()
                    || self.sent.iter().all(|uuid| self.taken.contains(uuid))
            }
        }
    }

    /// Maps one line.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Some((kind, value)) = self.lines.read(line, out) else {
            return;
        };
        let kind = kind.as_str();
        let session = value.get("session_id").and_then(Value::as_str);
        self.session.named(session, out);
        let subagent = value
            .get("parent_tool_use_id")
            .is_some_and(|parent| !parent.is_null());
        match kind {
            "system" => self.on_system(&value, out),
            "assistant" if !subagent => self.on_assistant(&value, out),
            "user" if value.get("isReplay").and_then(Value::as_bool) == Some(true) => {
                if let Some(uuid) = value.get("uuid").and_then(Value::as_str) {
                    self.taken.insert(uuid.to_owned());
                }
            }
            "user" if !subagent => self.on_user(&value, out),
            "command_lifecycle" => {
                let state = value.get("state").and_then(Value::as_str);
                if let (Some("started" | "completed"), Some(uuid)) =
                    (state, value.get("command_uuid").and_then(Value::as_str))
                {
                    self.taken.insert(uuid.to_owned());
                }
            }
            "result" => self.on_result(&value, out),
            "control_request" => self.on_control_request(&value, out),
            _ => {}
        }
    }

    /// A permission request (`--permission-prompt-tool stdio`): Claude waits for a
    /// `control_response` on stdin ([`Stream::approval_answer`]). What 2.1.330 sends:
    /// `{"type":"control_request","request_id":R,"request":{"subtype":"can_use_tool",
    /// "tool_name":T,"input":I,"description":D,"tool_use_id":U,…}}`, after the `assistant`
    /// line of the `tool_use` U, which opened its item. A `Bash` call is a command approval,
    /// a file tool's a file change approval, any other tool's a command approval that names
    /// the tool. Other control requests are not ours (we send no hooks or MCP servers).
    fn on_control_request(&mut self, value: &Value, out: &mut Vec<Event>) {
        let request = value.get("request").unwrap_or(&Value::Null);
        if request.get("subtype").and_then(Value::as_str) != Some("can_use_tool") {
            return;
        }
        let request_id = str_field(value, "request_id");
        let tool = str_field(request, "tool_name");
        let input = request.get("input").cloned().unwrap_or(Value::Null);
        let item_id = format!("{}:{}", self.turn_id, str_field(request, "tool_use_id"));
        let (kind, command, reason) = match tool.as_str() {
            "Bash" => (
                ApprovalKind::CommandExecution,
                Some(str_field(&input, "command")),
                None,
            ),
            "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => {
                let path = input
                    .get("file_path")
                    .or_else(|| input.get("notebook_path"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let reason = format!("Claude Code asks to change {path} with its {tool} tool");
                (ApprovalKind::FileChange, None, Some(reason))
            }
            other => (
                ApprovalKind::CommandExecution,
                Some(format!("{other} {input}")),
                Some(format!("Claude Code asks to use its {other} tool")),
            ),
        };
        self.permission_requests.insert(request_id.clone(), input);
        out.push(Event::ApprovalRequested {
            request_id,
            kind,
            item_id,
            reason,
            command,
            cwd: (kind == ApprovalKind::CommandExecution).then(|| self.cwd.clone()),
        });
    }

    /// The `control_response` that answers the permission request `request_id`: `allow`
    /// (with the tool's input unchanged) when `decision` accepts (`accept`,
    /// `acceptForSession`, or an `accept…` object), else `deny`.
    pub fn approval_answer(&mut self, request_id: &str, decision: &Value) -> String {
        let input = self
            .permission_requests
            .remove(request_id)
            .unwrap_or_else(|| json!({}));
        let accepts = match decision {
            Value::String(name) => name.starts_with("accept"),
            Value::Object(map) => map.keys().any(|key| key.starts_with("accept")),
            _ => false,
        };
        let response = if accepts {
            json!({"behavior": "allow", "updatedInput": input})
        } else {
            json!({"behavior": "deny", "message": "The user declined this tool call."})
        };
        json!({"type": "control_response", "response": {"subtype": "success",
            "request_id": request_id, "response": response}})
        .to_string()
    }

    /// At stdout EOF: tools never answered are left open (the turn's status says why).
    pub fn finish(&mut self, _out: &mut Vec<Event>) {}

    fn on_system(&mut self, value: &Value, out: &mut Vec<Event>) {
        match value.get("subtype").and_then(Value::as_str) {
            Some("api_retry") => out.push(Event::Error {
                message: retry_message(value),
                will_retry: true,
            }),
            Some("permission_denied") => {
                if let Some(id) = value.get("tool_use_id").and_then(Value::as_str) {
                    self.denied.insert(id.to_owned());
                }
            }
            Some(_) | None => {}
        }
    }

    fn on_assistant(&mut self, value: &Value, out: &mut Vec<Event>) {
        if value.get("error").is_some_and(|error| !error.is_null()) {
            // Claude's own report of a failed API call, not the model's words; the `result`
            // that follows ends the turn with it.
            return;
        }
        let message = value.get("message").unwrap_or(&Value::Null);
        let message_id = message.get("id").and_then(Value::as_str).unwrap_or("msg");
        let Some(blocks) = message.get("content").and_then(Value::as_array) else {
            return;
        };
        for block in blocks {
            let counter = self
                .blocks_per_message
                .entry(message_id.to_owned())
                .or_insert(0);
            let n = *counter;
            *counter += 1;
            let id = format!("{}:{message_id}:{n}", self.turn_id);
            match block.get("type").and_then(Value::as_str) {
                Some("text") => emit::whole_agent_message(&id, &str_field(block, "text"), out),
                Some("thinking") => emit::whole_reasoning(&id, &str_field(block, "thinking"), out),
                Some("tool_use") => self.open_tool(block, out),
                Some(_) | None => {}
            }
        }
    }

    fn open_tool(&mut self, block: &Value, out: &mut Vec<Event>) {
        let tool_use_id = str_field(block, "id");
        let name = str_field(block, "name");
        let input = block.get("input").cloned().unwrap_or(Value::Null);
        let item_id = format!("{}:{tool_use_id}", self.turn_id);
        let started = match name.as_str() {
            "Bash" => tool_items::command(&item_id, &str_field(&input, "command"), &self.cwd),
            "Edit" | "Write" | "MultiEdit" | "NotebookEdit" => {
                let path = input
                    .get("file_path")
                    .or_else(|| input.get("notebook_path"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                tool_items::file_change(&item_id, path, name == "Write")
            }
            other => CLAUDE_MCP.call(&item_id, other, input),
        };
        self.open_tools
            .insert(tool_use_id, OpenTool::start(started, out));
    }

    fn on_user(&mut self, value: &Value, out: &mut Vec<Event>) {
        let Some(blocks) = value
            .get("message")
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
        else {
            return;
        };
        for block in blocks {
            if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                continue;
            }
            let tool_use_id = str_field(block, "tool_use_id");
            let Some(open) = self.open_tools.remove(&tool_use_id) else {
                continue;
            };
            let is_error = block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let status = if self.denied.contains(&tool_use_id) || rejected(value, &tool_use_id) {
                ToolStatus::Declined
            } else if is_error {
                ToolStatus::Failed
            } else {
                ToolStatus::Completed
            };
            let result = tool_result(open.kind(), value, block, is_error);
            open.complete(status, result, out);
        }
    }

    fn on_result(&mut self, value: &Value, out: &mut Vec<Event>) {
        self.results += 1;
        let last = self.answers_last_message();
        if let Some(usage) = value.get("usage") {
            out.push(
                self.thread_total
                    .add(claude_usage(usage), context_window(value), None),
            );
        }
        let success = value.get("subtype").and_then(Value::as_str) == Some("success");
        let is_error = value
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match (success && !is_error, last) {
            (true, true) => out.push(emit::completed()),
            (true, false) => {}
            (false, true) => emit::failed(failure_message(value), out),
            // A later message is still to be answered: its result decides.
            (false, false) => out.push(emit::turn_error(failure_message(value))),
        }
    }
}

/// Whether the `user` line `line` says the permission for the tool use `tool_use_id` was
/// refused (`tool_result_meta[].permission_decision.decision` `reject`: by our client, by the
/// permission mode, or because nobody could be asked), so the tool did not run.
fn rejected(line: &Value, tool_use_id: &str) -> bool {
    line.get("tool_result_meta")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|meta| {
            meta.get("id").and_then(Value::as_str) == Some(tool_use_id)
                && meta
                    .pointer("/permission_decision/decision")
                    .and_then(Value::as_str)
                    == Some("reject")
        })
}

/// A `tool_result` block (of the `user` line `line`) in the terms of the item `kind`: a
/// command's output is the line's `tool_use_result` stdout and stderr when it has them, else
/// the result's text; a failed command's exit code is read from that text.
fn tool_result(kind: ToolKind, line: &Value, block: &Value, is_error: bool) -> ToolResult {
    let result_text = content_text(block.get("content"));
    match kind {
        ToolKind::Command => {
            let output = match line.get("tool_use_result") {
                Some(r) if r.get("stdout").is_some() => {
                    format!("{}{}", str_field(r, "stdout"), str_field(r, "stderr"))
                }
                Some(_) | None => result_text.clone(),
            };
            let exit_code = if is_error {
                result_text
                    .strip_prefix("Exit code ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.parse::<i64>().ok())
            } else {
                Some(0)
            };
            ToolResult::Command { output, exit_code }
        }
        ToolKind::FileChange => ToolResult::FileChange,
        ToolKind::Mcp if is_error => ToolResult::Mcp(Err(result_text)),
        ToolKind::Mcp => ToolResult::Mcp(Ok(block.get("content").cloned().unwrap_or(Value::Null))),
    }
}

/// The error of a `result` that is not a success: its text, else its readable `errors`
/// (internal `[ede_diagnostic]` entries left out), else its subtype and terminal reason.
fn failure_message(result: &Value) -> String {
    if let Some(text) = result
        .get("result")
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
    {
        return text.to_owned();
    }
    let errors: Vec<String> = result
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
        .filter(|e| !e.is_empty() && !e.starts_with("[ede_diagnostic]"))
        .collect();
    if !errors.is_empty() {
        return errors.join("; ");
    }
    let subtype = result
        .get("subtype")
        .and_then(Value::as_str)
        .unwrap_or("an error");
    match result.get("terminal_reason").and_then(Value::as_str) {
        Some(reason) => format!("the backend ended the turn with {subtype} ({reason})"),
        None => format!("the backend ended the turn with {subtype}"),
    }
}

/// `Reconnecting... 1/10 (HTTP 500 server_error)`, the retry notice of a `system/api_retry`
/// line, worded as Codex words its own.
fn retry_message(retry: &Value) -> String {
    let number = |name: &str| {
        retry
            .get(name)
            .and_then(Value::as_u64)
            .map_or_else(|| "?".to_owned(), |n| n.to_string())
    };
    let status = retry.get("error_status").and_then(Value::as_u64);
    let error = retry.get("error").and_then(Value::as_str);
    let why = match (status, error) {
        (Some(status), Some(error)) => format!("HTTP {status} {error}"),
        (Some(status), None) => format!("HTTP {status}"),
        (None, Some(error)) => error.to_owned(),
        (None, None) => "request failed".to_owned(),
    };
    format!(
        "Reconnecting... {}/{} ({why})",
        number("attempt"),
        number("max_retries")
    )
}

/// The text of a `tool_result` content: a string, or the text blocks of an array.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(_) | None => String::new(),
    }
}

/// A `result`'s Anthropic `usage` in Codex's terms. Anthropic counts cache reads and cache
/// writes apart from `input_tokens`; Codex's `inputTokens` is every prompt token, with
/// `cachedInputTokens` (and `cacheWriteInputTokens`) the parts of it served from or written
/// to the cache.
fn claude_usage(usage: &Value) -> TokenBreakdown {
    let field = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = field("cache_read_input_tokens");
    let cache_write = field("cache_creation_input_tokens");
    let input = field("input_tokens")
        .saturating_add(cache_read)
        .saturating_add(cache_write);
    let output = field("output_tokens");
    TokenBreakdown {
        total_tokens: input.saturating_add(output),
        input_tokens: input,
        cached_input_tokens: cache_read,
        cache_write_input_tokens: cache_write,
        output_tokens: output,
        reasoning_output_tokens: 0,
    }
}

/// The context window of the model that ran the turn, from `result.modelUsage`
/// (`{"<model>": {"contextWindow": N, ...}}`); the largest when several models ran (a
/// subagent on a smaller model does not shrink the main loop's window).
fn context_window(result: &Value) -> Option<u64> {
    result
        .get("modelUsage")?
        .as_object()?
        .values()
        .filter_map(|m| m.get("contextWindow").and_then(Value::as_u64))
        .filter(|&w| w > 0)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Adapter;
    use crate::backend::test_support::{self, completed_item, types};
    use crate::events::{MarkerOutcome, breakdown};

    fn map(lines: &[&str]) -> Vec<Event> {
        let stream = Stream::new("T", "/w", UsageBase::default(), InputKind::Once);
        test_support::map(Adapter::Claude(stream), lines)
    }

    #[test]
    fn maps_the_observed_tool_turn() {
        let out = map(&[
            r#"{"type":"system","subtype":"ui_invalidate","session_id":"S","uuid":"u0"}"#,
            r#"{"type":"system","subtype":"init","session_id":"S","cwd":"/w","model":"m","tools":[]}"#,
            r#"{"type":"assistant","message":{"id":"msg_0","content":[{"type":"text","text":"I will run a command first."}]},"parent_tool_use_id":null,"session_id":"S"}"#,
            r#"{"type":"assistant","message":{"id":"msg_0","content":[{"type":"tool_use","id":"tu_1","name":"Bash","input":{"command":"echo hi"}}]},"parent_tool_use_id":null,"session_id":"S"}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"hi","is_error":false}]},"tool_use_result":{"stdout":"hi\n","stderr":""},"parent_tool_use_id":null,"session_id":"S"}"#,
            r#"{"type":"assistant","message":{"id":"msg_1","content":[{"type":"text","text":"All done."}]},"parent_tool_use_id":null,"session_id":"S"}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"All done.","usage":{"input_tokens":20,"output_tokens":4},"session_id":"S"}"#,
        ]);
        assert_eq!(
            types(&out),
            [
                "backendSession",
                "itemStarted",
                "agentMessageDelta",
                "itemCompleted",
                "itemStarted",
                "commandOutputDelta",
                "itemCompleted",
                "itemStarted",
                "agentMessageDelta",
                "itemCompleted",
                "tokenUsage",
                "marker"
            ]
        );
        let item = completed_item(&out, 6);
        assert_eq!(item["id"], "T:tu_1");
        assert_eq!(item["aggregatedOutput"], "hi\n");
        assert_eq!(item["exitCode"], 0);
        assert_eq!(completed_item(&out, 3)["id"], "T:msg_0:0");
    }

    /// A stream-json stream, its lines fed as Claude Code 2.1.330 wrote them (abridged); our
    /// messages are numbered from 0 in the order sent.
    struct Session {
        stream: Stream,
        uuids: Vec<String>,
        out: Vec<Event>,
    }

    impl Session {
        fn new() -> Session {
            Session {
                stream: Stream::new("T", "/w", UsageBase::default(), InputKind::Messages),
                uuids: Vec::new(),
                out: Vec::new(),
            }
        }

        fn send(&mut self, text: &str) -> Value {
            let line = self.stream.user_message(text).unwrap();
            let value: Value = serde_json::from_str(&line).unwrap();
            self.uuids.push(value["uuid"].as_str().unwrap().to_owned());
            value
        }

        fn feed(&mut self, line: &str) {
            self.stream.on_line(line.as_bytes(), &mut self.out);
        }

        /// Claude's echo of our message number `n`, `text`, as it takes it into a turn.
        fn replay(&mut self, n: usize, text: &str) {
            let uuid = &self.uuids[n];
            let line = json!({"type": "user", "uuid": uuid, "isReplay": true,
                "message": {"role": "user", "content": text}});
            self.stream
                .on_line(line.to_string().as_bytes(), &mut self.out);
        }

        /// Claude's `command_lifecycle` report of `state` for our message number `n`.
        fn lifecycle(&mut self, n: usize, state: &str) {
            let line = json!({"type": "command_lifecycle", "command_uuid": self.uuids[n],
                "state": state});
            self.stream
                .on_line(line.to_string().as_bytes(), &mut self.out);
        }

        fn markers(&self) -> usize {
            self.out
                .iter()
                .filter(|e| matches!(e, Event::Marker { .. }))
                .count()
        }
    }

    const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":1,"output_tokens":1}}"#;

    #[test]
    fn a_user_message_line_is_what_stream_json_input_reads() {
        let mut session = Session::new();
        let message = session.send("hello");
        assert_eq!(message["type"], "user");
        assert_eq!(
            message["message"],
            json!({"role": "user", "content": "hello"})
        );
        assert_ne!(session.send("again")["uuid"], message["uuid"]);
        let interrupt: Value =
            serde_json::from_str(&session.stream.interrupt_line().unwrap()).unwrap();
        assert_eq!(interrupt["request"]["subtype"], "interrupt");
        let mut once = Stream::new("T", "/w", UsageBase::default(), InputKind::Once);
        assert_eq!(once.user_message("x"), None);
        assert_eq!(once.interrupt_line(), None);
    }

    #[test]
    fn a_message_folded_into_the_running_turn_ends_with_its_one_result() {
        let mut session = Session::new();
        session.send("run the tool");
        session.replay(0, "run the tool");
        session.send("steered");
        session.lifecycle(1, "queued");
        // The replay of the steered message comes before the one result of both.
        session.replay(1, "steered");
        session.feed(RESULT);
        assert_eq!(session.markers(), 1, "{:?}", session.out);
    }

    #[test]
    fn a_queued_message_has_its_own_result_and_only_that_one_ends_the_turn() {
        let mut session = Session::new();
        session.send("first");
        session.send("queued");
        session.lifecycle(0, "started");
        session.replay(0, "first");
        session.feed(RESULT);
        assert_eq!(
            session.markers(),
            0,
            "the queued message is not answered yet"
        );
        assert_eq!(
            types(&session.out),
            ["tokenUsage"],
            "an earlier result still reports its usage"
        );
        session.replay(1, "queued");
        session.feed(RESULT);
        assert_eq!(session.markers(), 1, "{:?}", session.out);
    }

    #[test]
    fn a_failed_earlier_result_is_an_error_but_the_last_result_decides() {
        let mut session = Session::new();
        session.send("first");
        session.send("second");
        session.feed(r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500 boom"}"#);
        assert_eq!(session.markers(), 0);
        session.feed(RESULT);
        let Some(Event::Marker { outcome, .. }) = session.out.last() else {
            panic!("{:?}", session.out)
        };
        assert_eq!(*outcome, MarkerOutcome::Completed);
    }

    #[test]
    fn as_many_results_as_messages_end_the_turn_without_replays() {
        // A message Claude failed on before echoing it still gets its result.
        let mut session = Session::new();
        session.send("only");
        session.feed(r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500 boom"}"#);
        assert_eq!(session.markers(), 1, "{:?}", session.out);
    }

    #[test]
    fn an_api_error_reported_as_success_is_a_failure_and_not_an_agent_message() {
        // As Claude Code 2.1.330 writes an HTTP 500 (abridged): a synthetic assistant message
        // with the error's text, then a "successful" result with `is_error`, then exit 1.
        let out = map(&[
            r#"{"type":"assistant","message":{"id":"d64fb2d0-050c-4521-ac95-01a4547733eb","model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence","type":"message","content":[{"type":"text","text":"API Error: 500 boom. This is a server-side issue"}]},"parent_tool_use_id":null,"session_id":"S","error":"server_error","is_api_error_message":true,"api_error_status":500,"api_error_type":"api_error"}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":500,"result":"API Error: 500 boom. This is a server-side issue","terminal_reason":"api_error","usage":{"input_tokens":0,"output_tokens":0},"session_id":"S"}"#,
        ]);
        assert_eq!(
            types(&out),
            ["backendSession", "tokenUsage", "error", "marker"],
            "{out:?}"
        );
        let Some(Event::Marker { outcome, error }) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(*outcome, MarkerOutcome::Failed);
        assert_eq!(
            error.as_ref().unwrap().message,
            "API Error: 500 boom. This is a server-side issue"
        );
    }

    #[test]
    fn an_assistant_line_with_a_null_error_is_the_agents_message() {
        let out = map(&[
            r#"{"type":"assistant","message":{"id":"m","content":[{"type":"text","text":"hello"}]},"parent_tool_use_id":null,"error":null}"#,
        ]);
        assert_eq!(
            types(&out),
            ["itemStarted", "agentMessageDelta", "itemCompleted"]
        );
    }

    #[test]
    fn an_error_during_execution_is_worded_without_internal_diagnostics() {
        // The result Claude Code 2.1.330 writes after SIGINT during a Bash command.
        let out = map(&[
            r#"{"type":"result","subtype":"error_during_execution","is_error":true,"terminal_reason":"aborted_tools","errors":["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=tool_use"],"session_id":"S"}"#,
        ]);
        let Some(Event::Marker { outcome, error }) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(*outcome, MarkerOutcome::Failed);
        assert_eq!(
            error.as_ref().unwrap().message,
            "the backend ended the turn with error_during_execution (aborted_tools)"
        );
        // Readable `errors` are kept.
        let out = map(&[
            r#"{"type":"result","subtype":"error_max_turns","is_error":true,"errors":["[ede_diagnostic] x","Reached maximum number of turns (1)"]}"#,
        ]);
        let Some(Event::Marker { error, .. }) = out.last() else {
            panic!("{out:?}")
        };
        assert_eq!(
            error.as_ref().unwrap().message,
            "Reached maximum number of turns (1)"
        );
    }

    #[test]
    fn an_api_retry_is_a_retry_notice_in_codex_words() {
        let out = map(&[
            r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":543,"error_status":500,"error":"server_error","session_id":"S"}"#,
            r#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":900,"error_status":null,"error":"connection_error","session_id":"S"}"#,
        ]);
        let notices: Vec<(String, bool)> = out
            .iter()
            .filter_map(|e| match e {
                Event::Error {
                    message,
                    will_retry,
                } => Some((message.clone(), *will_retry)),
                _ => None,
            })
            .collect();
        assert_eq!(
            notices,
            [
                (
                    "Reconnecting... 1/10 (HTTP 500 server_error)".to_owned(),
                    true
                ),
                ("Reconnecting... 2/10 (connection_error)".to_owned(), true)
            ]
        );
    }

    #[test]
    fn a_result_adds_its_own_usage_to_the_thread_total_also_in_a_resumed_session() {
        let before = breakdown(10, 5);
        let base = UsageBase {
            thread_total: before,
            session_total: before,
            session_id: Some("S".into()),
        };
        let mut stream = Stream::new("T", "/w", base, InputKind::Once);
        let mut out = Vec::new();
        stream.on_line(
            br#"{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":20,"output_tokens":4,"cache_read_input_tokens":3},"session_id":"S"}"#,
            &mut out,
        );
        let Event::TokenUsage {
            total,
            last,
            session_total,
            ..
        } = &out[1]
        else {
            panic!("{out:?}")
        };
        assert_eq!((last.total_tokens, last.cached_input_tokens), (27, 3));
        assert_eq!(
            (total.total_tokens, total.input_tokens, total.output_tokens),
            (42, 33, 9)
        );
        assert_eq!(*session_total, None);
    }

    #[test]
    fn cache_reads_and_writes_count_as_input_like_codex_and_the_window_comes_from_model_usage() {
        let mut stream = Stream::new("T", "/w", UsageBase::default(), InputKind::Once);
        let mut out = Vec::new();
        stream.on_line(
            br#"{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":5,"output_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":20},"modelUsage":{"claude-haiku":{"contextWindow":100000},"claude-sonnet":{"contextWindow":200000},"other":{"contextWindow":0}},"session_id":"S"}"#,
            &mut out,
        );
        let usage = out
            .iter()
            .find_map(|e| match e {
                Event::TokenUsage {
                    last,
                    model_context_window,
                    ..
                } => Some((*last, *model_context_window)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{out:?}"));
        let (last, window) = usage;
        assert_eq!(
            (
                last.input_tokens,
                last.cached_input_tokens,
                last.cache_write_input_tokens,
                last.output_tokens,
                last.total_tokens
            ),
            (125, 100, 20, 7, 132)
        );
        assert_eq!(window, Some(200000));
    }

    #[test]
    fn a_result_without_model_usage_has_no_context_window() {
        assert_eq!(context_window(&serde_json::json!({"usage": {}})), None);
        assert_eq!(
            context_window(&serde_json::json!({"modelUsage": {"m": {"contextWindow": 0}}})),
            None
        );
    }

    /// The lines Claude Code 2.1.330 wrote with `--permission-prompt-tool stdio` for a Bash
    /// call that needs permission, and the answers it took (captured against the mock).
    #[test]
    fn a_permission_request_is_an_approval_and_the_answer_a_control_response() {
        let mut stream = Stream::new("T", "/w", UsageBase::default(), InputKind::Messages);
        let mut out = Vec::new();
        for line in [
            r#"{"type":"assistant","message":{"id":"msg_0","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"touch f"}}]},"parent_tool_use_id":null,"session_id":"S"}"#,
            r#"{"type":"control_request","request_id":"req-1","request":{"subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash","input":{"command":"touch f"},"description":"touch f","permission_suggestions":[],"decision_reason_type":"subcommandResults","tool_use_id":"toolu_1"}}"#,
        ] {
            stream.on_line(line.as_bytes(), &mut out);
        }
        let Some(Event::ApprovalRequested {
            request_id,
            kind,
            item_id,
            command,
            cwd,
            ..
        }) = out.last()
        else {
            panic!("no approval request: {out:?}");
        };
        assert_eq!(request_id, "req-1");
        assert_eq!(*kind, ApprovalKind::CommandExecution);
        assert_eq!(item_id, "T:toolu_1");
        assert_eq!(command.as_deref(), Some("touch f"));
        assert_eq!(cwd.as_deref(), Some("/w"));
        let allow: Value =
            serde_json::from_str(&stream.approval_answer("req-1", &json!("accept"))).unwrap();
        assert_eq!(
            allow,
            json!({"type": "control_response", "response": {"subtype": "success",
                "request_id": "req-1",
                "response": {"behavior": "allow", "updatedInput": {"command": "touch f"}}}})
        );
        let deny: Value =
            serde_json::from_str(&stream.approval_answer("req-2", &json!("decline"))).unwrap();
        assert_eq!(deny["response"]["response"]["behavior"], "deny");
        // The refused tool's result says so in its meta: the item ends declined.
        let mut out = Vec::new();
        stream.on_line(
            br#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"no","is_error":true,"tool_use_id":"toolu_1"}]},"parent_tool_use_id":null,"session_id":"S","tool_result_meta":[{"id":"toolu_1","non_execution_kind":"permission-rule","permission_decision":{"decision":"reject","source":"user_reject"}}]}"#,
            &mut out,
        );
        let Some(Event::ItemCompleted { item }) = out.last() else {
            panic!("no completed item: {out:?}");
        };
        assert_eq!(item["status"], "declined");
    }
}
