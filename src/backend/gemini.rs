//! Gemini CLI `-p PROMPT -o stream-json` (one-shot), mapped onto canonical events per
//! `backends-and-supervision.md` §1.3.
//!
//! Assistant text comes as `message` lines (`role: "assistant"`, `delta: true`) with no
//! message ids: the only message boundaries are the tool events. So an `agentMessage` item
//! opens at the first delta after `init` or a `tool_result` and closes at the next
//! `tool_use` or at `result`. `tool_use` opens an item that the `tool_result` with the same
//! `tool_id` completes (`run_shell_command` is a `commandExecution`, `replace`/`write_file` a
//! `fileChange`, anything else an `mcpToolCall`). `result` is the end marker and carries no
//! text: `status: "success"` completes the turn, anything else fails it with `error.message`.
//! `error` lines of severity `warning` are warnings, never fatal. `result.stats` counts this
//! process's requests, taken as the turn's usage.
//!
//! What the real CLI (0.61.0) showed: an API error (HTTP 400) comes as `result` with
//! `status: "error"` and `error.message` `[API Error: {…the response body…}]`, then exit 144;
//! the shell tool runs its command in a session of its own, so only the runner's kill of
//! every process of the turn stops it (SIGINT/SIGTERM to the CLI do not reach it).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::UsageBase;
use super::tool_items::{self, ToolKind};
use crate::events::{ErrorInfo, Event, MarkerOutcome, TokenBreakdown, now_ms};

#[derive(Debug)]
struct OpenTool {
    kind: ToolKind,
    item: Value,
    started_at_ms: u64,
}

/// The agentMessage item being written.
#[derive(Debug)]
struct OpenMessage {
    id: String,
    text: String,
}

/// Parser state for one Gemini process.
#[derive(Debug)]
pub struct Stream {
    turn_id: String,
    cwd: String,
    thread_total: TokenBreakdown,
    session_id: Option<String>,
    message: Option<OpenMessage>,
    messages: u32,
    open_tools: HashMap<String, OpenTool>,
    line_number: u64,
}

impl Stream {
    pub fn new(turn_id: &str, cwd: &str, usage: UsageBase) -> Stream {
        Stream {
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            thread_total: usage.thread_total,
            session_id: None,
            message: None,
            messages: 0,
            open_tools: HashMap::new(),
            line_number: 0,
        }
    }

