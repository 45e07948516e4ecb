//! The codex `exec --json` event stream (kinds `jsonl` and `codex`), mapped onto canonical
//! events per `docs/backend-jsonl.md`.
//!
//! Item ids are prefixed with the turn id (`<turn>:<id>`), because codex restarts at `item_0`
//! in every process. `item.completed` of type `error` is a `warning`. A top-level `error` is a
//! retry notice (`error` with `willRetry`) when its message starts with `Reconnecting`;
//! otherwise it is held: a following `turn.failed` turns it into the turn's error, anything
//! else releases it as a `warning`. Usage in `turn.completed` is the backend session's
//! cumulative total (codex keeps counting across `exec resume`): `last` is measured from the
//! session's figure before this turn, and `total` adds it to the thread's total.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::UsageBase;
use super::emit::{self, ThreadTotal};
use super::lines::{Lines, str_field};
use crate::events::{ApprovalKind, Event, TokenBreakdown, now_ms};

/// Parser state for one backend process.
#[derive(Debug)]
pub struct Stream {
    turn_id: String,
    cwd: String,
    /// The thread's total so far (`tokenUsage.total`).
    thread_total: ThreadTotal,
    /// The backend session's cumulative figure at its last report (or before this turn).
    session_total: TokenBreakdown,
    /// The session this turn resumes, if any.
    resumed_session: Option<String>,
    /// Start times of items in progress, for `durationMs`.
    started_at_ms: HashMap<String, u64>,
    held_error: Option<String>,
    /// The text of each agent message in progress sent so far as deltas.
    streamed: HashMap<String, String>,
    lines: Lines,
}

impl Stream {
    pub fn new(turn_id: &str, cwd: &str, usage: UsageBase) -> Stream {
        Stream {
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            thread_total: ThreadTotal::new(usage.thread_total),
            session_total: usage.session_total,
            resumed_session: usage.session_id,
            started_at_ms: HashMap::new(),
            held_error: None,
            streamed: HashMap::new(),
            lines: Lines::default(),
        }
    }

