//! What a client sets on a thread besides its name, kept in the thread record: the goal
//! (`thread/goal/*`) and the memory mode (`thread/memoryMode/set`). The store's own types;
//! the server converts them to the protocol's.

use serde::{Deserialize, Serialize};

/// The goal of a thread, with what its turns have spent on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadGoal {
    /// What the thread works toward (never empty).
    pub objective: String,
    pub status: GoalStatus,
    /// The most tokens the goal may use; reaching it makes the goal `budgetLimited`.
    pub token_budget: Option<i64>,
    /// Tokens the thread's turns used while the goal was active.
    pub tokens_used: i64,
    /// Wall time of those turns, milliseconds.
    pub time_used_ms: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The last turn whose usage was counted, so that a turn followed by two servers is
    /// counted once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_counted_turn: Option<uuid::Uuid>,
}

/// Where a goal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GoalStatus {
    Active,
    Paused,
    Blocked,
    UsageLimited,
    BudgetLimited,
    Complete,
}

/// Whether the thread may be used for memories (`thread/memoryMode/set`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemoryMode {
    #[default]
    Enabled,
    Disabled,
}

impl MemoryMode {
    /// For `skip_serializing_if`: the default is not written, so records without it stay as
    /// they were.
    pub fn is_default(&self) -> bool {
        *self == MemoryMode::default()
    }
}
