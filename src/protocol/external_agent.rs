//! Importing from another agent: `externalAgentConfig/detect`, `externalAgentConfig/import`
//! with its `…/import/progress` and `…/import/completed` notifications, and the import
//! history (`…/import/recordHistory`, `…/import/readHistories`).
//!
//! Member order and null members are Codex 0.169.0's, as it writes them on the wire.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// What a migration item moves over. agent-host imports `SESSIONS` (Claude Code session
/// transcripts); the others name Codex's own configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExternalAgentConfigMigrationItemType {
    AgentsMd,
    Config,
    Skills,
    Plugins,
    McpServerConfig,
    Subagents,
    Hooks,
    Commands,
    Memory,
    Sessions,
}

/// `externalAgentConfig/detect` params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigDetectParams {
    /// Detect what lives under the user's home (sessions are home-scoped).
    #[serde(default)]
    pub include_home: bool,
    /// Working directories for repository-scoped detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwds: Option<Vec<String>>,
    /// The oldest session detected, in days (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_age_days: Option<u32>,
    /// How many sessions are detected at most (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_source: Option<String>,
    /// Deprecated upstream; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `externalAgentConfig/detect` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigDetectResponse {
    pub items: Vec<ExternalAgentConfigMigrationItem>,
    #[serde(default)]
    pub connectors: Vec<ExternalAgentDetectedConnectorCandidate>,
}

/// A connector seen in the other agent's configuration or sessions (none are detected
/// here: agent-host does not migrate connectors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentDetectedConnectorCandidate {
    pub name: String,
    pub session_count: u32,
    pub source: ExternalAgentDetectedConnectorSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExternalAgentDetectedConnectorSource {
    RemoteMcpServersConfig,
    SessionToolUse,
}

/// One thing to migrate, as detect reports it and import takes it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigMigrationItem {
    pub item_type: ExternalAgentConfigMigrationItemType,
    pub description: String,
    /// `null` or empty: home-scoped; else repository-scoped.
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub details: Option<MigrationDetails>,
}

/// What exactly an item migrates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrationDetails {
    #[serde(default)]
    pub plugins: Vec<PluginsMigration>,
    #[serde(default)]
    pub skills: Vec<NamedMigration>,
    #[serde(default)]
    pub sessions: Vec<SessionMigration>,
    #[serde(default)]
    pub mcp_servers: Vec<NamedMigration>,
    #[serde(default)]
    pub hooks: Vec<NamedMigration>,
    #[serde(default)]
    pub subagents: Vec<NamedMigration>,
    #[serde(default)]
    pub commands: Vec<NamedMigration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginsMigration {
    pub marketplace_name: String,
    pub plugin_names: Vec<String>,
}

/// A skill, MCP server, hook, subagent or command, by name (Codex's `SkillMigration`,
/// `McpServerMigration`, … all have this one member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamedMigration {
    pub name: String,
}

/// One session transcript to import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMigration {
    /// The transcript file.
    pub path: String,
    /// The session's working directory.
    pub cwd: String,
    #[serde(default)]
    pub title: Option<String>,
}

/// `externalAgentConfig/import` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportParams {
    pub migration_items: Vec<ExternalAgentConfigMigrationItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_source: Option<String>,
    /// Opaque to the server: kept in the import history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The product that started the import (attribution only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `externalAgentConfig/import` result; the outcome follows as notifications naming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportResponse {
    pub import_id: String,
}

/// What was imported of one item type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportTypeResult {
    pub item_type: ExternalAgentConfigMigrationItemType,
    pub successes: Vec<ExternalAgentConfigImportItemTypeSuccess>,
    pub failures: Vec<ExternalAgentConfigImportItemTypeFailure>,
}

/// One thing imported. For a session: `source` the transcript, `target` the new thread's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportItemTypeSuccess {
    pub item_type: ExternalAgentConfigMigrationItemType,
    pub cwd: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    /// The session's original title; `null` for other item types.
    #[serde(default)]
    pub title: Option<String>,
}

/// One thing that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportItemTypeFailure {
    pub item_type: ExternalAgentConfigMigrationItemType,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub sub_error_type: Option<String>,
    pub failure_stage: String,
    pub message: String,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// `externalAgentConfig/import/progress`: the result of one stage of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportProgressNotification {
    pub import_id: String,
    pub item_type_results: Vec<ExternalAgentConfigImportTypeResult>,
}

/// `externalAgentConfig/import/completed`: every result of the import, by item type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportCompletedNotification {
    pub import_id: String,
    pub item_type_results: Vec<ExternalAgentConfigImportTypeResult>,
}

/// `externalAgentConfig/import/recordHistory` params: an import done elsewhere, to keep in
/// the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportHistoryRecordParams {
    pub provider_id: String,
    pub item_type_results: Vec<ExternalAgentConfigImportTypeResult>,
}

/// `externalAgentConfig/import/recordHistory` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportHistoryRecordResponse {
    pub import_id: String,
}

/// `externalAgentConfig/import/readHistories` params: none. Codex's schema says `null`;
/// the real Codex takes the request with `params` absent, `null` or any object (ignored),
/// and so do we (and our schema says so).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExternalAgentConfigImportHistoriesReadParams;

impl JsonSchema for ExternalAgentConfigImportHistoriesReadParams {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExternalAgentConfigImportHistoriesReadParams".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "No params: absent, `null` or an object (ignored).",
            "type": ["null", "object"]
        })
    }
}

impl<'de> Deserialize<'de> for ExternalAgentConfigImportHistoriesReadParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)
            .map(|_| ExternalAgentConfigImportHistoriesReadParams)
    }
}

/// `externalAgentConfig/import/readHistories` result: every completed import, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportHistoriesReadResponse {
    pub data: Vec<ExternalAgentConfigImportHistory>,
    pub connectors: Vec<ExternalAgentImportedConnectorCandidate>,
}

/// One completed import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentConfigImportHistory {
    pub import_id: String,
    pub provider_id: Option<String>,
    pub completed_at_ms: i64,
    pub successes: Vec<ExternalAgentConfigImportItemTypeSuccess>,
    pub failures: Vec<ExternalAgentConfigImportItemTypeFailure>,
}

/// A connector the imported sessions used (none: agent-host does not migrate connectors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAgentImportedConnectorCandidate {
    pub name: String,
    pub session_count: u32,
    pub source: ExternalAgentImportedConnectorSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExternalAgentImportedConnectorSource {
    RemoteMcpServersConfig,
}
