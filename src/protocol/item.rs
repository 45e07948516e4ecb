//! Thread items: the units a turn is made of (`item/started`, `item/completed`,
//! `turn.items`). An item is tagged by `type`; its id is unique within the thread.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::UserInput;

/// One item of a turn: the `type`-specific members (the id among them, so that members come
/// in Codex's order) live in `ThreadItemKind`; the timestamps are common to every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadItem {
    #[serde(flatten)]
    pub kind: ThreadItemKind,
    /// Unix milliseconds; `null` when unknown.
    pub started_at_ms: Option<i64>,
    /// Unix milliseconds; `null` until the item is completed.
    pub completed_at_ms: Option<i64>,
}

/// The kind of an item and its members. New kinds are added as new variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ThreadItemKind {
    /// The user's input, echoed.
    UserMessage {
        id: String,
        client_id: Option<String>,
        content: Vec<UserInput>,
    },
    /// Text from the agent: `""` at start, the full text at completion.
    AgentMessage {
        moderation: Option<Value>,
        id: String,
        text: String,
        phase: Option<MessagePhase>,
        memory_citation: Option<Value>,
        delivery: Option<Value>,
        questions: Option<Value>,
    },
    /// Reasoning: summary parts and raw content parts, by index.
    Reasoning {
        id: String,
        summary: Vec<String>,
        content: Vec<String>,
    },
    /// A shell command run by the agent.
    CommandExecution {
        id: String,
        plugin_id: Option<String>,
        script_path: Option<String>,
        /// The full shell line, e.g. `/bin/bash -lc 'ls'`.
        command: String,
        cwd: String,
        process_id: Option<String>,
        source: CommandExecutionSource,
        status: CommandExecutionStatus,
        command_actions: Vec<CommandAction>,
        aggregated_output: Option<String>,
        exit_code: Option<i32>,
        duration_ms: Option<i64>,
    },
    /// A set of file changes (a patch).
    FileChange {
        id: String,
        changes: Vec<FileUpdateChange>,
        status: PatchApplyStatus,
    },
    /// A call of an MCP tool. The upstream schema lists more members (`appContext`,
    /// `mcpAppUi`, `pluginId`, `readOnlyHint`); none was ever captured, so they are not modelled.
    McpToolCall {
        id: String,
        server: String,
        tool: String,
        status: McpToolCallStatus,
        arguments: Value,
        result: Option<McpToolCallResult>,
        error: Option<McpToolCallError>,
        duration_ms: Option<i64>,
    },
    /// A plan written by the agent.
    Plan { id: String, text: String },
    /// The context was compacted.
    ContextCompaction { id: String },
    /// The agent looked at an image.
    ImageView { id: String, path: String },
    /// A review began (`review/start`); `review` names what is reviewed.
    EnteredReviewMode { id: String, review: String },
    /// A review ended; `review` is its text.
    ExitedReviewMode { id: String, review: String },
}

impl ThreadItem {
    /// The item's id, unique within its thread.
    pub fn id(&self) -> &str {
        match &self.kind {
            ThreadItemKind::UserMessage { id, .. }
            | ThreadItemKind::AgentMessage { id, .. }
            | ThreadItemKind::Reasoning { id, .. }
            | ThreadItemKind::CommandExecution { id, .. }
            | ThreadItemKind::FileChange { id, .. }
            | ThreadItemKind::McpToolCall { id, .. }
            | ThreadItemKind::Plan { id, .. }
            | ThreadItemKind::ContextCompaction { id }
            | ThreadItemKind::ImageView { id, .. }
            | ThreadItemKind::EnteredReviewMode { id, .. }
            | ThreadItemKind::ExitedReviewMode { id, .. } => id,
        }
    }
}

/// The phase of an agent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessagePhase {
    Commentary,
    PartialAnswer,
    FinalAnswer,
}

/// Where a command execution came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CommandExecutionSource {
    Agent,
    UserShell,
    UnifiedExecStartup,
    UnifiedExecInteraction,
}

/// The state of a command execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CommandExecutionStatus {
    InProgress,
    Completed,
    Failed,
    Declined,
}

/// What a command does, as parsed from its command line. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum CommandAction {
    Read {
        command: String,
        name: String,
        path: String,
    },
    ListFiles {
        command: String,
        path: Option<String>,
    },
    Search {
        command: String,
        query: Option<String>,
        path: Option<String>,
    },
    Unknown {
        command: String,
    },
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileUpdateChange {
    /// Absolute path.
    pub path: String,
    pub kind: PatchChangeKind,
    pub diff: String,
}

/// How a file changes. Tagged by `type`; note the snake_case `move_path`, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PatchChangeKind {
    Add,
    Delete,
    Update { move_path: Option<String> },
}

/// The state of a file change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PatchApplyStatus {
    InProgress,
    Completed,
    Failed,
    Declined,
}

/// The state of an MCP tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum McpToolCallStatus {
    InProgress,
    Completed,
    Failed,
}

/// The result of an MCP tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpToolCallResult {
    pub content: Vec<Value>,
    pub structured_content: Option<Value>,
    #[serde(rename = "_meta")]
    pub meta: Option<Value>,
}

/// The error of a failed MCP tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct McpToolCallError {
    pub message: String,
}
