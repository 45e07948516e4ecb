//! Durable file writes: every state file is replaced atomically.
//!
//! A write goes to a temporary file in the same directory, is fsynced, renamed over the
//! target, and the directory is fsynced. A crash at any point leaves either the old
//! contents or the new, never a mix; a stray temporary file is ignored by readers. A record
//! that is created once and never replaced ([`create_atomic`]) is hard-linked into place
//! instead of renamed, so the first writer's stays.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of every file in the state directory: owner-only, since records and logs may
/// hold what a backend printed and what the user typed.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// The suffix of temporary files; readers skip names that end with it.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_all(&[(path, bytes)])
}

/// Writes each `(path, bytes)` atomically and durably, in order; every path must be in the
/// same directory. Each file is replaced as by [`write_atomic`] (its temporary file written and
/// fsynced, then renamed over it), and the directory is fsynced once, after the last rename,
/// instead of once per file: when this returns, every file is durable. A crash in between
/// leaves each file old or new, never a mix, like separate writes in the same order.
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> io::Result<()> {
    let Some(((first, _), rest)) = files.split_first() else {
        return Ok(());
    };
    let dir = dir_of(first)?;
    if rest.iter().any(|(path, _)| path.parent() != Some(dir)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "files written together must share a directory",
        ));
    }
    let mut temps = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let written = temp_path_of(dir, path, "")
            .and_then(|temp_path| write_temp(&temp_path, bytes).map(|()| temp_path));
        match written {
            Ok(temp_path) => temps.push(temp_path),
            Err(err) => {
                remove_all(&temps);
                return Err(err);
            }
        }
    }
    for (done, ((path, _), temp_path)) in files.iter().zip(&temps).enumerate() {
        if let Err(err) = fs::rename(temp_path, path) {
            remove_all(&temps[done..]);
            return Err(err);
        }
    }
    sync_dir(dir)
}

/// The directory `path` is in.
fn dir_of(path: &Path) -> io::Result<&Path> {
    path.parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))
}

/// The temporary file beside `path` (in `dir`) that a write of it goes through: named after
/// it, this process and `unique` (what tells apart two writes of this process at once).
fn temp_path_of(dir: &Path, path: &Path, unique: &str) -> io::Result<PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut temp_name = file_name.to_os_string();
    temp_name.push(format!(".{}{unique}{TEMP_SUFFIX}", std::process::id()));
    Ok(dir.join(temp_name))
}

fn remove_all(temps: &[PathBuf]) {
    for temp in temps {
        let _ = fs::remove_file(temp);
    }
}

/// `value` as the pretty JSON, with a final newline, that [`write_json_atomic`] writes.
pub fn json_bytes<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Serializes `value` as pretty JSON and writes it with [`write_atomic`].
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    write_atomic(path, &json_bytes(value)?)
}

/// Creates `path` with `bytes` atomically and durably unless it already exists: `Ok(true)`
/// when this call made it, `Ok(false)` (and `path` untouched) when a file was there first.
/// A record that must be written once, by whichever of several processes gets there first,
/// is created this way: the temporary file is fsynced, then hard-linked to `path` (`link`
/// fails with `EEXIST` instead of replacing, as `rename` would), so a reader sees either no
/// file or the whole of the first writer's.
pub fn create_atomic(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let dir = dir_of(path)?;
    // Two threads of one process may race too: the temporary name is theirs alone.
    static CREATES: AtomicU64 = AtomicU64::new(0);
    let unique = format!("-{}", CREATES.fetch_add(1, Ordering::Relaxed));
    let temp_path = temp_path_of(dir, path, &unique)?;
    let linked = write_temp(&temp_path, bytes).and_then(|()| fs::hard_link(&temp_path, path));
    let _ = fs::remove_file(&temp_path);
    match linked {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err),
    }
}

/// Serializes `value` as pretty JSON and creates `path` with it ([`create_atomic`]).
pub fn create_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<bool> {
    create_atomic(path, &json_bytes(value)?)
}

