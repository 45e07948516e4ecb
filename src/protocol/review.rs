//! `review/start`: a code review of a change, run as a turn of a thread.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::turn::Turn;

/// `review/start` params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewStartParams {
    pub thread_id: String,
    pub target: ReviewTarget,
    /// Where the review runs: on the thread itself (`inline`, the default) or on a new
    /// thread (`detached`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<ReviewDelivery>,
    /// agent-host extension, as in `turn/start`: run the review in the background, so that
    /// it outlives this client and this server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
}

/// What a review looks at. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ReviewTarget {
    /// The working tree: staged, unstaged and untracked files.
    UncommittedChanges,
    /// The changes of the current branch since its merge base with `branch`.
    BaseBranch { branch: String },
    /// The changes of one commit; `title` labels it for people.
    Commit {
        sha: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// Free-form instructions.
    Custom { instructions: String },
}

/// Where a review runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReviewDelivery {
    /// As a turn of the thread given.
    Inline,
    /// As the first turn of a new thread (announced with `thread/started`). Codex 0.169.0
    /// no longer takes it; earlier releases did, and so does agent-host.
    Detached,
}

/// `review/start` result: the review's turn and the thread it runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewStartResponse {
    pub turn: Turn,
    pub review_thread_id: String,
}
