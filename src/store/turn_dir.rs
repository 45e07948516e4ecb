//! The turn directory: where every turn's directory is, what each file in it is called, and
//! the walk over all turns of a state directory. Nothing else builds a turn path.
//!
//! ```text
//! <state>/threads/<thread-id>/turns/<turn-id>/   a turn of a stored thread
//! <state>/ephemeral/<thread-id>/<turn-id>/       a turn of an ephemeral thread
//! ```
//!
//! The files inside are described in `docs/contracts.md`, "State directory".

use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::{EPHEMERAL_DIR_NAME, THREADS_DIR_NAME, TURNS_DIR_NAME};

/// `spec.json`: what the runner must do (written by the server).
pub const SPEC_FILE: &str = "spec.json";
/// `turn.json`: the user's input of the turn (written by the server).
pub const TURN_FILE: &str = "turn.json";
/// `process.json`: the runner's process record.
pub const PROCESS_FILE: &str = "process.json";
/// `events.jsonl`: the canonical event log (appended by the runner only).
pub const EVENTS_FILE: &str = "events.jsonl";
/// `exit.json`: the exit record, written last.
pub const EXIT_FILE: &str = "exit.json";
/// `backend.stdout`: the backend's raw stdout.
pub const STDOUT_FILE: &str = "backend.stdout";
/// `backend.stderr`: the backend's raw stderr.
pub const STDERR_FILE: &str = "backend.stderr";
/// `runner.log`: the runner's own log and its stdout/stderr.
pub const RUNNER_LOG_FILE: &str = "runner.log";
/// `runner.lock`: held by the one runner of the turn for its whole life.
pub const LOCK_FILE: &str = "runner.lock";
/// `control.sock`: the control socket, when its path fits in `sun_path`.
pub const SOCKET_FILE: &str = "control.sock";

/// One turn directory found in a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnDir {
    pub thread_id: Uuid,
    pub turn_id: Uuid,
    /// True for a turn of an ephemeral thread.
    pub ephemeral: bool,
    pub path: PathBuf,
}

/// The directory of a turn of a stored thread (not created).
pub fn durable(state_dir: &Path, thread_id: Uuid, turn_id: Uuid) -> PathBuf {
    durable_turns(state_dir, thread_id).join(turn_id.hyphenated().to_string())
}

/// The directory of the turn directories of a stored thread.
pub fn durable_turns(state_dir: &Path, thread_id: Uuid) -> PathBuf {
    state_dir
        .join(THREADS_DIR_NAME)
        .join(thread_id.hyphenated().to_string())
        .join(TURNS_DIR_NAME)
}

/// The directory of the turn directories of an ephemeral thread.
pub fn ephemeral_turns(state_dir: &Path, thread_id: Uuid) -> PathBuf {
    state_dir
        .join(EPHEMERAL_DIR_NAME)
        .join(thread_id.hyphenated().to_string())
}

/// The turn ids under `turns_dir` (directories named by a UUID), in start order (UUIDv7).
/// A missing directory has none.
pub fn turn_ids(turns_dir: &Path) -> io::Result<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = uuid_dirs(turns_dir)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// Every turn of the state directory, of stored and of ephemeral threads, in start order.
/// A state directory no server has used has none; an unreadable one is an error.
pub fn all(state_dir: &Path) -> io::Result<Vec<TurnDir>> {
    let mut found = Vec::new();
    for (root, ephemeral) in [(THREADS_DIR_NAME, false), (EPHEMERAL_DIR_NAME, true)] {
        for (thread_id, thread_dir) in uuid_dirs(&state_dir.join(root))? {
            let turns_dir = if ephemeral {
                thread_dir
            } else {
                thread_dir.join(TURNS_DIR_NAME)
            };
            for (turn_id, path) in uuid_dirs(&turns_dir)? {
                found.push(TurnDir {
                    thread_id,
                    turn_id,
                    ephemeral,
                    path,
                });
            }
        }
    }
    found.sort_by_key(|turn| turn.turn_id);
    Ok(found)
}

/// The directory of the turn `turn_id`, wherever its thread is.
pub fn find(state_dir: &Path, turn_id: Uuid) -> io::Result<Option<TurnDir>> {
    Ok(all(state_dir)?
        .into_iter()
        .find(|turn| turn.turn_id == turn_id))
}

/// The directories directly in `dir` whose names are UUIDs (links are not followed: a link
/// is not a directory here). A missing `dir` has none.
fn uuid_dirs(dir: &Path) -> io::Result<Vec<(Uuid, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => {
            return Err(io::Error::new(
                err.kind(),
                format!("cannot read {}: {err}", dir.display()),
            ));
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        let id = entry
            .file_name()
            .to_str()
            .and_then(|name| Uuid::try_parse(name).ok());
        if let (true, Some(id)) = (is_dir, id) {
            found.push((id, entry.path()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_finds_the_turns_of_stored_and_ephemeral_threads_in_start_order() {
        let state = tempfile::tempdir().unwrap();
        let (stored, ephemeral) = (Uuid::now_v7(), Uuid::now_v7());
        let first = Uuid::now_v7();
        let second = Uuid::now_v7();
        std::fs::create_dir_all(ephemeral_turns(state.path(), ephemeral).join(second.to_string()))
            .unwrap();
        std::fs::create_dir_all(durable(state.path(), stored, first)).unwrap();
        // Not turns: a stray file and a name that is no UUID.
        std::fs::write(durable_turns(state.path(), stored).join("x.tmp"), "").unwrap();
        std::fs::create_dir_all(durable_turns(state.path(), stored).join("not-a-turn")).unwrap();
        let turns = all(state.path()).unwrap();
        let seen: Vec<(Uuid, bool)> = turns.iter().map(|t| (t.turn_id, t.ephemeral)).collect();
        assert_eq!(seen, [(first, false), (second, true)]);
        assert_eq!(turns[1].thread_id, ephemeral);
        assert_eq!(
            find(state.path(), second).unwrap().unwrap().path,
            ephemeral_turns(state.path(), ephemeral).join(second.to_string())
        );
        assert!(find(state.path(), Uuid::now_v7()).unwrap().is_none());
        let unused = state.path().join("never-used");
        assert!(all(&unused).unwrap().is_empty());
    }
}
