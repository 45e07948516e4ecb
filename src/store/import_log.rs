//! The history of imports (`externalAgentConfig/import/readHistories`): one record per
//! completed import, `<state>/imports/<import id>.json` (`"v": 1`), written once, atomically.
//!
//! Item types are kept as the protocol names them (`"SESSIONS"`), opaque to the store.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, create_dir_durably};

/// The directory of import records inside the state directory.
pub const IMPORTS_DIR_NAME: &str = "imports";
/// The version this build writes and the only one it reads.
pub const IMPORT_LOG_VERSION: u64 = 1;

/// One completed import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportLogRecord {
    pub import_id: Uuid,
    /// The client's opaque provider id, if it gave one.
    pub provider_id: Option<String>,
    pub completed_at_ms: i64,
    pub successes: Vec<ImportedThing>,
    pub failures: Vec<FailedThing>,
}

/// One thing an import brought over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedThing {
    pub item_type: String,
    pub cwd: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub title: Option<String>,
}

/// One thing an import could not bring over, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedThing {
    pub item_type: String,
    pub error_type: Option<String>,
    pub sub_error_type: Option<String>,
    pub failure_stage: String,
    pub message: String,
    pub cwd: Option<String>,
    pub source: Option<String>,
}

#[derive(Serialize)]
struct VersionedRef<'a> {
    v: u64,
    #[serde(flatten)]
    record: &'a ImportLogRecord,
}

#[derive(Deserialize)]
struct Versioned {
    v: u64,
    #[serde(flatten)]
    record: ImportLogRecord,
}

impl Store {
    fn imports_dir(&self) -> PathBuf {
        self.state_dir.join(IMPORTS_DIR_NAME)
    }

    /// Keeps the record of a completed import.
    pub fn record_import(&self, record: &ImportLogRecord) -> Result<(), StoreError> {
        let dir = self.imports_dir();
        create_dir_durably(&dir, &self.state_dir)?;
        let path = dir.join(format!("{}.json", record.import_id.hyphenated()));
        let value = VersionedRef {
            v: IMPORT_LOG_VERSION,
            record,
        };
        crate::atomic_file::write_json_atomic(&path, &value)
            .map_err(|source| StoreError::Io { path, source })
    }

    /// Every recorded import, newest first. A file that cannot be read as a record is
    /// skipped with a warning.
    pub fn import_log(&self) -> Result<Vec<ImportLogRecord>, StoreError> {
        let dir = self.imports_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Io { path: dir, source }),
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| StoreError::Io {
                    path: dir.clone(),
                    source,
                })?
                .path();
            let named_by_id = path
                .file_name()
                .and_then(|name| name.to_str()?.strip_suffix(".json"))
                .is_some_and(|stem| Uuid::try_parse(stem).is_ok());
            if !named_by_id {
                continue;
            }
            match read_record(&path) {
                Ok(record) => records.push(record),
                Err(err) => tracing::warn!("skipping import record {}: {err}", path.display()),
            }
        }
        records.sort_by(|a, b| {
            (b.completed_at_ms, b.import_id).cmp(&(a.completed_at_ms, a.import_id))
        });
        Ok(records)
    }
}

fn read_record(path: &std::path::Path) -> Result<ImportLogRecord, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    let stored: Versioned = serde_json::from_slice(&bytes).map_err(|err| err.to_string())?;
    if stored.v != IMPORT_LOG_VERSION {
        return Err(format!(
            "unknown version {} (this build reads version {IMPORT_LOG_VERSION})",
            stored.v
        ));
    }
    Ok(stored.record)
}
