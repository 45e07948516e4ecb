//! What the notice's program is told: Codex's `agent-turn-complete` notification as its last
//! argument (kebab-case members, in Codex's order), plus our `status`, and the same facts in
//! its environment. Built from the turn's files alone, so any process can build it.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::events::{Event, TurnStatus};
use crate::runner::client::read_exit_record;
use crate::runner::log::{self, EVENTS_FILE};
use crate::spec;
use crate::store::turn_dir::TURN_FILE;

/// The environment variable naming the turn's thread.
pub const THREAD_ID_ENV: &str = "AGENT_HOST_THREAD_ID";
/// The environment variable naming the turn.
pub const TURN_ID_ENV: &str = "AGENT_HOST_TURN_ID";
/// The environment variable holding the turn's status (`completed`, `failed`, `interrupted`).
pub const TURN_STATUS_ENV: &str = "AGENT_HOST_TURN_STATUS";

/// The JSON object passed as the program's last argument.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Payload {
    /// Always `agent-turn-complete`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub thread_id: String,
    pub turn_id: String,
    pub cwd: String,
    /// The texts of the user's input that started the turn.
    pub input_messages: Vec<String>,
    /// The text of the turn's last completed agent message, if it has one.
    pub last_assistant_message: Option<String>,
    /// How the turn ended (our addition to Codex's notification).
    pub status: TurnStatus,
}

impl Payload {
    /// The notice of the turn in `turn_dir`; `Ok(None)` while the turn has not ended.
    pub fn of_turn(turn_dir: &Path) -> io::Result<Option<Payload>> {
        let Some(exit) = read_exit_record(turn_dir)? else {
            return Ok(None);
        };
        let spec = spec::read(turn_dir)?;
        Ok(Some(Payload {
            kind: "agent-turn-complete",
            thread_id: spec.thread_id,
            turn_id: spec.turn_id,
            cwd: spec.cwd.display().to_string(),
            input_messages: input_messages(turn_dir),
            last_assistant_message: last_assistant_message(turn_dir)?,
            status: exit.status,
        }))
    }

    /// The program's environment additions.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        [
            (THREAD_ID_ENV, self.thread_id.as_str()),
            (TURN_ID_ENV, self.turn_id.as_str()),
            (TURN_STATUS_ENV, status_name(self.status)),
        ]
        .into_iter()
        .map(|(name, value)| (OsString::from(name), OsString::from(value)))
        .collect()
    }

    /// Where the program runs: the thread's working directory while it exists, else the
    /// turn directory.
    pub fn working_dir(&self, turn_dir: &Path) -> PathBuf {
        let cwd = PathBuf::from(&self.cwd);
        if cwd.is_dir() {
            cwd
        } else {
            turn_dir.to_path_buf()
        }
    }
}

/// The status as the records name it.
pub fn status_name(status: TurnStatus) -> &'static str {
    match status {
        TurnStatus::Completed => "completed",
        TurnStatus::Failed => "failed",
        TurnStatus::Interrupted => "interrupted",
    }
}

/// The texts of the turn's input (`turn.json`); non-text input has none.
fn input_messages(turn_dir: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(turn_dir.join(TURN_FILE)) else {
        return Vec::new();
    };
    let Ok(turn) = serde_json::from_slice::<Value>(&bytes) else {
        return Vec::new();
    };
    turn["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|input| input["type"] == "text")
        .filter_map(|input| input["text"].as_str().map(str::to_owned))
        .collect()
}

/// The text of the last `agentMessage` item the event log completed.
fn last_assistant_message(turn_dir: &Path) -> io::Result<Option<String>> {
    let records = log::read_all(&turn_dir.join(EVENTS_FILE))?.records;
    Ok(records.iter().rev().find_map(|record| match &record.event {
        Event::ItemCompleted { item } if item["type"] == "agentMessage" => {
            item["text"].as_str().map(str::to_owned)
        }
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_codexs_notification_in_codexs_order_plus_the_status() {
        let payload = Payload {
            kind: "agent-turn-complete",
            thread_id: "t".to_owned(),
            turn_id: "u".to_owned(),
            cwd: "/w".to_owned(),
            input_messages: vec!["hi".to_owned()],
            last_assistant_message: None,
            status: TurnStatus::Interrupted,
        };
        assert_eq!(
            serde_json::to_string(&payload).unwrap(),
            r#"{"type":"agent-turn-complete","thread-id":"t","turn-id":"u","cwd":"/w","input-messages":["hi"],"last-assistant-message":null,"status":"interrupted"}"#
        );
    }
}
