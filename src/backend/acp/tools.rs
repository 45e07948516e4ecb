//! An ACP agent's tool calls as app-server items: `tool_call` (or the tool call of a
//! permission request, which some agents send instead) opens the item, the
//! `tool_call_update` whose `status` is `completed` or `failed` completes it.
//!
//! The item's type comes from the call's `kind`: `execute` is a `commandExecution` (the
//! command from `rawInput.command`, else the title), `edit`, `delete` and `move` a
//! `fileChange` (the path of its first diff or location; `add` when the diff has no old
//! text), anything else (`read`, `search`, `fetch`, `think`, `other`, an MCP tool) an
//! `mcpToolCall` of the server `acp` named by the call's title.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::super::tool_items::{self, OpenTool, ToolKind, ToolResult, ToolStatus};
use crate::events::Event;

/// The MCP server name given to an agent's own tools that have no item type of their own.
const OWN_SERVER: &str = "acp";

/// The tool calls of one session prompt.
#[derive(Debug)]
pub(super) struct Tools {
    turn_id: String,
    cwd: String,
    /// Started items, by the agent's `toolCallId`.
    open: HashMap<String, OpenTool>,
    /// Calls whose item is completed: later updates of them are ignored.
    done: HashSet<String>,
}

/// What an approval request needs to know of the call it is about.
pub(super) struct CallSummary {
    pub item_id: String,
    pub kind: ToolKind,
    /// The command of a `commandExecution`, else the call's title.
    pub command: String,
    pub title: Option<String>,
}

impl Tools {
    pub(super) fn new(turn_id: &str, cwd: &str) -> Tools {
        Tools {
            turn_id: turn_id.to_owned(),
            cwd: cwd.to_owned(),
            open: HashMap::new(),
            done: HashSet::new(),
        }
    }

    fn item_id(&self, call_id: &str) -> String {
        format!("{}:{call_id}", self.turn_id)
    }

    /// Opens the item of `call` (a `ToolCall` or `ToolCallUpdate` object) unless it is open
    /// or done; then completes it if its status says it ended. `None` when the call has no
    /// `toolCallId`.
    pub(super) fn on_call(&mut self, call: &Value, out: &mut Vec<Event>) -> Option<CallSummary> {
        let call_id = call.get("toolCallId").and_then(Value::as_str)?.to_owned();
        let item_id = self.item_id(&call_id);
        let summary = self.summary(&call_id, &item_id, call);
        if self.done.contains(&call_id) {
            return Some(summary);
        }
        if !self.open.contains_key(&call_id) {
            let item = self.item(&item_id, call);
            self.open
                .insert(call_id.clone(), OpenTool::start(item, out));
        }
        match call.get("status").and_then(Value::as_str) {
            Some("completed") => self.complete(&call_id, ToolStatus::Completed, call, out),
            Some("failed") => self.complete(&call_id, ToolStatus::Failed, call, out),
            _ => {}
        }
        Some(summary)
    }

    /// Completes the call's item as declined (its permission was refused), if it is open.
    pub(super) fn decline(&mut self, call_id: &str, out: &mut Vec<Event>) {
        self.complete(call_id, ToolStatus::Declined, &Value::Null, out);
    }

    /// Completes every open item as failed: the prompt ended without their end.
    pub(super) fn close_all(&mut self, out: &mut Vec<Event>) {
        let mut ids: Vec<String> = self.open.keys().cloned().collect();
        ids.sort();
        for id in ids {
            self.complete(&id, ToolStatus::Failed, &Value::Null, out);
        }
    }

