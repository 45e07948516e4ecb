//! The durable thread store: one directory per thread, a JSON record as the source of truth,
//! and a rebuildable SQLite index for listing.
//!
//! Layout (see `docs/contracts.md`):
//!
//! ```text
//! <state>/index.sqlite                       the index (a cache; rebuilt when needed)
//! <state>/threads/<thread-id>/thread.json    the thread record ("v": 1)
//! <state>/threads/<thread-id>/thread.lock    the cross-process lock of the thread
//! <state>/threads/<thread-id>/loaded.lock    shared-locked by each server that has it loaded
//! <state>/threads/<thread-id>/turns/<turn-id>/
//! <state>/threads/<thread-id>/imported.json  the history of an imported session (`imported.rs`)
//! <state>/imports/<import-id>.json           one completed import (`import_log.rs`)
//! ```
//!
//! Ids reach this module as [`Uuid`]s only, so no client string ever becomes a path.
//! Several server processes may share one state directory: record updates hold the
//! thread's `flock`, and SQLite's WAL mode with a busy timeout serialises index writes.

mod cursor;
mod goal;
mod id;
mod import_log;
mod imported;
mod index;
mod loaded;
mod lock;
mod record;
mod remove;
#[cfg(test)]
mod tests;
pub mod turn_dir;

use std::cell::{OnceCell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use uuid::Uuid;

pub use cursor::rfc3339_seconds;
pub use goal::{GoalStatus, MemoryMode, ThreadGoal};
pub use id::{IdError, IdKind, new_id, parse_id, parse_turn_id};
pub use import_log::{FailedThing, IMPORTS_DIR_NAME, ImportLogRecord, ImportedThing};
pub use imported::{
    IMPORTED_FILE_NAME, ImportSource, ImportedHistory, ImportedItem, ImportedTurn, SourceAgent,
};
pub use index::{DEFAULT_PAGE_SIZE, INDEX_SCHEMA_VERSION};
pub use record::{RecordError, THREAD_RECORD_VERSION, ThreadRecord, Timestamp};

use index::{Index, read_record_file};
pub use loaded::{LOADED_LOCK_FILE_NAME, LoadedMark, NotLoaded};
pub use lock::ThreadLock;

/// The index file inside the state directory.
pub const INDEX_FILE_NAME: &str = "index.sqlite";
/// The directory of thread directories inside the state directory.
pub const THREADS_DIR_NAME: &str = "threads";
/// The record file inside a thread directory.
pub const THREAD_FILE_NAME: &str = "thread.json";
/// The directory of ephemeral threads' turn directories inside the state directory.
pub const EPHEMERAL_DIR_NAME: &str = "ephemeral";
/// The directory of turn directories inside a thread directory.
pub const TURNS_DIR_NAME: &str = "turns";

/// The default state directory: `$XDG_STATE_HOME/agent-host`, else
/// `~/.local/state/agent-host`; `None` when neither variable is set.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("agent-host"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(home).join(".local/state/agent-host"))
}

/// Reads the record of a stored thread from its file without opening a store (the
/// command-line tools read the state directory as it is); `None` if there is none.
pub fn read_thread_file(
    state_dir: &Path,
    thread_id: Uuid,
) -> Result<Option<ThreadRecord>, StoreError> {
    read_record_file(
        &state_dir
            .join(THREADS_DIR_NAME)
            .join(thread_id.hyphenated().to_string())
            .join(THREAD_FILE_NAME),
    )
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("thread index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The index could not be opened in the background ([`Store::open_deferred`]); every
    /// use of it reports the first failure.
    #[error("the thread index could not be opened: {0}")]
    IndexUnavailable(String),
    #[error("{}: {source}", path.display())]
    Record {
        path: PathBuf,
        #[source]
        source: RecordError,
    },
    #[error("cannot serialize thread {id}: {source}")]
    Serialize {
        id: Uuid,
        #[source]
        source: serde_json::Error,
    },
    /// A list cursor that this store did not produce. Displays as Codex's error.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    #[error("no stored thread {0}")]
    NotFound(Uuid),
    #[error("thread {0} already exists")]
    AlreadyExists(Uuid),
    #[error("thread {0} is already archived")]
    AlreadyArchived(Uuid),
    #[error("thread {0} is not archived")]
    NotArchived(Uuid),
}

/// Whether a thread is archived; the target state of [`Store::set_archived`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveState {
    Active,
    Archived,
}

/// What a listing sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    CreatedAt,
    UpdatedAt,
}

/// Which way a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

