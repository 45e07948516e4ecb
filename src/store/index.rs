//! The SQLite index over thread records: fast, filtered, paginated listing.
//!
//! The index is a cache. Every row is derived from one `thread.json` and holds a copy of it,
//! so a page is answered by one indexed range scan without reading files. It can always be
//! rebuilt from the files: on a missing or corrupt database, on another schema version, and
//! on request.
//!
//! A write goes file first, index second. Before the file is replaced, the thread id is
//! committed to the `pending` table; the index row is upserted and the id removed in one
//! transaction afterwards. A crash in between leaves the id in `pending`, and the next
//! [`Index::open`] re-reads that thread's file, so the index never stays stale.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::record::{ThreadRecord, from_stored_json};
use super::{ListPage, ListQuery, SortDirection, SortKey, StoreError, cursor};

/// The schema this build creates (stored as `PRAGMA user_version`). Any other value,
/// including 0 for a new file, makes [`Index::open`] rebuild the index from the files.
pub const INDEX_SCHEMA_VERSION: i64 = 1;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page size when the query does not give one (as in Codex).
pub const DEFAULT_PAGE_SIZE: u32 = 25;

const CREATE_SCHEMA: &str = "
CREATE TABLE threads (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    archived INTEGER NOT NULL,
    has_turns INTEGER NOT NULL,
    cwd TEXT NOT NULL,
    model_provider TEXT NOT NULL,
    name_folded TEXT NOT NULL,
    preview_folded TEXT NOT NULL
);
CREATE TABLE records (n INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE INDEX threads_by_created ON threads (archived, has_turns, created_at, id);
CREATE INDEX threads_by_updated ON threads (archived, has_turns, updated_at_ms, id);
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
";

/// An open connection to `index.sqlite`.
#[derive(Debug)]
pub struct Index {
    conn: Connection,
    path: PathBuf,
}

/// What to do about the rows already in the index when rebuilding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RebuildScope {
    /// Drop and recreate every table (new file or another schema version).
    Schema,
    /// Keep the schema, replace the rows.
    Rows,
}

impl Index {
    /// Opens (creating or rebuilding as needed) the index at `path` over `threads_dir`.
    pub fn open(path: &Path, threads_dir: &Path) -> Result<Index, StoreError> {
        let index = match Index::open_checked(path, threads_dir) {
            Ok(index) => index,
            Err(StoreError::Index(err)) if is_corruption(&err) => {
                tracing::warn!(path = %path.display(), error = %err, "thread index is corrupt; rebuilding it from the thread files");
                remove_database_files(path)?;
                Index::open_checked(path, threads_dir)?
            }
            Err(err) => return Err(err),
        };
        index.reconcile_pending(threads_dir)?;
        Ok(index)
    }

