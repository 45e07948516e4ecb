//! The history a thread was imported with: the conversation of another agent's session
//! (a Claude Code transcript) before the thread existed, kept beside the thread record as
//! `threads/<id>/imported.json` (`"v": 1`).
//!
//! A turn directory is what a runner recorded of a backend it ran; these turns ran
//! elsewhere, with no runner, no process and no exit, so they get a record of their own
//! instead of invented runner files. The server shows them before the thread's own turns.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, ThreadRecord, create_dir_durably};

/// The file of a thread's imported history inside its directory.
pub const IMPORTED_FILE_NAME: &str = "imported.json";
/// The version this build writes and the only one it reads.
pub const IMPORTED_VERSION: u64 = 1;

/// The imported history of one thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedHistory {
    pub source: ImportSource,
    /// When the import happened, unix milliseconds.
    pub imported_at_ms: i64,
    /// The session's turns, oldest first.
    pub turns: Vec<ImportedTurn>,
}

/// Where an imported history came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSource {
    pub agent: SourceAgent,
    /// The transcript file, as the client named it.
    pub path: String,
    /// The agent's own session id (the thread's backend session).
    pub session_id: String,
}

/// The agent whose session was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceAgent {
    ClaudeCode,
}

/// One imported turn: a user prompt and what the agent answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedTurn {
    /// A turn id made at the import (UUIDv7, so before every later turn of the thread).
    pub id: Uuid,
    /// Unix milliseconds, from the transcript; `None` when it has no readable time.
    pub started_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub items: Vec<ImportedItem>,
}

/// One message of an imported turn, with its time (unix milliseconds) when the transcript
/// has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ImportedItem {
    UserMessage {
        id: String,
        text: String,
        at_ms: Option<i64>,
    },
    AgentMessage {
        id: String,
        text: String,
        at_ms: Option<i64>,
    },
}

/// The on-disk shape: the history with its version next to it.
#[derive(Serialize)]
struct VersionedRef<'a> {
    v: u64,
    #[serde(flatten)]
    history: &'a ImportedHistory,
}

impl Store {
    fn imported_file(&self, thread_id: Uuid) -> PathBuf {
        self.thread_dir(thread_id).join(IMPORTED_FILE_NAME)
    }

    /// Stores a new thread with its imported history: the history is written before the
    /// record, so a thread never exists without it. Fails with
    /// [`StoreError::AlreadyExists`] if the id is taken.
    pub fn create_imported_thread(
        &self,
        record: &ThreadRecord,
        history: &ImportedHistory,
    ) -> Result<(), StoreError> {
        self.index()?;
        let dir = self.thread_dir(record.id);
        create_dir_durably(&dir, &self.threads_dir)?;
        let _lock = self.lock(record.id)?;
        if self.read_thread(record.id)?.is_some() {
            return Err(StoreError::AlreadyExists(record.id));
        }
        self.write_imported(record.id, history)?;
        self.write_record(record)
    }

    /// Writes a thread's imported history (its directory must exist).
    pub fn write_imported(
        &self,
        thread_id: Uuid,
        history: &ImportedHistory,
    ) -> Result<(), StoreError> {
        let path = self.imported_file(thread_id);
        let mut bytes = serde_json::to_vec_pretty(&VersionedRef {
            v: IMPORTED_VERSION,
            history,
        })
        .map_err(|source| StoreError::Serialize {
            id: thread_id,
            source,
        })?;
        bytes.push(b'\n');
        crate::atomic_file::write_atomic(&path, &bytes)
            .map_err(|source| StoreError::Io { path, source })
    }

