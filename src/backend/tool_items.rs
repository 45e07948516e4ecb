//! The app-server items a tool call opens, for the adapters whose CLIs announce a tool by
//! name (`claude`, `gemini`): each adapter maps its own tool names onto these, reads its own
//! tool result into a [`ToolResult`], and [`OpenTool::complete`] completes the item with it.

use serde_json::{Value, json};

use crate::events::{Event, now_ms};

/// What kind of item a tool call opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Command,
    FileChange,
    Mcp,
}

/// A `commandExecution` in progress.
pub fn command(id: &str, command: &str, cwd: &str) -> (ToolKind, Value) {
    (
        ToolKind::Command,
        json!({"type": "commandExecution", "id": id, "command": command, "cwd": cwd,
            "processId": null, "source": "agent", "status": "inProgress", "commandActions": [],
            "aggregatedOutput": null, "exitCode": null, "durationMs": null}),
    )
}

/// A `fileChange` of one file in progress: `add` for a new file, else an update.
pub fn file_change(id: &str, path: &str, add: bool) -> (ToolKind, Value) {
    let kind = if add {
        json!({"type": "add"})
    } else {
        json!({"type": "update", "move_path": null})
    };
    (
        ToolKind::FileChange,
        json!({"type": "fileChange", "id": id,
            "changes": [{"path": path, "kind": kind, "diff": ""}], "status": "inProgress"}),
    )
}

/// An `mcpToolCall` in progress (also for a CLI's own tools outside our item subset).
pub fn mcp_call(id: &str, server: &str, tool: &str, arguments: Value) -> (ToolKind, Value) {
    (
        ToolKind::Mcp,
        json!({"type": "mcpToolCall", "id": id, "server": server, "tool": tool,
            "status": "inProgress", "arguments": arguments, "result": null, "error": null,
            "durationMs": null}),
    )
}

/// How a CLI names the tools of MCP servers, `mcp<separator>SERVER<separator>TOOL`; any other
/// name is one of the CLI's own tools, shown as a tool of the server `own_server`.
#[derive(Debug, Clone, Copy)]
pub struct McpNaming {
    pub separator: &'static str,
    pub own_server: &'static str,
}

impl McpNaming {
    /// An `mcpToolCall` in progress for the tool `name` (the split is a guess when the server
    /// name holds the separator).
    pub fn call(self, id: &str, name: &str, arguments: Value) -> (ToolKind, Value) {
        let (server, tool) = name
            .strip_prefix("mcp")
            .and_then(|rest| rest.strip_prefix(self.separator))
            .and_then(|rest| rest.split_once(self.separator))
            .unwrap_or((self.own_server, name));
        mcp_call(id, server, tool, arguments)
    }
}

/// A tool call whose item has started and waits for the tool's result.
#[derive(Debug)]
pub struct OpenTool {
    kind: ToolKind,
    item: Value,
    started_at_ms: u64,
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolStatus {
    Completed,
    Failed,
    /// Refused before it ran (a denied permission).
    Declined,
}

impl ToolStatus {
    fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Completed => "completed",
            ToolStatus::Failed => "failed",
            ToolStatus::Declined => "declined",
        }
    }
}

/// What a tool's result says, in the terms of the item's kind.
#[derive(Debug)]
pub enum ToolResult {
    /// A command's output (empty when it printed nothing) and its exit code, when known.
    Command {
        output: String,
        exit_code: Option<i64>,
    },
    FileChange,
    /// An MCP call's result content, or its error message.
    Mcp(Result<Value, String>),
}

impl OpenTool {
    /// Starts the item a tool call opened (`itemStarted`).
    pub fn start((kind, item): (ToolKind, Value), out: &mut Vec<Event>) -> OpenTool {
        out.push(Event::ItemStarted { item: item.clone() });
        OpenTool {
            kind,
            item,
            started_at_ms: now_ms(),
        }
    }

    pub fn kind(&self) -> ToolKind {
        self.kind
    }

    /// Completes the item: a command's output as one delta and as its `aggregatedOutput`,
    /// an MCP call's result or error, the duration of either, then `itemCompleted`.
    pub fn complete(self, status: ToolStatus, result: ToolResult, out: &mut Vec<Event>) {
        let duration = now_ms().saturating_sub(self.started_at_ms);
        let mut item = self.item;
        item["status"] = status.as_str().into();
        match result {
            ToolResult::Command { output, exit_code } => {
                if !output.is_empty() {
                    out.push(Event::CommandOutputDelta {
                        item_id: item["id"].as_str().unwrap_or_default().to_owned(),
                        delta: output.clone(),
                    });
                }
                item["aggregatedOutput"] = output.into();
                item["exitCode"] = exit_code.map_or(Value::Null, Value::from);
                item["durationMs"] = duration.into();
            }
            ToolResult::FileChange => {}
            ToolResult::Mcp(result) => {
                item["durationMs"] = duration.into();
                match result {
                    Ok(content) => {
                        item["result"] = json!({"content": content, "structuredContent": null});
                    }
                    Err(message) => item["error"] = json!({"message": message}),
                }
            }
        }
        out.push(Event::ItemCompleted { item });
    }
}