    fn open_checked(path: &Path, threads_dir: &Path) -> Result<Index, StoreError> {
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL lets readers in other processes go on while one process writes; FULL makes a
        // commit durable (the `pending` marks must survive a power loss, not only a crash).
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)?;
        let index = Index {
            conn,
            path: path.to_owned(),
        };
        index.ensure_schema(threads_dir)?;
        Ok(index)
    }

    /// Creates the schema and fills it from the files unless it is already current.
    fn ensure_schema(&self, threads_dir: &Path) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version == INDEX_SCHEMA_VERSION {
            return Ok(());
        }
        // Another process may be doing the same: decide again under the write lock.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version != INDEX_SCHEMA_VERSION {
            if version != 0 {
                tracing::info!(
                    found = version,
                    expected = INDEX_SCHEMA_VERSION,
                    "thread index has another schema version; rebuilding it"
                );
            }
            fill_from_files(&tx, threads_dir, RebuildScope::Schema)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces every row with what the thread files say.
    pub fn rebuild(&self, threads_dir: &Path) -> Result<usize, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let count = fill_from_files(&tx, threads_dir, RebuildScope::Rows)?;
        tx.commit()?;
        Ok(count)
    }

    /// Records that the file of `id` is about to change (see the module docs).
    pub fn mark_pending(&self, id: Uuid) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO pending (id) VALUES (?1)",
            params![id.hyphenated().to_string()],
        )?;
        Ok(())
    }

    /// Upserts the row of `record` and clears its pending mark, in one transaction.
    pub fn upsert(&self, record: &ThreadRecord) -> Result<(), StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        upsert_row(&tx, record)?;
        tx.execute(
            "DELETE FROM pending WHERE id = ?1",
            params![record.id.hyphenated().to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the row of `id` (a thread whose file is gone) and its pending mark, in one
    /// transaction.
    pub fn remove(&self, id: Uuid) -> Result<(), StoreError> {
        let text = id.hyphenated().to_string();
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM records WHERE n IN (SELECT n FROM threads WHERE id = ?1)",
            params![text],
        )?;
        tx.execute("DELETE FROM threads WHERE id = ?1", params![text])?;
        tx.execute("DELETE FROM pending WHERE id = ?1", params![text])?;
        tx.commit()?;
        Ok(())
    }

    /// Indexes records without writing their files, in one transaction. Only for tests and
    /// benchmarks: rows without files vanish at the next rebuild.
    pub fn insert_unchecked(&self, records: &[ThreadRecord]) -> Result<(), StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        for record in records {
            upsert_row(&tx, record)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Re-reads the file of every thread left pending by a writer that died mid-update.
    fn reconcile_pending(&self, threads_dir: &Path) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare("SELECT id FROM pending")?;
        let ids: Vec<String> = statement
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        drop(statement);
        for text in ids {
            let Ok(id) = Uuid::try_parse(&text) else {
                self.conn
                    .execute("DELETE FROM pending WHERE id = ?1", params![text])?;
                continue;
            };
            let dir = threads_dir.join(id.hyphenated().to_string());
            if std::fs::symlink_metadata(&dir).is_ok_and(|meta| !meta.is_dir()) {
                // A link planted in the thread's place is no thread (and never followed).
                self.remove(id)?;
                continue;
            }
            // Wait for a live writer to finish; then the file is final.
            let _lock = match super::lock::ThreadLock::acquire(&dir) {
                Ok(lock) => Some(lock),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(StoreError::Io { path: dir, source }),
            };
            let file = dir.join(super::THREAD_FILE_NAME);
            match read_record_file(&file) {
                Ok(Some(record)) => self.upsert(&record)?,
                Ok(None) | Err(_) => self.remove(id)?,
            }
        }
        Ok(())
    }

    /// One page of listed threads (only threads with a turn), newest first by default.
    pub fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let (sql, values, limit) = list_sql(query)?;
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(values))?;
        let mut threads = Vec::new();
        let mut has_more = false;
        while let Some(row) = rows.next()? {
            if threads.len() == limit {
                has_more = true;
                break;
            }
            let record: String = row.get(0)?;
            threads.push(self.parse_row(&record)?);
        }
        let cursor_of = |record: &ThreadRecord| {
            let value = match query.sort_key {
                SortKey::CreatedAt => record.created_at,
                SortKey::UpdatedAt => record.updated_at_ms,
            };
            cursor::encode(query.sort_key, value, record.id)
        };
        let next_cursor = if has_more {
            threads.last().map(cursor_of)
        } else {
            None
        };
        let backwards_cursor = threads.first().map(cursor_of);
        Ok(ListPage {
            threads,
            next_cursor,
            backwards_cursor,
        })
    }

    /// The query plan SQLite chooses for `query` (one line per step), for tests.
    pub fn explain_list(&self, query: &ListQuery) -> Result<Vec<String>, StoreError> {
        let (sql, values, _) = list_sql(query)?;
        let mut statement = self.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let plan = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })?
            .collect::<Result<_, _>>()?;
        Ok(plan)
    }

    fn parse_row(&self, text: &str) -> Result<ThreadRecord, StoreError> {
        from_stored_json(text.as_bytes()).map_err(|source| StoreError::Record {
            path: self.path.clone(),
            source,
        })
    }

    /// The threads whose record holds `session_id` as its backend session.
    pub fn threads_with_backend_session(&self, session_id: &str) -> Result<Vec<Uuid>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT id FROM threads JOIN records USING (n) \
             WHERE json_extract(record, '$.backendSessionId') = ?1 ORDER BY n",
        )?;
        let ids: Vec<String> = statement
            .query_map(params![session_id], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids
            .iter()
            .filter_map(|id| Uuid::try_parse(id).ok())
            .collect())
    }

    /// Looks up the stored copy of one record (for tests of index freshness).
    pub fn indexed_record(&self, id: Uuid) -> Result<Option<ThreadRecord>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM threads JOIN records USING (n) WHERE id = ?1",
                params![id.hyphenated().to_string()],
                |row| row.get(0),
            )
            .optional()?;
        text.map(|text| self.parse_row(&text)).transpose()
    }
}

/// The SQL, its parameters and the page size of a list query.
fn list_sql(query: &ListQuery) -> Result<(String, Vec<Value>, usize), StoreError> {
    let limit = match query.limit {
        None => DEFAULT_PAGE_SIZE,
        Some(0) => 1,
        Some(limit) => limit,
    };
    let after = match &query.cursor {
        None => None,
        Some(text) => Some(
            cursor::decode(query.sort_key, text)
                .ok_or_else(|| StoreError::InvalidCursor(text.clone()))?,
        ),
    };
    let column = match query.sort_key {
        SortKey::CreatedAt => "created_at",
        SortKey::UpdatedAt => "updated_at_ms",
    };
    let (order, compare) = match query.direction {
        SortDirection::Asc => ("ASC", ">"),
        SortDirection::Desc => ("DESC", "<"),
    };
    let mut sql =
        "SELECT record FROM threads JOIN records USING (n) WHERE archived = ? AND has_turns = 1"
            .to_owned();
    let mut values: Vec<Value> = vec![Value::Integer(i64::from(query.archived))];
    if let Some(after) = after {
        sql.push_str(&format!(" AND ({column}, id) {compare} (?, ?)"));
        values.push(Value::Integer(after.value));
        values.push(Value::Text(after.id.hyphenated().to_string()));
    }
    push_any_of(&mut sql, &mut values, "cwd", &query.cwd);
    push_any_of(
        &mut sql,
        &mut values,
        "model_provider",
        &query.model_providers,
    );
    if let Some(term) = &query.search_term {
        sql.push_str(" AND (instr(name_folded, ?) > 0 OR instr(preview_folded, ?) > 0)");
        let folded = fold_case(term);
        values.push(Value::Text(folded.clone()));
        values.push(Value::Text(folded));
    }
    sql.push_str(&format!(" ORDER BY {column} {order}, id {order} LIMIT ?"));
    values.push(Value::Integer(i64::from(limit) + 1));
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok((sql, values, limit))
}

