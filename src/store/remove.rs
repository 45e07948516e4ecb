//! Removing a stored thread for good (`thread/delete`): its record, its index row, and its
//! directory with every turn in it.
//!
//! The thread's directory is first renamed into `<state>/trash/`: one atomic step after which
//! no reader finds the record or a turn, and nobody can take the thread's lock again (the
//! lock file went with the directory). The index row goes next; the renamed tree is removed
//! last. A crash in between leaves the index's pending mark, which the next open repairs
//! (the file is gone, so the row goes), and a tree in `trash/`, which the next removal
//! empties.

use std::io;
use std::path::Path;

use uuid::Uuid;

use super::{StoreError, ThreadLock, create_dir_durably, new_id};

/// The directory of removed thread trees inside the state directory, until they are gone.
pub const TRASH_DIR_NAME: &str = "trash";

impl super::Store {
    /// Removes the thread's record, its index row and its directory. The caller holds the
    /// thread's lock (taken with [`super::Store::lock_thread`]) and has made sure that no
    /// turn of the thread still runs. Fails with [`StoreError::NotFound`] when there is no
    /// record.
    pub fn remove_thread(&self, thread_id: Uuid, _held: &ThreadLock) -> Result<(), StoreError> {
        let index = self.index()?;
        let dir = self.thread_dir(thread_id);
        if self.read_thread(thread_id)?.is_none() {
            return Err(StoreError::NotFound(thread_id));
        }
        let trash = self.state_dir.join(TRASH_DIR_NAME);
        create_dir_durably(&trash, &self.state_dir)?;
        index.mark_pending(thread_id)?;
        let target = trash.join(new_id().hyphenated().to_string());
        std::fs::rename(&dir, &target).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        for parent in [self.threads_dir.as_path(), trash.as_path()] {
            crate::atomic_file::sync_dir(parent).map_err(|source| StoreError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        index.remove(thread_id)?;
        remove_tree(&target);
        Ok(())
    }

    /// Removes what earlier removals left in `trash/` (a process that died between the
    /// rename and the removal of the tree). Failures are logged: the trees are unreachable
    /// anyway.
    pub fn empty_trash(&self) {
        let trash = self.state_dir.join(TRASH_DIR_NAME);
        let entries = match std::fs::read_dir(&trash) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return,
            Err(err) => {
                tracing::warn!("cannot read {}: {err}", trash.display());
                return;
            }
        };
        for entry in entries.flatten() {
            remove_tree(&entry.path());
        }
    }
}

/// Removes a tree in the trash; one that another process removes at the same time is fine.
fn remove_tree(path: &Path) {
    match std::fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!("cannot remove {}: {err}", path.display()),
    }
}
