//! The params and results of the `thread/*` methods.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{ApprovalsReviewer, AskForApproval, SandboxMode, SandboxPolicy};
use super::thread::Thread;

/// How a session was started (`thread/start.sessionStartSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionStartSource {
    Startup,
    Clear,
}

/// `thread/start` params: every member is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStartParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<AskForApproval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<ApprovalsReviewer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_instructions: Option<String>,
    /// Deprecated upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    /// An ephemeral thread is never stored nor listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_start_source: Option<SessionStartSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_source: Option<String>,
    /// Experimental upstream: present only so the server can reject it without the
    /// `experimentalApi` capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_tools: Option<Value>,
    /// Experimental upstream (test field), gated like `dynamicTools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock_experimental_field: Option<Value>,
    /// agent-host extension: continue the backend's own session across turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_session: Option<bool>,
}

/// `thread/resume` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResumeParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<AskForApproval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<ApprovalsReviewer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_instructions: Option<String>,
    /// Deprecated upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    /// Leave `thread.turns` empty in the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_turns: Option<bool>,
    /// agent-host extension: continue the backend's own session across turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_session: Option<bool>,
}

/// `thread/fork` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadForkParams {
    pub thread_id: String,
    /// Fork after this turn (default: the last one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<AskForApproval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<ApprovalsReviewer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_instructions: Option<String>,
    /// Deprecated upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// Leave `thread.turns` empty in the result (required with `ephemeral: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_turns: Option<bool>,
    /// agent-host extension: continue the backend's own session across turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_session: Option<bool>,
}

/// The permission profile in effect for a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActivePermissionProfile {
    pub id: String,
    pub extends: Option<String>,
}

/// Declares a result type of `thread/start`, `thread/resume` or `thread/fork`: the thread and
/// the settings in effect, plus the members given per method (before and after
/// `multiAgentMode`, where Codex writes them).
macro_rules! thread_session_response {
    (
        $(#[$doc:meta])* $name:ident {
            $($(#[$bmeta:meta])* $before:ident : $bty:ty,)*
        } {
            $($(#[$ameta:meta])* $after:ident : $aty:ty,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub thread: Thread,
            pub model: String,
            pub model_provider: String,
            pub service_tier: Option<String>,
            pub disabled_plugin_ids: Vec<String>,
            pub cwd: String,
            pub runtime_workspace_roots: Vec<String>,
            pub instruction_sources: Vec<String>,
            pub approval_policy: AskForApproval,
            pub approvals_reviewer: ApprovalsReviewer,
            pub sandbox: SandboxPolicy,
            pub active_permission_profile: Option<ActivePermissionProfile>,
            pub reasoning_effort: Option<String>,
            $($(#[$bmeta])* pub $before: $bty,)*
            /// E.g. `explicitRequestOnly`.
            pub multi_agent_mode: Option<String>,
            $($(#[$ameta])* pub $after: $aty,)*
        }
    };
}

thread_session_response!(
    /// `thread/start` result. `thread/started` follows it.
    ThreadStartResponse {} {}
);

thread_session_response!(
    /// `thread/resume` result.
    ThreadResumeResponse {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        collaboration_mode: Option<CollaborationMode>,
    } {
        #[serde(default)]
        initial_turns_page: Option<Value>,
        #[serde(default)]
        turns_backwards_cursor: Option<String>,
        #[serde(default)]
        items_backwards_cursor: Option<String>,
    }
);

thread_session_response!(
    /// `thread/fork` result. `thread/started` for the new thread follows it.
    ThreadForkResponse {} {}
);

/// The collaboration mode of a resumed thread. Note the snake_case settings, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CollaborationMode {
    /// `default` or `plan`.
    pub mode: String,
    pub settings: CollaborationSettings,
}

/// The settings of a collaboration mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CollaborationSettings {
    pub model: Option<String>,
    pub reasoning_effort: Option<String>,
    pub developer_instructions: Option<String>,
}

/// How far a reader has read a thread (`thread/list.readStates`, `thread/read.readState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadReadState {
    pub first_unread: Option<ThreadReadMarker>,
    pub revision: String,
}

/// Where the unread part of a thread begins. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ThreadReadMarker {
    Turn { turn_id: String },
}

/// The sort key of `thread/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadSortKey {
    CreatedAt,
    UpdatedAt,
    RecencyAt,
    /// Codex's section order; we have no sections, so it lists like `created_at`.
    SectionPosition,
}

/// The sort direction of `thread/list` (default `desc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// One working directory or several (`thread/list.cwd`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CwdFilter {
    One(String),
    Many(Vec<String>),
}

/// `thread/list` params: every member is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadListParams {
    /// An opaque cursor from a previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The page size (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<ThreadSortKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_direction: Option<SortDirection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinds: Option<Vec<String>>,
    /// `true`: archived threads only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<CwdFilter>,
    /// A substring of the thread's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_term: Option<String>,
}

/// `thread/list` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadListResponse {
    /// The threads of this page (`turns` always empty).
    pub data: Vec<Thread>,
    /// Per thread id, its read state (not in the stable schema).
    #[serde(default)]
    pub read_states: BTreeMap<String, ThreadReadState>,
    /// `null` on the last page.
    pub next_cursor: Option<String>,
    pub backwards_cursor: Option<String>,
}

/// `thread/read` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadReadParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_turns: Option<bool>,
}

/// `thread/read` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadReadResponse {
    pub thread: Thread,
    /// Not in the stable schema.
    #[serde(default)]
    pub read_state: Option<ThreadReadState>,
}

/// `thread/loaded/list` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadLoadedListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `thread/loaded/list` result: the ids of the loaded threads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadLoadedListResponse {
    pub data: Vec<String>,
    /// With `limit`, the last returned id; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Params of the methods that only name a thread: `thread/unsubscribe`, `thread/archive`,
/// `thread/unarchive`.
macro_rules! thread_id_params {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub thread_id: String,
        }
    )*};
}

thread_id_params! {
    /// `thread/unsubscribe` params.
    ThreadUnsubscribeParams;
    /// `thread/archive` params.
    ThreadArchiveParams;
    /// `thread/unarchive` params.
    ThreadUnarchiveParams;
}

/// `thread/unsubscribe` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadUnsubscribeResponse {
    pub status: ThreadUnsubscribeStatus,
}

/// What `thread/unsubscribe` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ThreadUnsubscribeStatus {
    Unsubscribed,
    NotSubscribed,
    NotLoaded,
}

/// `thread/name/set` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadNameSetParams {
    pub thread_id: String,
    /// Must not be empty.
    pub name: String,
}

/// `thread/name/set` result: `{}`. `thread/name/updated` follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadNameSetResponse {}

/// `thread/archive` result: `{}`. `thread/archived` follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadArchiveResponse {}

/// `thread/unarchive` result (status `notLoaded`). `thread/unarchived` follows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadUnarchiveResponse {
    pub thread: Thread,
}
