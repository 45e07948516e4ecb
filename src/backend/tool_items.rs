//! The app-server items a tool call opens, for the adapters whose CLIs announce a tool by
//! name (`claude`, `gemini`): each adapter maps its own tool names onto these, and completes
//! the item from its own tool result.

use serde_json::{Value, json};

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