fn push_any_of(sql: &mut String, values: &mut Vec<Value>, column: &str, any_of: &[String]) {
    if any_of.is_empty() {
        return;
    }
    let marks = vec!["?"; any_of.len()].join(", ");
    sql.push_str(&format!(" AND {column} IN ({marks})"));
    values.extend(any_of.iter().map(|text| Value::Text(text.clone())));
}

/// Case folding for search: Unicode lowercase, done in Rust (SQLite's `lower` is ASCII-only).
fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

fn upsert_row(tx: &rusqlite::Transaction<'_>, record: &ThreadRecord) -> Result<(), StoreError> {
    let stored =
        super::record::to_compact_json(record).map_err(|source| StoreError::Serialize {
            id: record.id,
            source,
        })?;
    let n: i64 = tx.query_row(
        "INSERT INTO threads (id, created_at, updated_at_ms, archived, has_turns, cwd, \
         model_provider, name_folded, preview_folded) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, \
         updated_at_ms = excluded.updated_at_ms, archived = excluded.archived, \
         has_turns = excluded.has_turns, cwd = excluded.cwd, \
         model_provider = excluded.model_provider, name_folded = excluded.name_folded, \
         preview_folded = excluded.preview_folded RETURNING n",
        params![
            record.id.hyphenated().to_string(),
            record.created_at,
            record.updated_at_ms,
            record.archived,
            record.has_turns,
            record.cwd,
            record.model_provider,
            fold_case(record.name.as_deref().unwrap_or("")),
            fold_case(&record.preview),
        ],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO records (n, record) VALUES (?1, ?2)",
        params![n, stored],
    )?;
    Ok(())
}

/// Fills the index from `threads/*/thread.json`; returns the number of threads indexed.
/// A directory without a readable record is skipped with a warning, never fatal.
fn fill_from_files(
    tx: &rusqlite::Transaction<'_>,
    threads_dir: &Path,
    scope: RebuildScope,
) -> Result<usize, StoreError> {
    match scope {
        RebuildScope::Schema => {
            tx.execute_batch(
                "DROP TABLE IF EXISTS threads; DROP TABLE IF EXISTS records; \
                 DROP TABLE IF EXISTS pending;",
            )?;
            tx.execute_batch(CREATE_SCHEMA)?;
            tx.pragma_update(None, "user_version", INDEX_SCHEMA_VERSION)?;
        }
        RebuildScope::Rows => {
            tx.execute_batch("DELETE FROM threads; DELETE FROM records;")?;
        }
    }
    let entries = match std::fs::read_dir(threads_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(StoreError::Io {
                path: threads_dir.to_owned(),
                source,
            });
        }
    };
    let mut count = 0;
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io {
            path: threads_dir.to_owned(),
            source,
        })?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|name| Uuid::try_parse(name).ok()) else {
            // Temporary files and anything else that is not a thread directory.
            continue;
        };
        if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            // A link is not a thread directory: it is never followed.
            continue;
        }
        let file = entry.path().join(super::THREAD_FILE_NAME);
        match read_record_file(&file) {
            Ok(Some(record)) if record.id == id => {
                upsert_row(tx, &record)?;
                count += 1;
            }
            Ok(Some(record)) => {
                tracing::warn!(path = %file.display(), recorded = %record.id, "thread record names another id; skipped");
            }
            Ok(None) => {
                tracing::warn!(path = %entry.path().display(), "thread directory without thread.json; skipped");
            }
            Err(err) => {
                tracing::warn!(path = %file.display(), error = %err, "unreadable thread record; skipped");
            }
        }
    }
    Ok(count)
}

/// Reads one record file; `Ok(None)` when it does not exist.
pub fn read_record_file(path: &Path) -> Result<Option<ThreadRecord>, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    from_stored_json(&bytes)
        .map(Some)
        .map_err(|source| StoreError::Record {
            path: path.to_owned(),
            source,
        })
}

/// Creates an empty owner-only file at `path` if there is none; SQLite gives its `-wal` and
/// `-shm` files the same permissions.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

fn remove_database_files(path: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path: file, source }),
        }
    }
    Ok(())
}