/// A `thread/list` query. Only threads that have had a turn are listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// The page size: `None` is [`DEFAULT_PAGE_SIZE`], `Some(0)` returns one thread (as Codex).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub sort_key: SortKey,
    pub direction: SortDirection,
    /// `true` lists archived threads only; `false` lists the others.
    pub archived: bool,
    /// Threads whose cwd is any of these (empty: any cwd).
    pub cwd: Vec<String>,
    /// A case-insensitive substring of the name or the preview.
    pub search_term: Option<String>,
    /// Threads whose model provider is any of these (empty: any provider).
    pub model_providers: Vec<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub threads: Vec<ThreadRecord>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
    /// The cursor of the first thread of this page (`None` when empty): with the opposite
    /// direction it lists the threads before this page.
    pub backwards_cursor: Option<String>,
}

/// Creates `dir` (owner-only) if needed and fsyncs its `parent` so the new entry survives a
/// power loss.
/// `dir` must not be a symbolic link (links inside the state directory are never followed).
fn create_dir_durably(dir: &Path, parent: &Path) -> Result<(), StoreError> {
    let made =
        crate::atomic_file::create_private_dir_nofollow(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
    if !made {
        return Ok(());
    }
    crate::atomic_file::sync_dir(parent).map_err(|source| StoreError::Io {
        path: parent.to_owned(),
        source,
    })
}

/// The thread store over one state directory.
///
/// A `Store` owns one SQLite connection: it is `Send` but not `Sync`. Code that reads beside
/// the owner opens its own `Store` on the same directory (cheap once the index exists).
///
/// The index may still be opening on a thread of its own ([`Store::open_deferred`]): the
/// first method that needs it waits for it. Reading records and turn directories never does.
#[derive(Debug)]
pub struct Store {
    state_dir: PathBuf,
    threads_dir: PathBuf,
    /// The index once opened, or why it could not be.
    index: OnceCell<Result<Index, String>>,
    /// The thread opening the index, until someone waits for it.
    opening: RefCell<Option<JoinHandle<Result<Index, StoreError>>>>,
}

impl Store {
    /// Opens the store in `state_dir`, creating it (owner-only) and its index as needed. A
    /// missing or corrupt index, or one of another schema version, is rebuilt from the files.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let threads_dir = Store::create_threads_dir(state_dir)?;
        let index = Index::open(&state_dir.join(INDEX_FILE_NAME), &threads_dir)?;
        Ok(Store {
            state_dir: state_dir.to_owned(),
            threads_dir,
            index: OnceCell::from(Ok(index)),
            opening: RefCell::new(None),
        })
    }

    /// As [`Store::open`], but only the directories are made before it returns: the index
    /// (on a new state directory a new SQLite database, several fsyncs) is opened on a
    /// thread started here, and the first method that needs it waits for it. A failure to
    /// open it is logged once and returned by every method that needs the index.
    pub fn open_deferred(state_dir: &Path) -> Result<Store, StoreError> {
        let threads_dir = Store::create_threads_dir(state_dir)?;
        let index_path = state_dir.join(INDEX_FILE_NAME);
        let index_threads_dir = threads_dir.clone();
        let opening = std::thread::Builder::new()
            .name("index-open".to_owned())
            .spawn(move || Index::open(&index_path, &index_threads_dir))
            .map_err(|source| StoreError::Io {
                path: state_dir.join(INDEX_FILE_NAME),
                source,
            })?;
        Ok(Store {
            state_dir: state_dir.to_owned(),
            threads_dir,
            index: OnceCell::new(),
            opening: RefCell::new(Some(opening)),
        })
    }

    fn create_threads_dir(state_dir: &Path) -> Result<PathBuf, StoreError> {
        // The state directory itself may be reached through a link (the user's choice);
        // nothing inside it is.
        if !state_dir.is_dir() {
            crate::atomic_file::create_private_dir(state_dir).map_err(|source| StoreError::Io {
                path: state_dir.to_owned(),
                source: match source.kind() {
                    io::ErrorKind::AlreadyExists => io::Error::from_raw_os_error(libc::ENOTDIR),
                    _ => source,
                },
            })?;
        }
        let threads_dir = state_dir.join(THREADS_DIR_NAME);
        create_dir_durably(&threads_dir, state_dir)?;
        Ok(threads_dir)
    }

    /// The index, waiting for it if it is still being opened.
    fn index(&self) -> Result<&Index, StoreError> {
        let opened = self.index.get_or_init(|| {
            let opening = self.opening.borrow_mut().take();
            let result = match opening.map(JoinHandle::join) {
                Some(Ok(Ok(index))) => Ok(index),
                Some(Ok(Err(err))) => Err(err.to_string()),
                Some(Err(_panic)) => Err("the thread opening it panicked".to_owned()),
                None => Err("it was never opened".to_owned()),
            };
            if let Err(err) = &result {
                tracing::error!(
                    path = %self.state_dir.join(INDEX_FILE_NAME).display(),
                    "the thread index could not be opened: {err}"
                );
            }
            result
        });
        opened
            .as_ref()
            .map_err(|err| StoreError::IndexUnavailable(err.clone()))
    }

    /// The state directory this store was opened on.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Replaces the whole index with what the thread files say; returns the thread count.
    pub fn rebuild_index(&self) -> Result<usize, StoreError> {
        self.index()?.rebuild(&self.threads_dir)
    }

    /// The directory of a thread.
    pub fn thread_dir(&self, thread_id: Uuid) -> PathBuf {
        self.threads_dir.join(thread_id.hyphenated().to_string())
    }

    /// The directory of a thread, to read or write through: missing, or a real directory.
    /// A symbolic link in its place (planted in the state directory) is an error, so that no
    /// record, lock or turn is read or written through it.
    fn real_thread_dir(&self, thread_id: Uuid) -> Result<PathBuf, StoreError> {
        let dir = self.thread_dir(thread_id);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if !meta.is_dir() => Err(StoreError::Io {
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    if meta.file_type().is_symlink() {
                        "a symbolic link; agent-host does not follow links inside its state \
                         directory"
                    } else {
                        "not a directory"
                    },
                ),
                path: dir,
            }),
            Ok(_) => Ok(dir),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(dir),
            Err(source) => Err(StoreError::Io { path: dir, source }),
        }
    }

    fn thread_file(&self, thread_id: Uuid) -> PathBuf {
        self.thread_dir(thread_id).join(THREAD_FILE_NAME)
    }

    /// Stores a new thread. Fails with [`StoreError::AlreadyExists`] if the id is taken.
    pub fn create_thread(&self, record: &ThreadRecord) -> Result<(), StoreError> {
        // Nothing is written unless the index can follow.
        self.index()?;
        let dir = self.thread_dir(record.id);
        create_dir_durably(&dir, &self.threads_dir)?;
        let _lock = self.lock(record.id)?;
        if read_record_file(&self.thread_file(record.id))?.is_some() {
            return Err(StoreError::AlreadyExists(record.id));
        }
        self.write_record(record)
    }

    /// Reads a thread record from its file (the source of truth); `None` if unknown.
    pub fn read_thread(&self, thread_id: Uuid) -> Result<Option<ThreadRecord>, StoreError> {
        read_record_file(&self.real_thread_dir(thread_id)?.join(THREAD_FILE_NAME))
    }

    /// Read-modify-write of one record under the thread's cross-process lock; returns the
    /// record as stored. The id cannot change; a change that leaves the record equal writes
    /// nothing. `change` must not call back into a store for the same thread: the lock is
    /// held while it runs.
    pub fn update_thread(
        &self,
        thread_id: Uuid,
        change: impl FnOnce(&mut ThreadRecord),
    ) -> Result<ThreadRecord, StoreError> {
        self.modify(thread_id, |record| {
            change(record);
            Ok(())
        })
    }

    /// Archives or unarchives a thread; fails if it is already in that state.
    pub fn set_archived(
        &self,
        thread_id: Uuid,
        state: ArchiveState,
    ) -> Result<ThreadRecord, StoreError> {
        self.modify(thread_id, |record| match (state, record.archived) {
            (ArchiveState::Archived, true) => Err(StoreError::AlreadyArchived(thread_id)),
            (ArchiveState::Active, false) => Err(StoreError::NotArchived(thread_id)),
            (ArchiveState::Archived, false) | (ArchiveState::Active, true) => {
                record.archived = state == ArchiveState::Archived;
                Ok(())
            }
        })
    }

    /// One page of listed threads.
    pub fn list_threads(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        self.index()?.list(query)
    }

    /// The directory of one turn (not created).
    pub fn turn_dir(&self, thread_id: Uuid, turn_id: Uuid) -> PathBuf {
        turn_dir::durable(&self.state_dir, thread_id, turn_id)
    }

    /// Creates the directory of a turn of a stored thread (owner-only) and returns it.
    pub fn create_turn_dir(&self, thread_id: Uuid, turn_id: Uuid) -> Result<PathBuf, StoreError> {
        if self.read_thread(thread_id)?.is_none() {
            return Err(StoreError::NotFound(thread_id));
        }
        let thread_dir = self.thread_dir(thread_id);
        let turns_dir = thread_dir.join(TURNS_DIR_NAME);
        create_dir_durably(&turns_dir, &thread_dir)?;
        let dir = self.turn_dir(thread_id, turn_id);
        create_dir_durably(&dir, &turns_dir)?;
        Ok(dir)
    }

    /// Where an ephemeral thread's turn directories are. Ephemeral threads are never listed
    /// or resumed, but their turns still need a directory for the runner's files: a scratch
    /// area outside the thread tree.
    pub fn ephemeral_turns_dir(&self, thread_id: Uuid) -> PathBuf {
        turn_dir::ephemeral_turns(&self.state_dir, thread_id)
    }

    /// Creates the directory of a turn of an ephemeral thread (owner-only) and returns it.
    pub fn create_ephemeral_turn_dir(
        &self,
        thread_id: Uuid,
        turn_id: Uuid,
    ) -> Result<PathBuf, StoreError> {
        let root = self.state_dir.join(EPHEMERAL_DIR_NAME);
        create_dir_durably(&root, &self.state_dir)?;
        let turns_dir = self.ephemeral_turns_dir(thread_id);
        create_dir_durably(&turns_dir, &root)?;
        let dir = turns_dir.join(turn_id.hyphenated().to_string());
        create_dir_durably(&dir, &turns_dir)?;
        Ok(dir)
    }

    /// The ids of a thread's turn directories in start order (UUIDv7 order). Entries that
    /// are not turn directories (temporary files, stray names) are ignored.
    pub fn list_turn_ids(&self, thread_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        let turns_dir = turn_dir::durable_turns(&self.state_dir, thread_id);
        turn_dir::turn_ids(&turns_dir).map_err(|source| StoreError::Io {
            path: turns_dir,
            source,
        })
    }

    /// Indexes records without writing their files, in one transaction. Only for tests and
    /// benchmarks (the rows vanish at the next rebuild): it is how 100,000 threads are made
    /// in a second.
    #[doc(hidden)]
    pub fn index_records_unchecked(&self, records: &[ThreadRecord]) -> Result<(), StoreError> {
        self.index()?.insert_unchecked(records)
    }

    /// The query plan of a listing, one line per step (for tests and diagnostics).
    #[doc(hidden)]
    pub fn explain_list(&self, query: &ListQuery) -> Result<Vec<String>, StoreError> {
        self.index()?.explain_list(query)
    }

    /// The index's copy of a record (for tests of index freshness).
    #[doc(hidden)]
    pub fn indexed_record(&self, thread_id: Uuid) -> Result<Option<ThreadRecord>, StoreError> {
        self.index()?.indexed_record(thread_id)
    }

    /// Holds the thread's cross-process lock until the guard is dropped (the same lock every
    /// record update takes: do not update this thread's record while holding it).
    pub fn lock_thread(&self, thread_id: Uuid) -> Result<ThreadLock, StoreError> {
        self.lock(thread_id)
    }

    fn lock(&self, thread_id: Uuid) -> Result<ThreadLock, StoreError> {
        let dir = self.real_thread_dir(thread_id)?;
        ThreadLock::acquire(&dir).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound(thread_id),
            _ => StoreError::Io { path: dir, source },
        })
    }

    /// Read-modify-write under the lock; `change` may refuse with an error.
    fn modify(
        &self,
        thread_id: Uuid,
        change: impl FnOnce(&mut ThreadRecord) -> Result<(), StoreError>,
    ) -> Result<ThreadRecord, StoreError> {
        let _lock = self.lock(thread_id)?;
        let current = self
            .read_thread(thread_id)?
            .ok_or(StoreError::NotFound(thread_id))?;
        let mut next = current.clone();
        change(&mut next)?;
        next.id = thread_id;
        if next != current {
            self.write_record(&next)?;
        }
        Ok(next)
    }

    /// File first, then index, with the pending mark around them (see `index`). The
    /// caller holds the thread's lock.
    fn write_record(&self, record: &ThreadRecord) -> Result<(), StoreError> {
        let path = self.thread_file(record.id);
        let bytes = record::to_stored_json(record).map_err(|source| StoreError::Serialize {
            id: record.id,
            source,
        })?;
        let index = self.index()?;
        index.mark_pending(record.id)?;
        crate::atomic_file::write_atomic(&path, &bytes)
            .map_err(|source| StoreError::Io { path, source })?;
        index.upsert(record)
    }
}

impl Drop for Store {
    /// A store dropped while its index is still opening waits for it, so that the process
    /// never exits in the middle of creating the database.
    fn drop(&mut self) {
        if let Some(opening) = self.opening.get_mut().take() {
            let _ = opening.join();
        }
    }
}
