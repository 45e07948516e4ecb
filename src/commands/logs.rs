//! `agent-host logs [-f] THREAD|TURN`: what a turn did, from its event log, readable: the
//! user's input, the agent's text, commands with their output, file changes, warnings and
//! errors, and how it ended. `--json` prints the canonical event records as they are stored.
//! With `-f` the turn is followed to its end ([`crate::runner::client::subscribe`]: the
//! runner's socket while it lives, the files otherwise) and the command exits with the turn's
//! status.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::select::{self, OpsError};
use crate::cli::StateOptions;
use crate::events::{Event, EventRecord, TurnStatus};
use crate::runner::client::{read_exit_record, subscribe};
use crate::runner::log::{self, EVENTS_FILE};
use crate::store::turn_dir::TURN_FILE;

/// Exit code with `-f`: the turn failed.
pub const EXIT_FAILED: u8 = 3;
/// Exit code with `-f`: the turn was interrupted.
pub const EXIT_INTERRUPTED: u8 = 4;

/// Whether `logs` follows the turn to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Follow {
    Yes,
    No,
}

/// Prints the log of the turn `target` names.
pub(super) fn run(
    options: StateOptions,
    follow: Follow,
    target: &str,
) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let state = select::state_dir(options.state_dir)?;
    let turn = select::turn(&state, target)?;
    let mut out = Output::new(options.json);
    if !options.json {
        out.input(&turn.path);
    }
    match follow {
        Follow::No => {
            for record in stored_records(&turn.path)? {
                out.record(&record);
            }
            Ok(ExitCode::SUCCESS)
        }
        Follow::Yes => follow_to_end(&turn.path, &mut out),
    }
}

/// The records the turn has so far, with its `turnEnded` record made from `exit.json` when
/// the runner died before appending it.
fn stored_records(dir: &Path) -> Result<Vec<EventRecord>, OpsError> {
    let mut records = log::read_all(&dir.join(EVENTS_FILE))
        .map_err(OpsError::Read)?
        .records;
    if let Some(exit) = read_exit_record(dir).map_err(OpsError::Read)?
        && !records.iter().any(EventRecord::is_turn_ended)
    {
        records.push(exit.turn_ended_record());
    }
    Ok(records)
}

/// Prints every record until `turnEnded`; the exit code tells the turn's status.
fn follow_to_end(dir: &Path, out: &mut Output) -> Result<ExitCode, OpsError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(OpsError::Read)?;
    runtime.block_on(async {
        let mut records = subscribe(dir, 1).await.map_err(OpsError::Read)?;
        while let Some(record) = records.recv().await {
            let record = match record {
                Ok(record) => record,
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(OpsError::RunnerLost(dir.to_path_buf()));
                }
                Err(err) => return Err(OpsError::Read(err)),
            };
            out.record(&record);
            if let Event::TurnEnded { status, .. } = record.event {
                return Ok(ExitCode::from(match status {
                    TurnStatus::Completed => 0,
                    TurnStatus::Failed => EXIT_FAILED,
                    TurnStatus::Interrupted => EXIT_INTERRUPTED,
                }));
            }
        }
        Err(OpsError::RunnerLost(dir.to_path_buf()))
    })
}

/// Where the records go: JSON lines, or text for a person.
struct Output {
    json: bool,
    /// Items whose text arrived as deltas (their completion does not repeat it).
    streamed: HashSet<String>,
    /// The last text written did not end its line.
    mid_line: bool,
}

impl Output {
    fn new(json: bool) -> Output {
        Output {
            json,
            streamed: HashSet::new(),
            mid_line: false,
        }
    }