    /// A thread's imported history; `None` for a thread that was not imported.
    pub fn read_imported(&self, thread_id: Uuid) -> Result<Option<ImportedHistory>, StoreError> {
        let path = self.imported_file(thread_id);
        match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map(Some).map_err(|message| StoreError::Io {
                path,
                source: io::Error::new(io::ErrorKind::InvalidData, message),
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// The stored threads that continue the backend session `session_id`.
    pub fn threads_with_backend_session(&self, session_id: &str) -> Result<Vec<Uuid>, StoreError> {
        self.index()?.threads_with_backend_session(session_id)
    }
}

/// Reads a stored history, rejecting any version but [`IMPORTED_VERSION`].
fn parse(bytes: &[u8]) -> Result<ImportedHistory, String> {
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|err| format!("not valid JSON: {err}"))?;
    let version = value
        .as_object_mut()
        .and_then(|object| object.remove("v"))
        .ok_or("not an imported history: no version \"v\"")?;
    if version.as_u64() != Some(IMPORTED_VERSION) {
        return Err(format!(
            "unknown imported history version {version} (this build reads version {IMPORTED_VERSION})"
        ));
    }
    serde_json::from_value(value).map_err(|err| format!("invalid imported history: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FailedThing, ImportLogRecord, Timestamp, new_id};

    fn history(session_id: &str) -> ImportedHistory {
        ImportedHistory {
            source: ImportSource {
                agent: SourceAgent::ClaudeCode,
                path: "/p/s.jsonl".to_owned(),
                session_id: session_id.to_owned(),
            },
            imported_at_ms: 1,
            turns: vec![ImportedTurn {
                id: new_id(),
                started_at_ms: Some(1),
                completed_at_ms: None,
                items: vec![ImportedItem::UserMessage {
                    id: "t:u".to_owned(),
                    text: "hi".to_owned(),
                    at_ms: None,
                }],
            }],
        }
    }

    fn continuing(session_id: &str) -> ThreadRecord {
        let now = Timestamp {
            unix_ms: 1_795_421_117_000,
        };
        let mut record = ThreadRecord::new(new_id(), "/p".into(), "claude".into(), "0".into(), now);
        record.backend_session_id = Some(session_id.to_owned());
        record
    }

    #[test]
    fn an_imported_thread_is_stored_with_its_history_and_found_by_its_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let record = continuing("s-1");
        let imported = history("s-1");
        store.create_imported_thread(&record, &imported).unwrap();
        assert_eq!(store.read_thread(record.id).unwrap(), Some(record.clone()));
        assert_eq!(
            store.read_imported(record.id).unwrap(),
            Some(imported.clone())
        );
        assert!(matches!(
            store.create_imported_thread(&record, &imported),
            Err(StoreError::AlreadyExists(id)) if id == record.id
        ));
        store.create_thread(&continuing("s-2")).unwrap();
        assert_eq!(
            store.threads_with_backend_session("s-1").unwrap(),
            [record.id]
        );
        assert!(
            store
                .threads_with_backend_session("s-3")
                .unwrap()
                .is_empty()
        );
        // A thread that was not imported has no history.
        assert_eq!(store.read_imported(new_id()).unwrap(), None);
    }

    #[test]
    fn an_imported_history_of_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let record = continuing("s");
        store
            .create_imported_thread(&record, &history("s"))
            .unwrap();
        let path = store.imported_file(record.id);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"v\": 1", "\"v\": 2")).unwrap();
        let err = store.read_imported(record.id).unwrap_err().to_string();
        assert!(err.contains("unknown imported history version 2"), "{err}");
    }

    #[test]
    fn the_import_log_lists_newest_first_and_skips_what_is_not_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.import_log().unwrap().is_empty());
        let record = |at: i64| ImportLogRecord {
            import_id: new_id(),
            provider_id: None,
            completed_at_ms: at,
            successes: Vec::new(),
            failures: vec![FailedThing {
                item_type: "SESSIONS".to_owned(),
                error_type: None,
                sub_error_type: None,
                failure_stage: "session_missing".to_owned(),
                message: "m".to_owned(),
                cwd: None,
                source: None,
            }],
        };
        let (old, new) = (record(1), record(2));
        store.record_import(&old).unwrap();
        store.record_import(&new).unwrap();
        let imports = dir.path().join(crate::store::IMPORTS_DIR_NAME);
        std::fs::write(imports.join("stray.json"), "{}").unwrap();
        std::fs::write(imports.join(format!("{}.json", new_id())), "not json").unwrap();
        assert_eq!(store.import_log().unwrap(), [new, old]);
    }
}