    /// Maps one line.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        self.line_number += 1;
        let (kind, value) = match super::read_typed_line(line, self.line_number) {
            Ok(Some(read)) => read,
            Ok(None) => return,
            Err(warning) => {
                out.push(*warning);
                return;
            }
        };
        match kind.as_str() {
            "init" => {
                self.close_message(out);
                if let Some(session) = value.get("session_id").and_then(Value::as_str)
                    && self.session_id.as_deref() != Some(session)
                {
                    self.session_id = Some(session.to_owned());
                    out.push(Event::BackendSession {
                        session_id: session.to_owned(),
                    });
                }
            }
            "message" if value.get("role").and_then(Value::as_str) == Some("assistant") => {
                self.on_text(&str_field(&value, "content"), out);
            }
            "tool_use" => {
                self.close_message(out);
                self.open_tool(&value, out);
            }
            "tool_result" => {
                self.close_message(out);
                self.close_tool(&value, out);
            }
            "error" => {
                let message = str_field(&value, "message");
                match value.get("severity").and_then(Value::as_str) {
                    Some("warning") => out.push(Event::Warning { message }),
                    Some(_) | None => out.push(Event::Error {
                        message,
                        will_retry: false,
                    }),
                }
            }
            "result" => self.on_result(&value, out),
            _ => {}
        }
    }

    /// At stdout EOF: a message still open is closed with what it has; tools never answered
    /// are left open (the turn's status says why).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.close_message(out);
    }

    fn on_text(&mut self, delta: &str, out: &mut Vec<Event>) {
        if delta.is_empty() {
            return;
        }
        let message = match &mut self.message {
            Some(message) => message,
            None => {
                let id = format!("{}:msg:{}", self.turn_id, self.messages);
                self.messages += 1;
                out.push(Event::ItemStarted {
                    item: json!({"type": "agentMessage", "id": id, "text": "", "phase": null}),
                });
                self.message.insert(OpenMessage {
                    id,
                    text: String::new(),
                })
            }
        };
        message.text.push_str(delta);
        out.push(Event::AgentMessageDelta {
            item_id: message.id.clone(),
            delta: delta.to_owned(),
        });
    }

    fn close_message(&mut self, out: &mut Vec<Event>) {
        if let Some(message) = self.message.take() {
            out.push(Event::ItemCompleted {
                item: json!({"type": "agentMessage", "id": message.id, "text": message.text,
                    "phase": null}),
            });
        }
    }

    fn open_tool(&mut self, value: &Value, out: &mut Vec<Event>) {
        let tool_id = str_field(value, "tool_id");
        let name = str_field(value, "tool_name");
        let parameters = value.get("parameters").cloned().unwrap_or(Value::Null);
        let item_id = format!("{}:{tool_id}", self.turn_id);
        let (kind, item) = match name.as_str() {
            "run_shell_command" => {
                tool_items::command(&item_id, &str_field(&parameters, "command"), &self.cwd)
            }
            "replace" | "write_file" => tool_items::file_change(
                &item_id,
                &str_field(&parameters, "file_path"),
                name == "write_file",
            ),
            other => {
                // `mcp_<server>_<tool>`; the split is a guess when the server name holds `_`.
                let (server, tool) = other
                    .strip_prefix("mcp_")
                    .and_then(|rest| rest.split_once('_'))
                    .unwrap_or(("gemini", other));
                tool_items::mcp_call(&item_id, server, tool, parameters)
            }
        };
        out.push(Event::ItemStarted { item: item.clone() });
        self.open_tools.insert(
            tool_id,
            OpenTool {
                kind,
                item,
                started_at_ms: now_ms(),
            },
        );
    }

    fn close_tool(&mut self, value: &Value, out: &mut Vec<Event>) {
        let Some(open) = self.open_tools.remove(&str_field(value, "tool_id")) else {
            return;
        };
        let success = value.get("status").and_then(Value::as_str) == Some("success");
        let output = str_field(value, "output");
        let error = value
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let duration = now_ms().saturating_sub(open.started_at_ms);
        let mut item = open.item;
        item["status"] = if success { "completed" } else { "failed" }.into();
        match open.kind {
            ToolKind::Command => {
                let shown = if output.is_empty() { &error } else { &output };
                if !shown.is_empty() {
                    out.push(Event::CommandOutputDelta {
                        item_id: str_field(&item, "id"),
                        delta: shown.clone(),
                    });
                }
                item["aggregatedOutput"] = shown.clone().into();
                // The event has no exit code; a success is taken as 0.
                item["exitCode"] = if success { Value::from(0) } else { Value::Null };
                item["durationMs"] = duration.into();
            }
            ToolKind::FileChange => {}
            ToolKind::Mcp => {
                item["durationMs"] = duration.into();
                if success {
                    item["result"] = json!({"content": [{"type": "text", "text": output}],
                        "structuredContent": null});
                } else {
                    item["error"] = json!({"message": error});
                }
            }
        }
        out.push(Event::ItemCompleted { item });
    }

    fn on_result(&mut self, value: &Value, out: &mut Vec<Event>) {
        self.close_message(out);
        if let Some(stats) = value.get("stats") {
            let last = gemini_usage(stats);
            self.thread_total = self.thread_total.plus(&last);
            out.push(Event::TokenUsage {
                total: self.thread_total,
                last,
                model_context_window: None,
                session_total: None,
            });
        }
        if value.get("status").and_then(Value::as_str) == Some("success") {
            out.push(Event::Marker {
                outcome: MarkerOutcome::Completed,
                error: None,
            });
            return;
        }
        let message = value
            .get("error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map_or_else(
                || "the backend ended the turn with an error".to_owned(),
                str::to_owned,
            );
        out.push(Event::Error {
            message: message.clone(),
            will_retry: false,
        });
        out.push(Event::Marker {
            outcome: MarkerOutcome::Failed,
            error: Some(ErrorInfo::new(message)),
        });
    }
}

