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
use super::emit::{self, Session, ThreadTotal};
use super::lines::{Lines, str_field};
use super::tool_items::{self, McpNaming, OpenTool, ToolKind, ToolResult, ToolStatus};
use crate::events::{Event, TokenBreakdown};

/// Gemini's MCP tools are `mcp_SERVER_TOOL`; its own tools without an item of their own
/// (`read_file`, `google_web_search`, …) are shown as tools of the server `gemini`.
const GEMINI_MCP: McpNaming = McpNaming {
    separator: "_",
    own_server: "gemini",
};

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
    thread_total: ThreadTotal,
    session: Session,
    message: Option<OpenMessage>,
    messages: u32,
    open_tools: HashMap<String, OpenTool>,
    lines: Lines,
}

impl Stream {
    pub fn new(turn_id: &str, cwd: &str, usage: UsageBase) -> Stream {
        Stream {
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            thread_total: ThreadTotal::new(usage.thread_total),
            session: Session::default(),
            message: None,
            messages: 0,
            open_tools: HashMap::new(),
            lines: Lines::default(),
        }
    }

    /// Maps one line.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Some((kind, value)) = self.lines.read(line, out) else {
            return;
        };
        match kind.as_str() {
            "init" => {
                self.close_message(out);
                let session = value.get("session_id").and_then(Value::as_str);
                self.session.named(session, out);
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
                    Some(_) | None => out.push(emit::turn_error(message)),
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
                    item: emit::agent_message(&id, ""),
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
                item: emit::agent_message(&message.id, &message.text),
            });
        }
    }

    fn open_tool(&mut self, value: &Value, out: &mut Vec<Event>) {
        let tool_id = str_field(value, "tool_id");
        let name = str_field(value, "tool_name");
        let parameters = value.get("parameters").cloned().unwrap_or(Value::Null);
        let item_id = format!("{}:{tool_id}", self.turn_id);
        let started = match name.as_str() {
            "run_shell_command" => {
                tool_items::command(&item_id, &str_field(&parameters, "command"), &self.cwd)
            }
            "replace" | "write_file" => tool_items::file_change(
                &item_id,
                &str_field(&parameters, "file_path"),
                name == "write_file",
            ),
            other => GEMINI_MCP.call(&item_id, other, parameters),
        };
        self.open_tools
            .insert(tool_id, OpenTool::start(started, out));
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
        let result = match open.kind() {
            ToolKind::Command => ToolResult::Command {
                output: if output.is_empty() { error } else { output },
                // The event has no exit code; a success is taken as 0.
                exit_code: success.then_some(0),
            },
            ToolKind::FileChange => ToolResult::FileChange,
            ToolKind::Mcp if success => {
                ToolResult::Mcp(Ok(json!([{"type": "text", "text": output}])))
            }
            ToolKind::Mcp => ToolResult::Mcp(Err(error)),
        };
        let status = if success {
            ToolStatus::Completed
        } else {
            ToolStatus::Failed
        };
        open.complete(status, result, out);
    }

    fn on_result(&mut self, value: &Value, out: &mut Vec<Event>) {
        self.close_message(out);
        if let Some(stats) = value.get("stats") {
            out.push(self.thread_total.add(gemini_usage(stats), None, None));
        }
        if value.get("status").and_then(Value::as_str) == Some("success") {
            out.push(emit::completed());
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
        emit::failed(message, out);
    }
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
    use crate::backend::Adapter;
    use crate::backend::test_support::{self, completed_item};
    use crate::events::MarkerOutcome;

    fn map(lines: &[&str]) -> Vec<Event> {
        let stream = Stream::new("T", "/w", UsageBase::default());
        test_support::map(Adapter::Gemini(stream), lines)
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
        let item = completed_item(&out, 1);
        assert_eq!(item["server"], "srv");
        assert_eq!(item["tool"], "do");
        assert_eq!(item["status"], "failed");
        assert_eq!(item["error"]["message"], "nope");
        assert!(matches!(&out[2], Event::Warning { .. }));
    }
}
