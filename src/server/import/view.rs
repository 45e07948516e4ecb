//! Conversions of the import: a transcript's turns to the stored imported history, that
//! history to protocol turns, import results to and from the import log.

use super::transcript::{Message, TranscriptTurn};
use crate::protocol::*;
use crate::store::{
    self, FailedThing, ImportLogRecord, ImportedHistory, ImportedItem, ImportedThing,
};

/// The longest path shown whole in a result (`PATH_MAX`); a longer client string names no
/// file and is shown as [`crate::jsonrpc::quote`] shows a value.
const PATH_MAX: usize = 4096;

/// A client's path as a result names it.
pub(super) fn source_text(path: &str) -> String {
    if path.len() <= PATH_MAX {
        path.to_owned()
    } else {
        crate::jsonrpc::quote(path).into_owned()
    }
}

pub(super) fn empty_result(
    item_type: ExternalAgentConfigMigrationItemType,
) -> ExternalAgentConfigImportTypeResult {
    ExternalAgentConfigImportTypeResult {
        item_type,
        successes: Vec::new(),
        failures: Vec::new(),
    }
}

/// The result of an item agent-host does not import (anything but `SESSIONS`: those items
/// migrate Codex's own configuration).
pub(super) fn not_imported(
    item: &ExternalAgentConfigMigrationItem,
) -> ExternalAgentConfigImportTypeResult {
    let name = serde_json::to_value(item.item_type)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut result = empty_result(item.item_type);
    result
        .failures
        .push(ExternalAgentConfigImportItemTypeFailure {
            item_type: item.item_type,
            error_type: Some("unsupported_item_type".to_owned()),
            sub_error_type: None,
            failure_stage: "import".to_owned(),
            message: format!(
                "agent-host imports Claude Code sessions (SESSIONS) only; {name} is not imported"
            ),
            cwd: item.cwd.clone(),
            source: None,
        });
    result
}

/// The results of an import, one per item type, in Codex's order of item types.
pub(super) fn merged(
    results: Vec<ExternalAgentConfigImportTypeResult>,
) -> Vec<ExternalAgentConfigImportTypeResult> {
    let mut merged: Vec<ExternalAgentConfigImportTypeResult> = Vec::new();
    for result in results {
        match merged.iter_mut().find(|m| m.item_type == result.item_type) {
            Some(existing) => {
                existing.successes.extend(result.successes);
                existing.failures.extend(result.failures);
            }
            None => merged.push(result),
        }
    }
    merged.sort_by_key(|result| order(result.item_type));
    merged
}

fn order(item_type: ExternalAgentConfigMigrationItemType) -> u8 {
    use ExternalAgentConfigMigrationItemType as T;
    match item_type {
        T::Config => 0,
        T::Skills => 1,
        T::AgentsMd => 2,
        T::Plugins => 3,
        T::McpServerConfig => 4,
        T::Subagents => 5,
        T::Hooks => 6,
        T::Commands => 7,
        T::Memory => 8,
        T::Sessions => 9,
    }
}

/// A transcript's turns as stored: each with a new turn id, its items named
/// `<turn id>:<record uuid>` (the transcript's own message ids).
pub(super) fn history_turns(turns: &[TranscriptTurn]) -> Vec<store::ImportedTurn> {
    turns
        .iter()
        .map(|turn| {
            let id = store::new_id();
            let item_id = |message: &Message, index: usize| match &message.uuid {
                Some(uuid) => format!("{id}:{uuid}"),
                None => format!("{id}:{index}"),
            };
            let mut items = vec![ImportedItem::UserMessage {
                id: item_id(&turn.prompt, 0),
                text: turn.prompt.text.clone(),
                at_ms: turn.prompt.at_ms,
            }];
            for (index, answer) in turn.answers.iter().enumerate() {
                items.push(ImportedItem::AgentMessage {
                    id: item_id(answer, index + 1),
                    text: answer.text.clone(),
                    at_ms: answer.at_ms,
                });
            }
            let last = turn.answers.last().unwrap_or(&turn.prompt);
            store::ImportedTurn {
                id,
                started_at_ms: turn.prompt.at_ms,
                completed_at_ms: last.at_ms,
                items,
            }
        })
        .collect()
}