fn str_field(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `result.stats` in Codex's terms: `input_tokens` is every prompt token, `cached` the part
/// of it served from the cache.
fn gemini_usage(stats: &Value) -> TokenBreakdown {
    let field = |name: &str| stats.get(name).and_then(Value::as_u64).unwrap_or(0);
    let input = field("input_tokens");
    let output = field("output_tokens");
    TokenBreakdown {
        total_tokens: match field("total_tokens") {
            0 => input.saturating_add(output),
            total => total,
        },
        input_tokens: input,
        cached_input_tokens: field("cached"),
        cache_write_input_tokens: 0,
        output_tokens: output,
        reasoning_output_tokens: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[&str]) -> Vec<Event> {
        let mut stream = Stream::new("T", "/w", UsageBase::default());
        let mut out = Vec::new();
        for line in lines {
            stream.on_line(line.as_bytes(), &mut out);
        }
        stream.finish(&mut out);
        out
    }

    /// Lines of the real CLI (0.61.0) for a tool turn, timestamps dropped.
    const TOOL_TURN: &[&str] = &[
        r#"{"type":"init","session_id":"s-1","model":"gemini-2.5-flash"}"#,
        r#"{"type":"message","role":"user","content":"please use the tool"}"#,
        r#"{"type":"message","role":"assistant","content":"Running it.","delta":true}"#,
        r#"{"type":"tool_use","tool_name":"run_shell_command","tool_id":"r_1","parameters":{"command":"echo hi","description":"x"}}"#,
        r#"{"type":"tool_result","tool_id":"r_1","status":"success","output":"hi"}"#,
        r#"{"type":"message","role":"assistant","content":"The command ","delta":true}"#,
        r#"{"type":"message","role":"assistant","content":"printed hi.","delta":true}"#,
        r#"{"type":"result","status":"success","stats":{"total_tokens":24,"input_tokens":20,"output_tokens":4,"cached":3,"input":17,"duration_ms":154,"tool_calls":1,"models":{}}}"#,
    ];

    #[test]
    fn text_before_a_tool_is_its_own_message_and_the_answer_comes_after() {
        let out = map(TOOL_TURN);
        let completed: Vec<&Value> = out
            .iter()
            .filter_map(|e| match e {
                Event::ItemCompleted { item } => Some(item),
                _ => None,
            })
            .collect();
        assert_eq!(completed.len(), 3, "{out:?}");
        assert_eq!(completed[0]["text"], "Running it.");
        assert_eq!(completed[1]["type"], "commandExecution");
        assert_eq!(completed[1]["command"], "echo hi");
        assert_eq!(completed[1]["aggregatedOutput"], "hi");
        assert_eq!(completed[1]["status"], "completed");
        assert_eq!(completed[2]["text"], "The command printed hi.");
        assert_ne!(completed[0]["id"], completed[2]["id"]);
        assert!(matches!(&out[0], Event::BackendSession { session_id } if session_id == "s-1"));
        let usage = out.iter().find_map(|e| match e {
            Event::TokenUsage { last, .. } => Some(*last),
            _ => None,
        });
        assert_eq!(
            usage,
            Some(TokenBreakdown {
                total_tokens: 24,
                input_tokens: 20,
                cached_input_tokens: 3,
                cache_write_input_tokens: 0,
                output_tokens: 4,
                reasoning_output_tokens: 0,
            })
        );
        assert!(matches!(
            out.last(),
            Some(Event::Marker {
                outcome: MarkerOutcome::Completed,
                error: None
            })
        ));
    }

    #[test]
    fn an_error_result_fails_with_its_message_and_a_warning_is_not_fatal() {
        let out = map(&[
            r#"{"type":"init","session_id":"s-1","model":"m"}"#,
            r#"{"type":"error","severity":"warning","message":"loop detected"}"#,
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"[API Error: no]"},"stats":{"total_tokens":0}}"#,
        ]);
        assert!(
            matches!(&out[1], Event::Warning { message } if message == "loop detected"),
            "{out:?}"
        );
        match out.last() {
            Some(Event::Marker {
                outcome: MarkerOutcome::Failed,
                error: Some(error),
            }) => assert_eq!(error.message, "[API Error: no]"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_tool_and_a_bad_line() {
        let out = map(&[
            r#"{"type":"tool_use","tool_name":"mcp_srv_do","tool_id":"a","parameters":{}}"#,
            r#"{"type":"tool_result","tool_id":"a","status":"error","error":{"type":"x","message":"nope"}}"#,
            "not json",
        ]);
        match &out[1] {
            Event::ItemCompleted { item } => {
                assert_eq!(item["server"], "srv");
                assert_eq!(item["tool"], "do");
                assert_eq!(item["status"], "failed");
                assert_eq!(item["error"]["message"], "nope");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[2], Event::Warning { .. }));
    }
}
