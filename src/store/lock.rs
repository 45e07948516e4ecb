//! A cross-process lock per thread: `flock` on `threads/<id>/thread.lock`.
//!
//! Every read-modify-write of a thread record holds it, so two server processes sharing a
//! state directory never lose each other's updates. The lock is released when the guard is
//! dropped (closing the file releases an `flock`), and the kernel releases it if the
//! process dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// The name of the lock file inside a thread directory.
pub const LOCK_FILE_NAME: &str = "thread.lock";

/// Holds the exclusive lock of one thread while alive.
#[derive(Debug)]
pub struct ThreadLock {
    _file: File,
}

impl ThreadLock {
    /// Blocks until the exclusive lock of the thread directory `dir` is held.
    pub fn acquire(dir: &Path) -> io::Result<ThreadLock> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            // A link planted in the thread's place is refused, never followed.
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(dir.join(LOCK_FILE_NAME))?;
        loop {
            match flock(&file, FlockOperation::LockExclusive) {
                Ok(()) => return Ok(ThreadLock { _file: file }),
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }
}
