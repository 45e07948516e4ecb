//! `externalAgentConfig/*`: importing a Claude Code session as a thread that continues it.
//!
//! Codex 0.169.0 imports another agent's sessions (`SESSIONS` items) by copying their
//! messages into a new thread of its own model. agent-host runs Claude Code itself, so an
//! imported session becomes a thread of the Claude provider whose recorded backend session
//! is that very Claude session: its history is the transcript's conversation
//! (`threads/<id>/imported.json`), and its next turn runs `claude --resume <session>`.
//!
//! The wire follows Codex: the response carries an `importId`; a `progress` notification
//! reports the validation of the requested sessions (`session_missing` /
//! `session_not_detected` for a path that is not a session of the provider's Claude), another
//! one the import itself, and `completed` every result by item type. The other item types
//! migrate Codex's own configuration and are reported as failures. Completed imports are kept
//! for `readHistories` (`store::import_log`).
//!
//! Which Claude: the default provider when it is of kind `claude`, else the provider named
//! `claude`. Its sessions are under `$CLAUDE_CONFIG_DIR/projects`, else
//! `$HOME/.claude/projects`, with the variables the provider runs with (its `env`, else
//! the server's): the only place its `--resume` looks.

mod detect;
mod session;
mod transcript;
mod view;

use std::path::PathBuf;

use super::state::{Reply, Server, to_value};
use crate::config::{Config, Provider, ProviderKind};
use crate::jsonrpc::{ErrorObject, RequestId};
use crate::protocol::*;
use crate::store;

pub(crate) use view::imported_turns;

/// The item type of every session result.
const SESSIONS: ExternalAgentConfigMigrationItemType =
    ExternalAgentConfigMigrationItemType::Sessions;

impl Server {
    /// Serves the `externalAgentConfig/*` requests. `None`: the response was sent already.
    pub(crate) async fn external_agent_config(
        &mut self,
        id: &RequestId,
        request: ClientRequest,
    ) -> Option<Reply> {
        match request {
            ClientRequest::ExternalAgentConfigDetect(p) => Some(self.detect_sessions(&p)),
            ClientRequest::ExternalAgentConfigImport(p) => {
                self.import(id, p).await;
                None
            }
            ClientRequest::ExternalAgentConfigImportHistoryRecord(p) => {
                Some(self.record_history(p))
            }
            ClientRequest::ExternalAgentConfigImportHistoriesRead(_) => Some(self.read_histories()),
            other => Some(Err(ErrorObject::internal(format!(
                "{} is not an import method",
                other.method()
            )))),
        }
    }

    /// `externalAgentConfig/import`: answers at once, then imports and reports.
    async fn import(&mut self, id: &RequestId, p: ExternalAgentConfigImportParams) {
        let import_id = store::new_id().to_string();
        let response = ExternalAgentConfigImportResponse {
            import_id: import_id.clone(),
        };
        self.respond_now(id, to_value(&response)).await;
        if p.migration_items.is_empty() {
            return;
        }
        let requested: Vec<SessionMigration> = p
            .migration_items
            .iter()
            .filter(|item| item.item_type == SESSIONS)
            .filter_map(|item| item.details.as_ref())
            .flat_map(|details| details.sessions.iter().cloned())
            .collect();
        let mut results = Vec::new();
        let mut selected = Vec::new();
        if !requested.is_empty() {
            let (valid, validation) = self.validate_sessions(&requested);
            self.import_progress(&import_id, &validation).await;
            results.push(validation);
            selected = valid;
        }
        for item in p.migration_items.iter().filter(|i| i.item_type != SESSIONS) {
            let result = view::not_imported(item);
            self.import_progress(&import_id, &result).await;
            results.push(result);
        }
        if !selected.is_empty() {
            let imported = self.import_sessions(selected);
            self.import_progress(&import_id, &imported).await;
            results.push(imported);
        }
        let completed = ExternalAgentConfigImportCompletedNotification {
            import_id,
            item_type_results: view::merged(results),
        };
        self.keep_import(&completed, p.provider_id);
        self.notify(ServerNotification::ExternalAgentConfigImportCompleted(
            completed,
        ))
        .await;
    }

    async fn import_progress(&self, import_id: &str, result: &ExternalAgentConfigImportTypeResult) {
        let progress = ExternalAgentConfigImportProgressNotification {
            import_id: import_id.to_owned(),
            item_type_results: vec![result.clone()],
        };
        self.notify(ServerNotification::ExternalAgentConfigImportProgress(
            progress,
        ))
        .await;
    }

    /// Keeps a completed import for `readHistories`; a failure to is logged (the threads it
    /// made exist either way).
    fn keep_import(
        &self,
        completed: &ExternalAgentConfigImportCompletedNotification,
        provider_id: Option<String>,
    ) {
        let record = view::log_record(
            &completed.import_id,
            provider_id,
            &completed.item_type_results,
        );
        if let Err(err) = record.map(|record| self.store.record_import(&record)) {
            tracing::warn!("cannot keep import {}: {err}", completed.import_id);
        }
    }

    /// `externalAgentConfig/import/recordHistory`: keeps an import done elsewhere.
    fn record_history(&self, p: ExternalAgentConfigImportHistoryRecordParams) -> Reply {
        let import_id = store::new_id().to_string();
        let record = view::log_record(&import_id, Some(p.provider_id), &p.item_type_results)
            .map_err(ErrorObject::internal)?;
        self.store
            .record_import(&record)
            .map_err(ErrorObject::internal)?;
        to_value(&ExternalAgentConfigImportHistoryRecordResponse { import_id })
    }

    /// `externalAgentConfig/import/readHistories`: every kept import, newest first.
    fn read_histories(&self) -> Reply {
        let records = self.store.import_log().map_err(ErrorObject::internal)?;
        let data = records.iter().filter_map(view::history_entry).collect();
        to_value(&ExternalAgentConfigImportHistoriesReadResponse {
            data,
            connectors: Vec::new(),
        })
    }
}

/// The provider an imported Claude session continues on: the default one when it is of
/// kind `claude`, else the one named `claude`.
fn claude_provider(config: &Config) -> Result<&Provider, String> {
    let is_claude = |provider: &&Provider| provider.kind == ProviderKind::Claude;
    config
        .default_provider()
        .filter(is_claude)
        .or_else(|| config.provider("claude").filter(is_claude))
        .ok_or_else(|| {
            format!(
                "no provider of kind `claude` to continue it on (the default provider `{}` is \
                 not of kind `claude`, nor is a provider named `claude`)",
                config.default_provider_name()
            )
        })
}

/// Where the provider's Claude Code keeps its sessions: `$CLAUDE_CONFIG_DIR/projects`, else
/// `$HOME/.claude/projects`, from the provider's `env`, else the server's environment.
fn projects_dir(provider: &Provider) -> Option<PathBuf> {
    let var = |name: &str| {
        provider
            .env
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|value| !value.is_empty())
    };
    let config_dir = match var("CLAUDE_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(var("HOME")?).join(".claude"),
    };
    Some(config_dir.join("projects"))
}
