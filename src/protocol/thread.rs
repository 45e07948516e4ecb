//! Threads: the `Thread` object and its status. The `thread/*` methods' params and results
//! are in `thread_methods.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::turn::Turn;

/// A thread as Codex 0.169.0 sends it. Every member is always present on the wire; the
/// nullable ones are written as `null`, never left out. The members after the stable schema
/// (`environments`, `extra`, `attachedToThreadId`, `canAcceptDirectInput`, `daybreakEnabled`)
/// are not in the upstream stable schema but are always sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
    pub id: String,
    /// The thread's environments; `null` when the thread is not loaded.
    pub environments: Option<Vec<ThreadEnvironment>>,
    pub extra: Option<Value>,
    pub session_id: String,
    pub forked_from_id: Option<String>,
    pub attached_to_thread_id: Option<String>,
    pub parent_thread_id: Option<String>,
    /// The first user message; `""` until the first turn.
    pub preview: String,
    pub ephemeral: bool,
    pub section: Option<Value>,
    pub section_entered_at: Option<i64>,
    pub project_id: Option<String>,
    pub history_mode: HistoryMode,
    pub model_provider: String,
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds.
    pub recency_at: Option<i64>,
    pub status: ThreadStatus,
    /// Where the thread is stored; `null` if and only if the thread is ephemeral.
    pub path: Option<String>,
    /// Absolute path.
    pub cwd: String,
    pub cli_version: String,
    /// The `clientInfo.name` of the client that created the thread.
    pub originator: Option<String>,
    pub source: SessionSource,
    pub can_accept_direct_input: Option<bool>,
    pub thread_source: Option<String>,
    pub agent_nickname: Option<String>,
    pub agent_role: Option<String>,
    pub git_info: Option<GitInfo>,
    pub name: Option<String>,
    pub daybreak_enabled: Option<bool>,
    /// Filled only by `thread/resume`, `thread/fork` and `thread/read includeTurns`.
    pub turns: Vec<Turn>,
}

/// One environment of a loaded thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadEnvironment {
    pub environment_id: String,
    pub cwd: String,
    pub runtime_workspace_roots: Vec<String>,
}

/// How a thread's history is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HistoryMode {
    Legacy,
    Paginated,
}

/// Which kind of client session created a thread. App-server threads are `vscode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionSource {
    Cli,
    #[serde(rename = "vscode")]
    VsCode,
    Exec,
    AppServer,
    Unknown,
    Custom(Value),
    SubAgent(Value),
}

/// Git facts about a thread's working directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitInfo {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub origin_url: Option<String>,
}

/// The runtime status of a thread. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ThreadStatus {
    /// Not loaded in this server (lists, reads of stored threads, after archive).
    NotLoaded,
    /// Loaded and quiet.
    Idle,
    /// The last turn failed; stays until the next turn starts.
    SystemError,
    /// A turn is running.
    Active { active_flags: Vec<ThreadActiveFlag> },
}

/// Why an active thread is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ThreadActiveFlag {
    WaitingOnApproval,
    WaitingOnUserInput,
}
