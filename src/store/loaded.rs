//! Which threads a live server has loaded: `flock` on `threads/<id>/loaded.lock`.
//!
//! Every server holds a shared lock on the file of each stored thread it has loaded (started,
//! resumed or forked), from the load until the unload, and the kernel drops it when the
//! server exits, even by SIGKILL: a held shared lock means a live server may write the
//! thread at any moment. No pid is recorded, so no pid can be reused into a false answer.
//!
//! `agent-host rm` takes the exclusive lock without waiting ([`NotLoaded`]): it gets it only
//! when no server has the thread loaded, and holds it while it deletes the thread. A server
//! that loads the thread meanwhile does not wait for it: its shared lock fails, it loads the
//! thread without a mark, and then finds it deleted as it finds a thread another server
//! deleted.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};
use uuid::Uuid;

use super::StoreError;

/// The name of the lock file inside a thread directory.
pub const LOADED_LOCK_FILE_NAME: &str = "loaded.lock";

/// Held by a server for as long as it has the thread loaded (a shared lock).
#[derive(Debug)]
pub struct LoadedMark {
    _file: File,
}

/// Proof that no live server has the thread loaded, for as long as it is held (the
/// exclusive lock); no server can mark the thread loaded meanwhile.
#[derive(Debug)]
pub struct NotLoaded {
    _file: File,
}

/// Takes the lock of the thread directory `dir` without waiting; `None` when another
/// process holds it in a conflicting mode.
fn try_lock(dir: &Path, operation: FlockOperation) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(LOADED_LOCK_FILE_NAME))?;
    loop {
        match flock(&file, operation) {
            Ok(()) => return Ok(Some(file)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(errno) => return Err(errno.into()),
        }
    }
}

impl super::Store {
    /// Marks the stored thread loaded by this process until the mark is dropped; `None`
    /// when an `rm` holds [`NotLoaded`] right now (it is deleting the thread).
    pub fn mark_loaded(&self, thread_id: Uuid) -> Result<Option<LoadedMark>, StoreError> {
        let dir = self.real_thread_dir(thread_id)?;
        try_lock(&dir, FlockOperation::NonBlockingLockShared)
            .map(|file| file.map(|file| LoadedMark { _file: file }))
            .map_err(|source| lock_error(thread_id, &dir, source))
    }

    /// Proof that no live server has the stored thread loaded; `None` when one has.
    pub fn claim_not_loaded(&self, thread_id: Uuid) -> Result<Option<NotLoaded>, StoreError> {
        let dir = self.real_thread_dir(thread_id)?;
        try_lock(&dir, FlockOperation::NonBlockingLockExclusive)
            .map(|file| file.map(|file| NotLoaded { _file: file }))
            .map_err(|source| lock_error(thread_id, &dir, source))
    }
}

fn lock_error(thread_id: Uuid, dir: &Path, source: io::Error) -> StoreError {
    match source.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound(thread_id),
        _ => StoreError::Io {
            path: dir.to_owned(),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, ThreadRecord, Timestamp, new_id};

    fn store_with_thread() -> (tempfile::TempDir, Store, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let record = ThreadRecord::new(
            new_id(),
            "/projects/a".to_owned(),
            "fake".to_owned(),
            "0.1.0".to_owned(),
            Timestamp { unix_ms: 1 },
        );
        store.create_thread(&record).unwrap();
        (dir, store, record.id)
    }

    #[test]
    fn a_loaded_thread_cannot_be_claimed_and_a_claimed_one_cannot_be_marked() {
        let (_dir, store, id) = store_with_thread();
        let first = store.mark_loaded(id).unwrap().expect("a mark");
        let second = store
            .mark_loaded(id)
            .unwrap()
            .expect("two servers may load it");
        assert!(store.claim_not_loaded(id).unwrap().is_none());
        drop(first);
        assert!(store.claim_not_loaded(id).unwrap().is_none());
        drop(second);
        let claim = store
            .claim_not_loaded(id)
            .unwrap()
            .expect("nobody has it loaded");
        assert!(store.mark_loaded(id).unwrap().is_none());
        drop(claim);
        assert!(store.mark_loaded(id).unwrap().is_some());
    }

    #[test]
    fn a_thread_without_a_directory_is_not_found() {
        let (_dir, store, _id) = store_with_thread();
        let other = new_id();
        assert!(matches!(
            store.claim_not_loaded(other),
            Err(StoreError::NotFound(id)) if id == other
        ));
    }
}