/// Writes a new owner-only temporary file and fsyncs it. A link planted at the temporary
/// name is refused (`ELOOP`), never written through.
fn write_temp(temp_path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(temp_path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Fsyncs a directory so that a rename or a new entry in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens `path` for appending, creating it owner-only ([`PRIVATE_FILE_MODE`]) if new. A
/// symbolic link at `path` is refused (`ELOOP`), never followed: a link planted in a turn
/// directory must not send a log, a lock or a program's output out of the state directory.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PRIVATE_FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(path)
}

/// Creates `dir` (and its parents) with owner-only permissions where it is new.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Makes `dir` an owner-only directory if it does not exist, without following a link: `dir`
/// must be missing or a real directory, never a symbolic link (a link inside the state
/// directory would send what agent-host creates, or deletes, out of it). Its parent must
/// exist. Returns `true` if it made `dir`.
pub fn create_private_dir_nofollow(dir: &Path) -> io::Result<bool> {
    use std::os::unix::fs::DirBuilderExt;
    let check = |meta: fs::Metadata| {
        if meta.file_type().is_dir() {
            Ok(false)
        } else {
            let what = if meta.file_type().is_symlink() {
                "a symbolic link"
            } else {
                "not a directory"
            };
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is {what}; agent-host does not follow links inside its state directory",
                    dir.display()
                ),
            ))
        }
    };
    match fs::symlink_metadata(dir) {
        Ok(meta) => return check(meta),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(true),
        // Made by someone else meanwhile: it must pass the same check.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => check(fs::symlink_metadata(dir)?),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn append_refuses_a_planted_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"kept").unwrap();
        let path = dir.path().join("notify.out");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        let err = open_private_append(&path).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        assert_eq!(fs::read(&outside).unwrap(), b"kept");
        let real = dir.path().join("runner.log");
        open_private_append(&real).unwrap().write_all(b"x").unwrap();
        open_private_append(&real).unwrap().write_all(b"y").unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"xy");
    }

    #[test]
    fn create_keeps_the_first_record_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        assert!(create_json_atomic(&path, &"first").unwrap());
        assert!(!create_json_atomic(&path, &"second").unwrap());
        assert!(!create_atomic(&path, b"third").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"\"first\"\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, PRIVATE_FILE_MODE);
        let names = names_in(dir.path());
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn racing_creates_leave_exactly_one_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        let made: Vec<bool> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..8u8)
                .map(|n| {
                    let path = &path;
                    scope.spawn(move || create_atomic(path, &[b'0' + n; 4096]).unwrap())
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(made.iter().filter(|made| **made).count(), 1, "{made:?}");
        let winner = made.iter().position(|made| *made).unwrap() as u8;
        assert_eq!(fs::read(&path).unwrap(), [b'0' + winner; 4096]);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn create_refuses_a_planted_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"kept").unwrap();
        let path = dir.path().join("exit.json");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        assert!(!create_atomic(&path, b"new").unwrap());
        assert_eq!(fs::read(&outside).unwrap(), b"kept");
    }

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names = names_in(dir.path());
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_link_planted_at_a_temporary_name_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"kept").unwrap();
        let pid = std::process::id();
        std::os::unix::fs::symlink(
            &outside,
            dir.path().join(format!("spec.json.{pid}{TEMP_SUFFIX}")),
        )
        .unwrap();
        let path = dir.path().join("spec.json");
        let err = write_atomic(&path, b"new").unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        assert!(!path.exists());
        assert_eq!(fs::read(&outside).unwrap(), b"kept");
    }

    #[test]
    fn writes_several_files_of_one_directory_and_refuses_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        write_atomic(&a, b"old").unwrap();
        write_atomic_all(&[(&a, b"new a"), (&b, b"new b")]).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new a");
        assert_eq!(fs::read(&b).unwrap(), b"new b");
        let names = names_in(dir.path());
        assert_eq!(names, ["a.json", "b.json"]);

        let sub = dir.path().join("sub");
        create_private_dir(&sub).unwrap();
        let elsewhere = sub.join("c.json");
        let err = write_atomic_all(&[(&a, b"x"), (&elsewhere, b"y")]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(fs::read(&a).unwrap(), b"new a", "nothing written");
        assert!(!elsewhere.exists());
    }

    #[test]
    fn a_failed_write_of_several_leaves_the_old_files_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        write_atomic(&a, b"old").unwrap();
        // A directory where the second file's temporary file would go: its open fails.
        let b = dir.path().join("b.json");
        fs::create_dir(
            dir.path()
                .join(format!("b.json.{}{TEMP_SUFFIX}", std::process::id())),
        )
        .unwrap();
        assert!(write_atomic_all(&[(&a, b"new"), (&b, b"new")]).is_err());
        assert_eq!(fs::read(&a).unwrap(), b"old");
        assert!(!b.exists());
        let temp_of_a = dir
            .path()
            .join(format!("a.json.{}{TEMP_SUFFIX}", std::process::id()));
        assert!(!temp_of_a.exists(), "the first temporary file is removed");
    }
}