    /// Maps one line.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Some((kind, value)) = self.lines.read(line, out) else {
            return;
        };
        let kind = kind.as_str();
        if kind != "turn.failed" && kind != "error" {
            self.release_held_error(out);
        }
        match kind {
            "thread.started" => self.on_thread_started(&value, out),
            "turn.started" => {}
            "item.started" | "item.updated" | "item.completed" => match value.get("item") {
                Some(item) if item.is_object() => self.on_item(Phase::of(kind), item, out),
                Some(_) | None => out.push(self.lines.skipped(line, "no \"item\" object")),
            },
            "error" => self.on_error(str_field(&value, "message"), out),
            "approval.requested" => match self.approval_request(&value) {
                Ok(event) => out.push(event),
                Err(why) => out.push(self.lines.skipped(line, why)),
            },
            "turn.completed" => {
                if let Some(usage) = value.get("usage") {
                    out.push(self.token_usage(usage));
                }
                out.push(emit::completed());
            }
            "turn.failed" => self.on_turn_failed(&value, out),
            other => {
                tracing::debug!(kind = other, "ignoring unknown backend event type");
            }
        }
    }

    /// At stdout EOF: a held top-level error becomes a warning.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.release_held_error(out);
    }

    /// `thread.started` names the backend session; one other than the session resumed is a
    /// fresh one, counting from zero.
    fn on_thread_started(&mut self, value: &Value, out: &mut Vec<Event>) {
        let Some(id) = value.get("thread_id").and_then(Value::as_str) else {
            return;
        };
        if self.resumed_session.as_deref() != Some(id) {
            self.session_total = TokenBreakdown::default();
        }
        out.push(Event::BackendSession {
            session_id: id.to_owned(),
        });
    }

    /// A top-level `error`: a retry notice, or held until the next line says what it was.
    fn on_error(&mut self, message: String, out: &mut Vec<Event>) {
        if message.starts_with("Reconnecting") {
            out.push(Event::Error {
                message,
                will_retry: true,
            });
        } else {
            self.release_held_error(out);
            self.held_error = Some(message);
        }
    }

    /// `turn.failed`: its own message, else the held error's, is the turn's error.
    fn on_turn_failed(&mut self, value: &Value, out: &mut Vec<Event>) {
        let held = self.held_error.take();
        let message = value
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(held)
            .unwrap_or_else(|| "the backend reported a failed turn".to_owned());
        emit::failed(message, out);
    }

    fn release_held_error(&mut self, out: &mut Vec<Event>) {
        if let Some(message) = self.held_error.take() {
            out.push(Event::Warning { message });
        }
    }

    /// `approval.requested` (`docs/backend-jsonl.md`, "Approvals"): the backend waits for an
    /// `approval.response` line on its stdin.
    fn approval_request(&self, value: &Value) -> Result<Event, &'static str> {
        let request_id = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or("no \"id\" string")?;
        let kind = match value.get("kind").and_then(Value::as_str) {
            Some("command_execution") => ApprovalKind::CommandExecution,
            Some("file_change") => ApprovalKind::FileChange,
            Some(_) | None => return Err("\"kind\" is not command_execution or file_change"),
        };
        let item_id = value
            .get("item_id")
            .and_then(Value::as_str)
            .ok_or("no \"item_id\" string")?;
        let optional = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let (command, cwd) = match kind {
            ApprovalKind::CommandExecution => (
                optional("command"),
                optional("cwd").or_else(|| Some(self.cwd.clone())),
            ),
            ApprovalKind::FileChange => (None, None),
        };
        Ok(Event::ApprovalRequested {
            request_id: request_id.to_owned(),
            kind,
            item_id: format!("{}:{item_id}", self.turn_id),
            reason: optional("reason"),
            command,
            cwd,
        })
    }

    fn token_usage(&mut self, usage: &Value) -> Event {
        let field = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
        let input = field("input_tokens");
        let output = field("output_tokens");
        let session_total = TokenBreakdown {
            total_tokens: input + output,
            input_tokens: input,
            cached_input_tokens: field("cached_input_tokens"),
            cache_write_input_tokens: field("cache_write_input_tokens"),
            output_tokens: output,
            reasoning_output_tokens: field("reasoning_output_tokens"),
        };
        let last = session_total.since(&self.session_total);
        self.session_total = session_total;
        self.thread_total.add(last, None, Some(session_total))
    }

    fn on_item(&mut self, phase: Phase, item: &Value, out: &mut Vec<Event>) {
        let raw_id = item.get("id").and_then(Value::as_str).unwrap_or("item");
        let id = format!("{}:{raw_id}", self.turn_id);
        match item.get("type").and_then(Value::as_str).unwrap_or("") {
            "agent_message" => self.on_agent_message(&id, phase, item, out),
            "reasoning" => {
                if phase == Phase::Completed {
                    emit::whole_reasoning(&id, &str_field(item, "text"), out);
                }
            }
            tool @ ("command_execution" | "file_change" | "mcp_tool_call") => {
                self.on_tool_item(&id, tool, phase, item, out);
            }
            "error" => {
                if phase == Phase::Completed {
                    out.push(Event::Warning {
                        message: str_field(item, "message"),
                    });
                }
            }
            other => {
                tracing::debug!(item_type = other, "ignoring item type outside our subset");
            }
        }
    }

    /// An agent message starts at its first sighting. Its text comes as deltas: what an
    /// `item.started` or `item.updated` adds to the text already sent (a backend that streams
    /// sends the text so far), and the rest when it completes.
    fn on_agent_message(&mut self, id: &str, phase: Phase, item: &Value, out: &mut Vec<Event>) {
        if !self.started_at_ms.contains_key(id) {
            out.push(Event::ItemStarted {
                item: emit::agent_message(id, ""),
            });
            self.started_at_ms.insert(id.to_owned(), now_ms());
        }
        let text = str_field(item, "text");
        let sent = self.streamed.remove(id).unwrap_or_default();
        let added = text.strip_prefix(sent.as_str()).unwrap_or("");
        if !added.is_empty() {
            out.push(Event::AgentMessageDelta {
                item_id: id.to_owned(),
                delta: added.to_owned(),
            });
        }
        match phase {
            Phase::Started | Phase::Updated => {
                let kept = if added.is_empty() { sent } else { text };
                self.streamed.insert(id.to_owned(), kept);
            }
            Phase::Completed => {
                self.started_at_ms.remove(id);
                out.push(Event::ItemCompleted {
                    item: emit::agent_message(id, &text),
                });
            }
        }
    }

    /// A command, file change or MCP call: started once (later updates are dropped),
    /// completed with its duration since then.
    fn on_tool_item(
        &mut self,
        id: &str,
        tool: &str,
        phase: Phase,
        item: &Value,
        out: &mut Vec<Event>,
    ) {
        let duration_ms = match phase {
            Phase::Started | Phase::Updated => {
                if self.started_at_ms.contains_key(id) {
                    return;
                }
                self.started_at_ms.insert(id.to_owned(), now_ms());
                None
            }
            Phase::Completed => {
                let started_at = self.started_at_ms.remove(id).unwrap_or_else(now_ms);
                Some(now_ms().saturating_sub(started_at))
            }
        };
        let mapped = match tool {
            "command_execution" => self.command_execution(id, item, duration_ms),
            "file_change" => file_change(id, item),
            _ => mcp_tool_call(id, item, duration_ms),
        };
        if duration_ms.is_none() {
            out.push(Event::ItemStarted { item: mapped });
            return;
        }
        let output = str_field(item, "aggregated_output");
        if tool == "command_execution" && !output.is_empty() {
            out.push(Event::CommandOutputDelta {
                item_id: id.to_owned(),
                delta: output,
            });
        }
        out.push(Event::ItemCompleted { item: mapped });
    }

    fn command_execution(&self, id: &str, item: &Value, duration_ms: Option<u64>) -> Value {
        let output = item.get("aggregated_output").and_then(Value::as_str);
        json!({
            "type": "commandExecution",
            "id": id,
            "command": str_field(item, "command"),
            "cwd": self.cwd,
            "processId": null,
            "source": "agent",
            "status": status(item),
            "commandActions": [],
            "aggregatedOutput": if duration_ms.is_some() { output.map(Value::from).unwrap_or(Value::Null) } else { Value::Null },
            "exitCode": item.get("exit_code").cloned().unwrap_or(Value::Null),
            "durationMs": duration_ms,
        })
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Started,
    Updated,
    Completed,
}