/// An imported history as protocol turns: each `completed`, with every message.
pub(crate) fn imported_turns(history: &ImportedHistory) -> Vec<Turn> {
    history
        .turns
        .iter()
        .map(|turn| Turn {
            id: turn.id.to_string(),
            root_turn_id: Some(turn.id.to_string()),
            items: turn.items.iter().map(item).collect(),
            items_view: ItemsView::Full,
            status: TurnStatus::Completed,
            error: None,
            started_at: turn.started_at_ms.map(|ms| ms.div_euclid(1000)),
            completed_at: turn.completed_at_ms.map(|ms| ms.div_euclid(1000)),
            duration_ms: turn
                .started_at_ms
                .zip(turn.completed_at_ms)
                .map(|(start, end)| end - start),
        })
        .collect()
}

fn item(item: &ImportedItem) -> ThreadItem {
    let (kind, at_ms) = match item {
        ImportedItem::UserMessage { id, text, at_ms } => (
            ThreadItemKind::UserMessage {
                id: id.clone(),
                client_id: None,
                content: vec![UserInput::Text {
                    text: text.clone(),
                    text_elements: Vec::new(),
                }],
            },
            *at_ms,
        ),
        ImportedItem::AgentMessage { id, text, at_ms } => (
            ThreadItemKind::AgentMessage {
                moderation: None,
                id: id.clone(),
                text: text.clone(),
                phase: None,
                memory_citation: None,
                delivery: None,
                questions: None,
            },
            *at_ms,
        ),
    };
    ThreadItem {
        kind,
        started_at_ms: at_ms,
        completed_at_ms: at_ms,
    }
}

/// The log record of an import with these results; an import id that is not ours (a
/// UUID) cannot be kept.
pub(super) fn log_record(
    import_id: &str,
    provider_id: Option<String>,
    results: &[ExternalAgentConfigImportTypeResult],
) -> Result<ImportLogRecord, String> {
    let import_id = uuid::Uuid::try_parse(import_id).map_err(|err| err.to_string())?;
    let name = |item_type: ExternalAgentConfigMigrationItemType| {
        serde_json::to_value(item_type)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let successes = results
        .iter()
        .flat_map(|r| &r.successes)
        .map(|s| ImportedThing {
            item_type: name(s.item_type),
            cwd: s.cwd.clone(),
            source: s.source.clone(),
            target: s.target.clone(),
            title: s.title.clone(),
        });
    let failures = results
        .iter()
        .flat_map(|r| &r.failures)
        .map(|f| FailedThing {
            item_type: name(f.item_type),
            error_type: f.error_type.clone(),
            sub_error_type: f.sub_error_type.clone(),
            failure_stage: f.failure_stage.clone(),
            message: f.message.clone(),
            cwd: f.cwd.clone(),
            source: f.source.clone(),
        });
    Ok(ImportLogRecord {
        import_id,
        provider_id,
        completed_at_ms: super::super::state::now_ms(),
        successes: successes.collect(),
        failures: failures.collect(),
    })
}

/// A kept import as `readHistories` lists it; `None` (with a warning) for a record whose
/// item types this build does not know.
pub(super) fn history_entry(record: &ImportLogRecord) -> Option<ExternalAgentConfigImportHistory> {
    let item_type = |name: &str| -> Option<ExternalAgentConfigMigrationItemType> {
        let parsed = serde_json::from_value(serde_json::Value::String(name.to_owned()));
        if parsed.is_err() {
            tracing::warn!("import {}: unknown item type {name}", record.import_id);
        }
        parsed.ok()
    };
    let successes = record.successes.iter().map(|s| {
        Some(ExternalAgentConfigImportItemTypeSuccess {
            item_type: item_type(&s.item_type)?,
            cwd: s.cwd.clone(),
            source: s.source.clone(),
            target: s.target.clone(),
            title: s.title.clone(),
        })
    });
    let failures = record.failures.iter().map(|f| {
        Some(ExternalAgentConfigImportItemTypeFailure {
            item_type: item_type(&f.item_type)?,
            error_type: f.error_type.clone(),
            sub_error_type: f.sub_error_type.clone(),
            failure_stage: f.failure_stage.clone(),
            message: f.message.clone(),
            cwd: f.cwd.clone(),
            source: f.source.clone(),
        })
    });
    Some(ExternalAgentConfigImportHistory {
        import_id: record.import_id.to_string(),
        provider_id: record.provider_id.clone(),
        completed_at_ms: record.completed_at_ms,
        successes: successes.collect::<Option<_>>()?,
        failures: failures.collect::<Option<_>>()?,
    })
}
