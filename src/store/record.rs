//! The thread record: the store's own versioned type, the source of truth for one thread.
//!
//! On disk it is `threads/<id>/thread.json`, a JSON object with `"v": 1` next to the fields
//! below (camelCase). The server converts it to the protocol's `Thread` explicitly; nothing
//! here depends on the protocol module.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::goal::{MemoryMode, ThreadGoal};

/// The record version this build writes and the only one it reads.
pub const THREAD_RECORD_VERSION: u64 = 1;

/// One stored thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadRecord {
    /// The thread id (UUIDv7).
    pub id: Uuid,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Last update, unix seconds (what the protocol shows).
    pub updated_at: i64,
    /// Last update, unix milliseconds (what `updated_at` listings sort by).
    pub updated_at_ms: i64,
    /// The name set with `thread/name/set`.
    pub name: Option<String>,
    /// The first user message text; empty until the first turn.
    pub preview: String,
    pub model_provider: String,
    pub model: Option<String>,
    /// The absolute working directory of the thread.
    pub cwd: String,
    pub archived: bool,
    pub forked_from_id: Option<Uuid>,
    /// The client's name (`clientInfo.name`) when the thread was started.
    pub originator: Option<String>,
    /// The session source as Codex reports it (`"vscode"` for app-server threads).
    pub source: String,
    /// The version of agent-host that created the thread.
    pub cli_version: String,
    /// The approval policy, opaque to the store.
    pub approval_policy: serde_json::Value,
    /// The sandbox policy, opaque to the store.
    pub sandbox: serde_json::Value,
    /// Whether turns resume the backend's own session.
    pub continue_session: bool,
    /// The backend's own session id (the resume key), once known.
    pub backend_session_id: Option<String>,
    /// Whether the thread has had a turn; only such threads are listed (as in Codex).
    pub has_turns: bool,
    pub reasoning_effort: Option<String>,
    /// The goal set with `thread/goal/set`; absent in records written before goals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<ThreadGoal>,
    /// Set with `thread/memoryMode/set`; the default is not written.
    #[serde(default, skip_serializing_if = "MemoryMode::is_default")]
    pub memory_mode: MemoryMode,
}

/// Timestamps taken once, so that a record's seconds and milliseconds agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub unix_ms: i64,
}

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp { unix_ms }
    }

    /// Whole unix seconds (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.unix_ms.div_euclid(1000)
    }
}

impl ThreadRecord {
    /// A new, unlisted thread (no turns yet) with Codex's defaults for the other fields.
    pub fn new(
        id: Uuid,
        cwd: String,
        model_provider: String,
        cli_version: String,
        now: Timestamp,
    ) -> ThreadRecord {
        ThreadRecord {
            id,
            created_at: now.unix_seconds(),
            updated_at: now.unix_seconds(),
            updated_at_ms: now.unix_ms,
            name: None,
            preview: String::new(),
            model_provider,
            model: None,
            cwd,
            archived: false,
            forked_from_id: None,
            originator: None,
            source: "vscode".to_owned(),
            cli_version,
            approval_policy: serde_json::Value::Null,
            sandbox: serde_json::Value::Null,
            continue_session: false,
            backend_session_id: None,
            has_turns: false,
            reasoning_effort: None,
            goal: None,
            memory_mode: MemoryMode::default(),
        }
    }

    /// Sets both update times from one timestamp.
    pub fn touch(&mut self, now: Timestamp) {
        self.updated_at = now.unix_seconds();
        self.updated_at_ms = now.unix_ms;
    }
}

/// A record file that cannot be read as a thread record of a known version.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("missing record version \"v\"")]
    MissingVersion,
    #[error("unknown record version {0} (this build reads version {THREAD_RECORD_VERSION})")]
    UnknownVersion(serde_json::Value),
    #[error("invalid thread record: {0}")]
    Invalid(#[source] serde_json::Error),
}

/// The on-disk shape: the record with its version next to it.
#[derive(Serialize)]
struct VersionedRef<'a> {
    v: u64,
    #[serde(flatten)]
    record: &'a ThreadRecord,
}

/// Serializes a record with its version, as stored.
pub fn to_stored_json(record: &ThreadRecord) -> serde_json::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(&VersionedRef {
        v: THREAD_RECORD_VERSION,
        record,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Serializes a record with its version on one line (the index's copy).
pub fn to_compact_json(record: &ThreadRecord) -> serde_json::Result<String> {
    serde_json::to_string(&VersionedRef {
        v: THREAD_RECORD_VERSION,
        record,
    })
}

/// Parses a stored record, rejecting any version but [`THREAD_RECORD_VERSION`].
pub fn from_stored_json(bytes: &[u8]) -> Result<ThreadRecord, RecordError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(RecordError::Json)?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(RecordError::NotAnObject);
    };
    let version = object.remove("v").ok_or(RecordError::MissingVersion)?;
    if version.as_u64() != Some(THREAD_RECORD_VERSION) {
        return Err(RecordError::UnknownVersion(version));
    }
    serde_json::from_value(serde_json::Value::Object(object)).map_err(RecordError::Invalid)
}