    /// The user's input that started the turn (`turn.json`), as `> ` lines.
    fn input(&mut self, dir: &Path) {
        let turn: Value = std::fs::read(dir.join(TURN_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let texts = turn["input"].as_array().into_iter().flatten();
        for input in texts {
            match input["type"].as_str() {
                Some("text") => self.quoted(input["text"].as_str().unwrap_or_default()),
                Some(other) => self.line(&format!("> [{other}]")),
                None => {}
            }
        }
    }

    fn record(&mut self, record: &EventRecord) {
        if self.json {
            match serde_json::to_string(record) {
                Ok(line) => self.write(&format!("{line}\n")),
                Err(err) => tracing::error!("cannot print a record: {err}"),
            }
            return;
        }
        match &record.event {
            Event::ItemStarted { item } => self.item_started(item),
            Event::AgentMessageDelta { item_id, delta }
            | Event::CommandOutputDelta { item_id, delta } => {
                self.streamed.insert(item_id.clone());
                self.write(delta);
            }
            Event::ItemCompleted { item } => self.item_completed(item),
            Event::Warning { message } => self.line(&format!("warning: {message}")),
            Event::Error {
                message,
                will_retry,
            } => {
                let retry = if *will_retry { " (retrying)" } else { "" };
                self.line(&format!("error: {message}{retry}"));
            }
            Event::Steered { input, .. } => {
                let texts = input.as_array().into_iter().flatten();
                for text in texts.filter_map(|i| i["text"].as_str()) {
                    self.quoted(text);
                }
            }
            Event::ApprovalRequested { kind, command, .. } => {
                let what = command.as_deref().unwrap_or_default();
                self.line(&format!("[approval requested: {kind:?} {what}]"));
            }
            Event::ApprovalResolved { decision, .. } => {
                self.line(&format!("[approval: {decision}]"));
            }
            Event::InterruptRequested { reason } => {
                self.line(&format!("[interrupt requested: {}]", reason.as_str()));
            }
            Event::TurnEnded {
                status,
                reason,
                error,
            } => {
                let detail = error.as_ref().map(|e| format!(": {}", e.message));
                let text = match status {
                    TurnStatus::Completed => "[turn completed]".to_owned(),
                    TurnStatus::Failed => format!("[turn failed{}]", detail.unwrap_or_default()),
                    TurnStatus::Interrupted => format!("[turn interrupted ({reason})]"),
                };
                self.line(&text);
            }
            Event::RunnerStarted { .. }
            | Event::BackendSession { .. }
            | Event::ReasoningSummaryDelta { .. }
            | Event::ReasoningTextDelta { .. }
            | Event::TokenUsage { .. }
            // The file change items show each change.
            | Event::TurnDiff { .. }
            | Event::Marker { .. }
            | Event::ControlAcknowledged { .. }
            | Event::BackendExited { .. } => {}
        }
    }

    fn item_started(&mut self, item: &Value) {
        if item["type"] == "commandExecution" {
            let command = item["command"].as_str().unwrap_or_default();
            self.line(&format!("$ {command}"));
        }
    }

    fn item_completed(&mut self, item: &Value) {
        let id = item["id"].as_str().unwrap_or_default();
        let streamed = self.streamed.remove(id);
        match item["type"].as_str().unwrap_or_default() {
            "agentMessage" => {
                if !streamed {
                    self.write(item["text"].as_str().unwrap_or_default());
                }
                self.end_line();
            }
            "commandExecution" => {
                let output = item["aggregatedOutput"].as_str().unwrap_or_default();
                if !streamed {
                    self.write(output);
                }
                self.end_line();
                match item["exitCode"].as_i64() {
                    Some(code) => self.line(&format!("[exit {code}]")),
                    None => self.line(&format!("[{}]", item["status"].as_str().unwrap_or("ended"))),
                }
            }
            "fileChange" => {
                for change in item["changes"].as_array().into_iter().flatten() {
                    let kind = change["kind"]["type"].as_str().unwrap_or("change");
                    let path = change["path"].as_str().unwrap_or_default();
                    self.line(&format!("[file {kind}] {path}"));
                }
            }
            "userMessage" | "reasoning" | "" => {}
            other => self.line(&format!("[{other}]")),
        }
    }

    fn quoted(&mut self, text: &str) {
        for line in text.lines() {
            self.line(&format!("> {line}"));
        }
    }

    /// Writes `text` as a line of its own.
    fn line(&mut self, text: &str) {
        self.end_line();
        self.write(text);
        self.write("\n");
    }

    fn end_line(&mut self) {
        if self.mid_line {
            self.write("\n");
        }
    }

    /// Writes and flushes, so that a follower sees the text as it arrives; a closed stdout
    /// is ignored (the reader has gone).
    fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.mid_line = !text.ends_with('\n');
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}