    fn complete(&mut self, call_id: &str, status: ToolStatus, call: &Value, out: &mut Vec<Event>) {
        let Some(tool) = self.open.remove(call_id) else {
            return;
        };
        self.done.insert(call_id.to_owned());
        let text = content_text(call);
        let result = match tool.kind() {
            ToolKind::Command => {
                let raw = call.get("rawOutput").unwrap_or(&Value::Null);
                let output = match text.is_empty() {
                    false => text,
                    true => raw_output_text(raw),
                };
                let exit_code = ["exit_code", "exitCode"]
                    .iter()
                    .find_map(|name| raw.get(name).and_then(Value::as_i64));
                ToolResult::Command { output, exit_code }
            }
            ToolKind::FileChange => ToolResult::FileChange,
            ToolKind::Mcp => match status {
                ToolStatus::Completed => ToolResult::Mcp(Ok(content_blocks(call))),
                ToolStatus::Failed | ToolStatus::Declined => ToolResult::Mcp(Err(text)),
            },
        };
        tool.complete(status, result, out);
    }

    /// The item a call opens.
    fn item(&self, item_id: &str, call: &Value) -> (ToolKind, Value) {
        match call.get("kind").and_then(Value::as_str) {
            Some("execute") => tool_items::command(item_id, &command_text(call), &self.cwd),
            Some("edit" | "delete" | "move") => {
                let (path, add) = changed_path(call);
                tool_items::file_change(item_id, &path, add)
            }
            _ => {
                let arguments = call.get("rawInput").cloned().unwrap_or_else(|| json!({}));
                tool_items::mcp_call(item_id, OWN_SERVER, &title(call), arguments)
            }
        }
    }

    fn summary(&self, call_id: &str, item_id: &str, call: &Value) -> CallSummary {
        let kind = self
            .open
            .get(call_id)
            .map(OpenTool::kind)
            .unwrap_or_else(|| self.item(item_id, call).0);
        CallSummary {
            item_id: item_id.to_owned(),
            kind,
            command: match kind {
                ToolKind::Command => command_text(call),
                ToolKind::FileChange | ToolKind::Mcp => title(call),
            },
            title: call.get("title").and_then(Value::as_str).map(str::to_owned),
        }
    }
}

/// The call's title, else its kind, else `tool`.
fn title(call: &Value) -> String {
    ["title", "kind"]
        .iter()
        .find_map(|name| call.get(name).and_then(Value::as_str))
        .unwrap_or("tool")
        .to_owned()
}

/// The command of an `execute` call: `rawInput.command` (a string, or a list joined by
/// spaces), else the title.
fn command_text(call: &Value) -> String {
    match call.get("rawInput").and_then(|raw| raw.get("command")) {
        Some(Value::String(command)) => command.clone(),
        Some(Value::Array(words)) => words
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => title(call),
    }
}

/// The path an edit changes and whether it adds the file.
fn changed_path(call: &Value) -> (String, bool) {
    let contents = call.get("content").and_then(Value::as_array);
    if let Some(diff) = contents
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("diff"))
    {
        let path = diff.get("path").and_then(Value::as_str).unwrap_or_default();
        let add = diff.get("oldText").is_none_or(Value::is_null);
        return (path.to_owned(), add);
    }
    let location = call
        .get("locations")
        .and_then(|l| l.get(0))
        .and_then(|l| l.get("path"))
        .and_then(Value::as_str);
    (location.unwrap_or_default().to_owned(), false)
}

/// The content blocks of the call's `content` entries of type `content`.
fn content_blocks(call: &Value) -> Value {
    let blocks: Vec<Value> = call
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("content"))
        .filter_map(|c| c.get("content").cloned())
        .collect();
    Value::Array(blocks)
}

/// The text of the call's text content blocks, joined by newlines.
fn content_text(call: &Value) -> String {
    let blocks = content_blocks(call);
    let texts: Vec<&str> = blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    texts.join("\n")
}

/// A command's output from the call's `rawOutput`, for agents that put it there.
fn raw_output_text(raw: &Value) -> String {
    if let Some(text) = raw.as_str() {
        return text.to_owned();
    }
    ["formatted_output", "aggregated_output", "output", "stdout"]
        .iter()
        .find_map(|name| raw.get(name).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}
