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
/// `notify.json`: the completion notice the turn owes, and what became of it.
pub const NOTICE_FILE: &str = "notify.json";
/// `notify.lock`: held by the one notifier working on the notice; the notice's program
/// writes one byte into it just before it is executed.
pub const NOTICE_LOCK_FILE: &str = "notify.lock";
/// `notify.out`: what the notice's program wrote (stdout and stderr).
pub const NOTICE_OUTPUT_FILE: &str = "notify.out";

/// What `agent-host gc` may delete from a turn that has ended: the backend's raw output
/// and scratch files. Never the records `thread/read`, `logs` and `ps` read (`turn.json`,
/// `spec.json`, `process.json`, `events.jsonl`, `exit.json`, `notify.json`, `notify.out`).
/// The notice's lock only goes once the notice has ended.
pub const DISPOSABLE_FILES: [&str; 4] = [STDOUT_FILE, STDERR_FILE, RUNNER_LOG_FILE, LOCK_FILE];

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

/// The ids of the stored threads (`<state>/threads/<id>/`, with or without turns), in
/// creation order (UUIDv7).
pub fn stored_thread_ids(state_dir: &Path) -> io::Result<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = uuid_dirs(&state_dir.join(THREADS_DIR_NAME))?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// What an id (or the start of one) typed on the command line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A thread, with its turns in start order (possibly none).
    Thread {
        thread_id: Uuid,
        turns: Vec<TurnDir>,
    },
    /// One turn.
    Turn(TurnDir),
}

/// Why a typed id names nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{0:?} is not a thread or turn id (hexadecimal digits and hyphens)")]
    NotAnId(String),
    #[error("no thread or turn {0}")]
    Unknown(String),
    #[error("{prefix} is ambiguous: it starts {} ids ({})", .matches.len(), .matches.join(", "))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
}

/// The thread or turn that `text` names: a whole id, or the start of exactly one (with or
/// without hyphens). Stored and ephemeral threads and all their turns are searched.
pub fn resolve(state_dir: &Path, text: &str) -> io::Result<Result<Named, NameError>> {
    let typed = text.trim().to_ascii_lowercase();
    let well_formed = !typed.is_empty()
        && typed.len() <= 36
        && typed.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if !well_formed {
        return Ok(Err(NameError::NotAnId(text.chars().take(40).collect())));
    }
    let turns = all(state_dir)?;
    let mut threads = stored_thread_ids(state_dir)?;
    threads.extend(turns.iter().map(|turn| turn.thread_id));
    threads.sort();
    threads.dedup();
    let starts = |id: &Uuid| {
        id.hyphenated().to_string().starts_with(&typed)
            || id.simple().to_string().starts_with(&typed)
    };
    let mut found: Vec<Named> = threads
        .iter()
        .filter(|id| starts(id))
        .map(|&thread_id| Named::Thread {
            thread_id,
            turns: turns
                .iter()
                .filter(|turn| turn.thread_id == thread_id)
                .cloned()
                .collect(),
        })
        .chain(
            turns
                .iter()
                .filter(|turn| starts(&turn.turn_id))
                .cloned()
                .map(Named::Turn),
        )
        .collect();
    Ok(match found.len() {
        0 => Err(NameError::Unknown(typed)),
        1 => Ok(found.remove(0)),
        _ => {
            let matches = found
                .iter()
                .map(|named| match named {
                    Named::Thread { thread_id, .. } => format!("thread {thread_id}"),
                    Named::Turn(turn) => format!("turn {}", turn.turn_id),
                })
                .take(5)
                .collect();
            Err(NameError::Ambiguous {
                prefix: typed,
                matches,
            })
        }
    })
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

    #[test]
    fn an_id_or_its_unique_start_names_a_thread_or_a_turn() {
        let state = tempfile::tempdir().unwrap();
        let thread = Uuid::parse_str("01900000-0000-7000-8000-00000000aaaa").unwrap();
        let idle = Uuid::parse_str("01900000-0000-7000-8000-00000000bbbb").unwrap();
        let turn = Uuid::parse_str("01911111-0000-7000-8000-000000000001").unwrap();
        std::fs::create_dir_all(durable(state.path(), thread, turn)).unwrap();
        std::fs::create_dir_all(state.path().join(THREADS_DIR_NAME).join(idle.to_string()))
            .unwrap();
        let named = |text: &str| resolve(state.path(), text).unwrap();
        assert_eq!(
            named(&turn.to_string()),
            Ok(Named::Turn(find(state.path(), turn).unwrap().unwrap()))
        );
        assert!(matches!(named("0191"), Ok(Named::Turn(_))));
        assert!(matches!(
            named("01900000-0000-7000-8000-00000000AAAA"),
            Ok(Named::Thread { thread_id, turns }) if thread_id == thread && turns.len() == 1
        ));
        assert!(matches!(
            named("0190000000007000800000000000bbbb"),
            Ok(Named::Thread { thread_id, turns }) if thread_id == idle && turns.is_empty()
        ));
        assert_eq!(
            named("0190").unwrap_err().to_string(),
            format!("0190 is ambiguous: it starts 2 ids (thread {thread}, thread {idle})")
        );
        assert_eq!(
            named("0192").unwrap_err().to_string(),
            "no thread or turn 0192"
        );
        assert_eq!(
            named("../x").unwrap_err().to_string(),
            "\"../x\" is not a thread or turn id (hexadecimal digits and hyphens)"
        );
    }
}