impl Phase {
    /// The phase an `item.*` line reports.
    fn of(kind: &str) -> Phase {
        match kind {
            "item.completed" => Phase::Completed,
            "item.updated" => Phase::Updated,
            _ => Phase::Started,
        }
    }
}

/// `in_progress` → `inProgress`; the other statuses are single words.
fn status(item: &Value) -> String {
    match item.get("status").and_then(Value::as_str) {
        Some("in_progress") | None => "inProgress".to_owned(),
        Some(other) => other.to_owned(),
    }
}

fn file_change(id: &str, item: &Value) -> Value {
    let changes: Vec<Value> = item
        .get("changes")
        .and_then(Value::as_array)
        .map(|changes| {
            changes
                .iter()
                .map(|change| {
                    let kind = change
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("update");
                    let mut kind_obj = Map::new();
                    kind_obj.insert("type".into(), Value::from(kind));
                    if kind == "update" {
                        kind_obj.insert("move_path".into(), Value::Null);
                    }
                    json!({
                        "path": str_field(change, "path"),
                        "kind": kind_obj,
                        "diff": str_field(change, "diff"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"type": "fileChange", "id": id, "changes": changes, "status": status(item)})
}

fn mcp_tool_call(id: &str, item: &Value, duration_ms: Option<u64>) -> Value {
    let result = match item.get("result") {
        Some(result) if result.is_object() => json!({
            "content": result.get("content").cloned().unwrap_or_else(|| json!([])),
            "structuredContent": result.get("structured_content").cloned().unwrap_or(Value::Null),
        }),
        Some(_) | None => Value::Null,
    };
    json!({
        "type": "mcpToolCall",
        "id": id,
        "server": str_field(item, "server"),
        "tool": str_field(item, "tool"),
        "status": status(item),
        "arguments": item.get("arguments").cloned().unwrap_or(Value::Null),
        "result": result,
        "error": item.get("error").cloned().unwrap_or(Value::Null),
        "durationMs": duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Adapter;
    use crate::backend::test_support::{self, completed_item, types};
    use crate::events::{MarkerOutcome, breakdown};

    fn map(lines: &[&str]) -> Vec<Event> {
        let stream = Stream::new("T", "/w", UsageBase::default());
        test_support::map(Adapter::CodexJsonl(stream), lines)
    }

    #[test]
    fn an_agent_message_updated_with_its_text_so_far_streams_as_deltas() {
        let out = map(&[
            r#"{"type":"item.started","item":{"id":"m","type":"agent_message","text":""}}"#,
            r#"{"type":"item.updated","item":{"id":"m","type":"agent_message","text":"Hello"}}"#,
            r#"{"type":"item.updated","item":{"id":"m","type":"agent_message","text":"Hello, wor"}}"#,
            // A text that does not extend what was sent adds nothing until the end.
            r#"{"type":"item.updated","item":{"id":"m","type":"agent_message","text":"Bye"}}"#,
            r#"{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"Hello, world."}}"#,
        ]);
        let deltas: Vec<&str> = out
            .iter()
            .filter_map(|event| match event {
                Event::AgentMessageDelta { delta, .. } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deltas, ["Hello", ", wor", "ld."]);
        assert_eq!(
            types(&out),
            [
                "itemStarted",
                "agentMessageDelta",
                "agentMessageDelta",
                "agentMessageDelta",
                "itemCompleted"
            ]
        );
        assert_eq!(completed_item(&out, 4)["text"], "Hello, world.");
    }

    #[test]
    fn maps_the_observed_codex_turn() {
        let out = map(&[
            r#"{"type":"thread.started","thread_id":"S1"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata not found"}}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"first"}}"#,
            r#"{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"echo hi","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"echo hi","aggregated_output":"hi\n","exit_code":0,"status":"completed"}}"#,
            r#"{"type":"error","message":"Reconnecting... 1/2 (x)"}"#,
            "not json at all",
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":2,"output_tokens":5,"reasoning_output_tokens":1}}"#,
        ]);
        assert_eq!(
            types(&out),
            [
                "backendSession",
                "warning",
                "itemStarted",
                "agentMessageDelta",
                "itemCompleted",
                "itemStarted",
                "commandOutputDelta",
                "itemCompleted",
                "error",
                "warning",
                "tokenUsage",
                "marker"
            ]
        );
        let item = completed_item(&out, 7);
        assert_eq!(item["id"], "T:item_2");
        assert_eq!(item["status"], "completed");
        assert_eq!(item["aggregatedOutput"], "hi\n");
        let Event::Error { will_retry, .. } = &out[8] else {
            panic!()
        };
        assert!(*will_retry);
        let Event::TokenUsage { total, .. } = &out[10] else {
            panic!()
        };
        assert_eq!(total.total_tokens, 15);
    }

    #[test]
    fn approval_requests_name_the_prefixed_item() {
        let out = map(&[
            r#"{"type":"approval.requested","id":"a1","kind":"command_execution","item_id":"item_2","command":"rm x","reason":null}"#,
            r#"{"type":"approval.requested","id":"a2","kind":"file_change","item_id":"item_3","reason":"new file"}"#,
            r#"{"type":"approval.requested","id":"a3","kind":"network","item_id":"item_4"}"#,
            r#"{"type":"approval.requested","kind":"file_change","item_id":"item_4"}"#,
        ]);
        assert_eq!(
            out[0],
            Event::ApprovalRequested {
                request_id: "a1".into(),
                kind: ApprovalKind::CommandExecution,
                item_id: "T:item_2".into(),
                reason: None,
                command: Some("rm x".into()),
                cwd: Some("/w".into()),
            }
        );
        assert_eq!(
            out[1],
            Event::ApprovalRequested {
                request_id: "a2".into(),
                kind: ApprovalKind::FileChange,
                item_id: "T:item_3".into(),
                reason: Some("new file".into()),
                command: None,
                cwd: None,
            }
        );
        assert!(matches!(&out[2], Event::Warning { message } if message.contains("kind")));
        assert!(matches!(&out[3], Event::Warning { message } if message.contains("\"id\"")));
    }

    #[test]
    fn held_error_becomes_the_failure_message() {
        let out = map(&[
            r#"{"type":"error","message":"upstream 500"}"#,
            r#"{"type":"turn.failed","error":{"message":"upstream 500"}}"#,
        ]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(
            &out[1],
            Event::Marker {
                outcome: MarkerOutcome::Failed,
                ..
            }
        ));
    }

    /// The usage events of `lines` mapped with `base`, as (total, last, session total).
    fn usage(base: UsageBase, lines: &[&str]) -> Vec<(u64, u64, Option<u64>)> {
        let mut stream = Stream::new("T", "/w", base);
        let mut out = Vec::new();
        for line in lines {
            stream.on_line(line.as_bytes(), &mut out);
        }
        out.iter()
            .filter_map(|e| match e {
                Event::TokenUsage {
                    total,
                    last,
                    session_total,
                    ..
                } => Some((
                    total.total_tokens,
                    last.total_tokens,
                    session_total.map(|s| s.total_tokens),
                )),
                _ => None,
            })
            .collect()
    }

    /// The usage of a turn of 42 tokens in the backend session `session`, mapped with `base`.
    fn usage_of_42_in(session: &str, base: UsageBase) -> Vec<(u64, u64, Option<u64>)> {
        let started = json!({"type": "thread.started", "thread_id": session}).to_string();
        usage(
            base,
            &[
                &started,
                r#"{"type":"turn.completed","usage":{"input_tokens":30,"output_tokens":12}}"#,
            ],
        )
    }

    /// A thread of 15 tokens so far, all of them in the session `s1` this turn resumes.
    fn resuming_s1() -> UsageBase {
        UsageBase {
            thread_total: breakdown(10, 5),
            session_total: breakdown(10, 5),
            session_id: Some("s1".into()),
        }
    }

    #[test]
    fn a_fresh_session_adds_its_usage_to_the_thread_total() {
        let base = UsageBase {
            thread_total: breakdown(10, 5),
            ..UsageBase::default()
        };
        assert_eq!(usage_of_42_in("s2", base), [(57, 42, Some(42))]);
    }

    #[test]
    fn a_resumed_session_counts_from_its_own_figure_before_the_turn() {
        assert_eq!(usage_of_42_in("s1", resuming_s1()), [(42, 27, Some(42))]);
    }

    #[test]
    fn a_session_other_than_the_resumed_one_counts_from_zero() {
        assert_eq!(usage_of_42_in("new", resuming_s1()), [(57, 42, Some(42))]);
    }

    #[test]
    fn field_by_field_sums_and_differences() {
        let before = TokenBreakdown {
            total_tokens: 15,
            input_tokens: 10,
            cached_input_tokens: 2,
            cache_write_input_tokens: 1,
            output_tokens: 5,
            reasoning_output_tokens: 3,
        };
        let base = UsageBase {
            thread_total: before,
            session_total: before,
            session_id: Some("s1".into()),
        };
        let mut stream = Stream::new("T", "/w", base);
        let mut out = Vec::new();
        stream.on_line(
            br#"{"type":"turn.completed","usage":{"input_tokens":25,"cached_input_tokens":7,"cache_write_input_tokens":1,"output_tokens":9,"reasoning_output_tokens":4}}"#,
            &mut out,
        );
        let Event::TokenUsage { total, last, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(
            *last,
            TokenBreakdown {
                total_tokens: 19,
                input_tokens: 15,
                cached_input_tokens: 5,
                cache_write_input_tokens: 0,
                output_tokens: 4,
                reasoning_output_tokens: 1,
            }
        );
        assert_eq!(
            *total,
            TokenBreakdown {
                total_tokens: 34,
                input_tokens: 25,
                cached_input_tokens: 7,
                cache_write_input_tokens: 1,
                output_tokens: 9,
                reasoning_output_tokens: 4,
            }
        );
    }
}
