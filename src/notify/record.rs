//! `notify.json`: the completion notice a turn owes, and what became of it (`docs/contracts.md`,
//! "The completion notice"). Written whole and atomically at every step; the steps only go
//! forward: `pending` → `claimed` → `started` → `ended` (a claim whose notifier died before
//! the program started goes back to `claimed` by a new notifier).

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::events::{RECORD_VERSION, check_version};
use crate::process::identity::Identity;
use crate::store::turn_dir::NOTICE_FILE;

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeRecord {
    pub v: u32,
    /// The program and its first arguments; the payload is appended as the last argument.
    pub argv: Vec<String>,
    /// How long the program may run before its process group is killed.
    pub timeout_ms: u64,
    #[serde(flatten)]
    pub state: NoticeState,
}

/// Where the notice is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum NoticeState {
    /// Owed: written by the server with the turn; nobody has taken it yet.
    Pending,
    /// A notifier took it and is about to start the program.
    Claimed { claim: Claim },
    /// The program was started (its process wrote the witness byte).
    Started {
        claim: Claim,
        program: Identity,
        started_at_ms: u64,
    },
    /// Done, for good: nothing runs the program again.
    Ended {
        claim: Claim,
        program: Option<Identity>,
        started_at_ms: Option<u64>,
        ended_at_ms: u64,
        result: NoticeResult,
    },
}

/// Who took the notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    /// The notifier process.
    pub by: Identity,
    pub at_ms: u64,
    /// How many claims before this one were taken over (their notifier died before the
    /// program started).
    pub taken_over: u32,
}

/// What became of the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "outcome",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum NoticeResult {
    /// It exited with this code.
    Exited { exit_code: i32 },
    /// A signal not sent by us ended it.
    Signalled { signal: i32 },
    /// It ran past the timeout; its process group was killed.
    TimedOut,
    /// It could not be started (no such program, not executable, …).
    NotStarted { error: String },
    /// It was started, but its notifier died before it ended: its end is unknown.
    Lost { error: String },
}

impl NoticeState {
    /// The record's name for the state, as written in `state`.
    pub fn name(&self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Claimed { .. } => "claimed",
            NoticeState::Started { .. } => "started",
            NoticeState::Ended { .. } => "ended",
        }
    }

    /// The notifier working on the notice, if one has taken it and it has not ended.
    pub fn claimer(&self) -> Option<&Identity> {
        match self {
            NoticeState::Claimed { claim } | NoticeState::Started { claim, .. } => Some(&claim.by),
            NoticeState::Pending | NoticeState::Ended { .. } => None,
        }
    }
}

/// Reads `notify.json`: `None` when the turn owes no notice.
pub fn read(turn_dir: &Path) -> io::Result<Option<NoticeRecord>> {
    let bytes = match std::fs::read(turn_dir.join(NOTICE_FILE)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let record: NoticeRecord = serde_json::from_slice(&bytes).map_err(|err| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{NOTICE_FILE}: {err}"))
    })?;
    check_version(record.v, NOTICE_FILE)
        .map_err(|message| io::Error::new(io::ErrorKind::InvalidData, message))?;
    Ok(Some(record))
}

/// Writes `notify.json` atomically.
pub fn write(turn_dir: &Path, record: &NoticeRecord) -> io::Result<()> {
    atomic_file::write_json_atomic(&turn_dir.join(NOTICE_FILE), record)
}

/// The record of a notice the turn owes, before anyone took it.
pub fn pending(argv: Vec<String>, timeout_ms: u64) -> NoticeRecord {
    NoticeRecord {
        v: RECORD_VERSION,
        argv,
        timeout_ms,
        state: NoticeState::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Identity {
        Identity {
            pid: 7,
            start_time: 8,
            boot_id: "boot".to_owned(),
        }
    }

    #[test]
    fn every_state_reads_back_as_written_with_its_name() {
        let claim = Claim {
            by: me(),
            at_ms: 1,
            taken_over: 0,
        };
        let states = [
            NoticeState::Pending,
            NoticeState::Claimed {
                claim: claim.clone(),
            },
            NoticeState::Started {
                claim: claim.clone(),
                program: me(),
                started_at_ms: 2,
            },
            NoticeState::Ended {
                claim,
                program: Some(me()),
                started_at_ms: Some(2),
                ended_at_ms: 3,
                result: NoticeResult::Exited { exit_code: 0 },
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        for state in states {
            let record = NoticeRecord {
                state,
                ..pending(vec!["notify-send".to_owned()], 100)
            };
            write(dir.path(), &record).unwrap();
            let text = std::fs::read_to_string(dir.path().join(NOTICE_FILE)).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["state"], record.state.name(), "{text}");
            assert_eq!(read(dir.path()).unwrap(), Some(record));
        }
        let text = std::fs::read_to_string(dir.path().join(NOTICE_FILE)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["result"],
            serde_json::json!({"outcome": "exited", "exitCode": 0})
        );
    }
}
