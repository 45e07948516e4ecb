//! How `agent-host run` shows a turn as text on stdout: the agent's text as it streams, its
//! reasoning dimmed, each command with its output folded to a few lines, file changes as
//! diffs, warnings, and a summary line at the end; on a terminal, colours and a status line
//! with the elapsed time while the backend works ([`super::style`]). The other view is
//! [`Json`]: the server's messages as they came, one per line.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

use super::follow::{Approval, Decision, View};
use super::style::{self, CLEAR_LINE, Paint, Styling};
use crate::protocol::{
    CommandExecutionStatus, FileUpdateChange, PatchApplyStatus, PatchChangeKind,
    ServerNotification, ThreadItemKind, Turn, TurnStatus,
};

/// The most lines of a command's output shown; the rest is counted.
pub const OUTPUT_LINES: usize = 8;
/// The most lines of one file's diff shown.
pub const DIFF_LINES: usize = 24;

/// What the turn is doing, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Doing {
    Working,
    Running(String),
    Asking,
    Interrupting,
}

/// The text view of one turn.
pub struct Text<W: Write> {
    out: W,
    styling: Styling,
    thread: String,
    turn: String,
    started: Instant,
    doing: Doing,
    /// Whether the last text written left the cursor inside a line.
    line_open: bool,
    /// Whether the status line is on the screen (below the text).
    status_shown: bool,
    frame: usize,
    /// Items whose text came as deltas: their completion adds only a line break.
    streamed: HashSet<String>,
    /// Command output that came as deltas, by item.
    output: HashMap<String, String>,
    /// Tokens the turn used: the sum of its usage reports' `last`.
    tokens: Tokens,
    /// The configuration file, named in the hint for a provider that is not installed.
    config_file: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tokens {
    input: i64,
    output: i64,
    total: i64,
}

impl<W: Write> Text<W> {
    pub fn new(out: W, styling: Styling, thread: &str, turn: &str) -> Text<W> {
        Text {
            out,
            styling,
            thread: thread.to_owned(),
            turn: turn.to_owned(),
            started: Instant::now(),
            doing: Doing::Working,
            line_open: false,
            status_shown: false,
            frame: 0,
            streamed: HashSet::new(),
            output: HashMap::new(),
            tokens: Tokens::default(),
            config_file: None,
        }
    }

    /// Names the configuration file in the hint for a provider whose program is missing.
    pub fn with_config_file(mut self, path: Option<PathBuf>) -> Text<W> {
        self.config_file = path;
        self
    }

    /// For a turn whose backend could not be started because its program is missing: how to
    /// pick another provider.
    fn missing_program_hint(&self, turn: &Turn) -> Option<String> {
        let error = turn.error.as_ref()?;
        if !(error.message.starts_with("cannot start ") && error.message.contains(": not found")) {
            return None;
        }
        let file = self.config_file.as_ref().map_or_else(
            || "the configuration file".to_owned(),
            |path| path.display().to_string(),
        );
        Some(format!(
            "hint: that provider's program is not installed. Try the built-in demo, which \
             needs no install: agent-host run --provider demo \"PROMPT\"; choose a provider \
             with --provider NAME, or set default_provider in {file}\n"
        ))
    }

    /// Writes text of the turn (the status line is cleared first and redrawn at the next tick).
    fn write(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        if self.status_shown {
            self.out.write_all(CLEAR_LINE.as_bytes())?;
            self.status_shown = false;
        }
        self.out.write_all(text.as_bytes())?;
        self.line_open = !text.ends_with('\n');
        self.out.flush()
    }

    fn painted(&mut self, paint: Paint, text: &str) -> io::Result<()> {
        let text = self.styling.paint(paint, text);
        self.write(&text)
    }

    /// Ends a line left open by streamed text.
    fn line_start(&mut self) -> io::Result<()> {
        if self.line_open {
            self.write("\n")?;
        }
        Ok(())
    }

    /// Before a line on stderr: the cursor at the start of an empty line of the terminal, so
    /// that the line neither follows streamed text nor mixes with the status line's remnants
    /// (the status line is cleared; the next tick draws it again below).
    fn line_start_for_stderr(&mut self) -> io::Result<()> {
        self.line_start()?;
        if self.status_shown {
            self.out.write_all(CLEAR_LINE.as_bytes())?;
            self.status_shown = false;
            self.out.flush()?;
        }
        Ok(())
    }

    fn ours(&self, turn: &str) -> bool {
        turn == self.turn
    }

    fn item_started(&mut self, kind: &ThreadItemKind) -> io::Result<()> {
        if let ThreadItemKind::CommandExecution { command, .. } = kind {
            self.line_start()?;
            self.painted(Paint::Bold, &format!("$ {command}\n"))?;
            self.doing = Doing::Running(command.clone());
        }
        Ok(())
    }

    fn item_completed(&mut self, kind: &ThreadItemKind) -> io::Result<()> {
        match kind {
            ThreadItemKind::AgentMessage { id, text, .. } => {
                if self.streamed.remove(id) {
                    self.line_start()
                } else {
                    self.line_start()?;
                    self.write(&format!("{text}\n"))
                }
            }
            ThreadItemKind::Reasoning { id, summary, .. } => {
                if self.streamed.remove(id) {
                    self.line_start()
                } else if summary.is_empty() {
                    Ok(())
                } else {
                    self.line_start()?;
                    self.painted(Paint::Dim, &format!("{}\n", summary.join("\n")))
                }
            }
            ThreadItemKind::CommandExecution {
                id,
                aggregated_output,
                exit_code,
                status,
                ..
            } => {
                let streamed = self.output.remove(id).unwrap_or_default();
                let output = aggregated_output.as_deref().unwrap_or(&streamed);
                self.doing = Doing::Working;
                self.command_done(output, *exit_code, *status)
            }
            ThreadItemKind::FileChange {
                changes, status, ..
            } => self.file_changes(changes, *status),
            ThreadItemKind::McpToolCall { server, tool, .. } => {
                self.line_start()?;
                self.painted(Paint::Bold, &format!("tool {server}.{tool}\n"))
            }
            ThreadItemKind::Plan { text, .. } => {
                self.line_start()?;
                self.painted(Paint::Dim, &format!("plan: {text}\n"))
            }
            ThreadItemKind::UserMessage { .. }
            | ThreadItemKind::ContextCompaction { .. }
            | ThreadItemKind::ImageView { .. }
            | ThreadItemKind::EnteredReviewMode { .. }
            | ThreadItemKind::ExitedReviewMode { .. } => Ok(()),
        }
    }

    /// A command's output, indented and folded to [`OUTPUT_LINES`], and how it ended unless
    /// it succeeded.
    fn command_done(
        &mut self,
        output: &str,
        exit_code: Option<i32>,
        status: CommandExecutionStatus,
    ) -> io::Result<()> {
        self.line_start()?;
        let text = fold(output, OUTPUT_LINES, "  ");
        self.painted(Paint::Dim, &text)?;
        let end = match (status, exit_code) {
            (CommandExecutionStatus::Declined, _) => Some("declined".to_owned()),
            (_, Some(code)) if code != 0 => Some(format!("exit {code}")),
            (CommandExecutionStatus::Failed, _) => Some("failed".to_owned()),
            (CommandExecutionStatus::Completed | CommandExecutionStatus::InProgress, _) => None,
        };
        match end {
            Some(end) => self.painted(Paint::Red, &format!("  ({end})\n")),
            None => Ok(()),
        }
    }

    /// Each changed file: a header, then its diff, `+` lines green, `-` lines red.
    fn file_changes(
        &mut self,
        changes: &[FileUpdateChange],
        status: PatchApplyStatus,
    ) -> io::Result<()> {
        self.line_start()?;
        let end = match status {
            PatchApplyStatus::Completed | PatchApplyStatus::InProgress => "",
            PatchApplyStatus::Declined => " (declined)",
            PatchApplyStatus::Failed => " (failed)",
        };
        for change in changes {
            let verb = match &change.kind {
                PatchChangeKind::Add => "add",
                PatchChangeKind::Delete => "delete",
                PatchChangeKind::Update { .. } => "edit",
            };
            self.painted(Paint::Bold, &format!("{verb} {}{end}\n", change.path))?;
            let diff = fold(&change.diff, DIFF_LINES, "  ");
            for line in diff.split_inclusive('\n') {
                let paint = match line.trim_start().chars().next() {
                    Some('+') => Paint::Green,
                    Some('-') => Paint::Red,
                    Some('@') => Paint::Cyan,
                    _ => Paint::Dim,
                };
                self.painted(paint, line)?;
            }
        }
        Ok(())
    }

    /// The summary line: status, duration, tokens, and the thread to continue.
    fn summary(&self, turn: &Turn) -> String {
        let elapsed = match turn.duration_ms.and_then(|ms| u64::try_from(ms).ok()) {
            Some(ms) => std::time::Duration::from_millis(ms),
            None => self.started.elapsed(),
        };
        let status = match (turn.status, &turn.error) {
            (TurnStatus::Failed, Some(error)) => format!("failed: {}", error.message),
            (TurnStatus::Completed, _) => "completed".to_owned(),
            (TurnStatus::Failed | TurnStatus::InProgress, _) => "failed".to_owned(),
            (TurnStatus::Interrupted, _) => "interrupted".to_owned(),
        };
        let tokens = self.tokens;
        format!(
            "{status} · {} · {} tokens ({} in, {} out) · thread {}",
            style::seconds(elapsed),
            tokens.total,
            tokens.input,
            tokens.output,
            self.thread
        )
    }
}

impl<W: Write> View for Text<W> {
    fn raw(&mut self, _raw: &Value) -> io::Result<()> {
        Ok(())
    }

    fn notification(&mut self, notification: ServerNotification) -> io::Result<()> {
        match notification {
            ServerNotification::AgentMessageDelta(delta) if self.ours(&delta.turn_id) => {
                self.streamed.insert(delta.item_id);
                self.write(&delta.delta)
            }
            ServerNotification::ReasoningSummaryTextDelta(delta) if self.ours(&delta.turn_id) => {
                self.streamed.insert(delta.item_id);
                self.painted(Paint::Dim, &delta.delta)
            }
            ServerNotification::CommandExecutionOutputDelta(delta) if self.ours(&delta.turn_id) => {
                self.output
                    .entry(delta.item_id)
                    .or_default()
                    .push_str(&delta.delta);
                Ok(())
            }
            ServerNotification::ItemStarted(started) if self.ours(&started.turn_id) => {
                self.item_started(&started.item.kind)
            }
            ServerNotification::ItemCompleted(done) if self.ours(&done.turn_id) => {
                self.item_completed(&done.item.kind)
            }
            ServerNotification::ThreadTokenUsageUpdated(usage) if self.ours(&usage.turn_id) => {
                let last = &usage.token_usage.last;
                self.tokens.input += last.input_tokens;
                self.tokens.output += last.output_tokens;
                self.tokens.total += last.total_tokens;
                Ok(())
            }
            ServerNotification::Error(error) if self.ours(&error.turn_id) && error.will_retry => {
                self.line_start()?;
                let text = format!("retrying: {}\n", error.error.message);
                self.painted(Paint::Yellow, &text)
            }
            ServerNotification::Warning(warning) => {
                self.line_start()?;
                self.painted(Paint::Yellow, &format!("warning: {}\n", warning.message))
            }
            _ => Ok(()),
        }
    }

    fn asking(&mut self, approval: &Approval) -> io::Result<()> {
        self.line_start()?;
        self.doing = Doing::Asking;
        let reason = approval
            .reason
            .as_deref()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default();
        let question = format!("Allow the agent to {}?{reason} [y/N] ", approval.what());
        self.painted(Paint::Yellow, &question)
    }

    fn answered(&mut self, approval: &Approval, decision: Decision) -> io::Result<()> {
        if self.doing == Doing::Asking {
            // The person's Enter ended the question's line.
            self.line_open = false;
            self.doing = Doing::Working;
        }
        let word = match decision {
            Decision::Accept => "accepted",
            Decision::Decline => "declined",
        };
        self.line_start()?;
        self.painted(Paint::Yellow, &format!("{word}: {}\n", approval.what()))
    }

    fn tick(&mut self) -> io::Result<()> {
        if self.styling == Styling::Plain || self.line_open || self.doing == Doing::Asking {
            return Ok(());
        }
        self.frame += 1;
        let doing = match &self.doing {
            Doing::Working => "working".to_owned(),
            Doing::Running(command) => format!("running {}", short(command)),
            Doing::Asking => "waiting for your answer".to_owned(),
            Doing::Interrupting => "interrupting (Ctrl-C again to stop waiting)".to_owned(),
        };
        let line = style::status_line(self.frame, &doing, self.started.elapsed());
        self.out.write_all(line.as_bytes())?;
        self.status_shown = true;
        self.out.flush()
    }

    fn interrupting(&mut self, turn: &str) -> io::Result<()> {
        self.doing = Doing::Interrupting;
        self.line_start_for_stderr()?;
        let mut stderr = io::stderr().lock();
        writeln!(
            stderr,
            "interrupting turn {turn}; waiting for its processes to end (Ctrl-C again to stop waiting)"
        )
    }

    fn leaving(&mut self) -> io::Result<()> {
        self.line_start_for_stderr()?;
        let mut stderr = io::stderr().lock();
        writeln!(
            stderr,
            "leaving; the turn is stopped because its client went away (`agent-host ps` shows it)"
        )
    }

    fn ended(&mut self, turn: &Turn) -> io::Result<()> {
        self.line_start()?;
        let paint = match turn.status {
            TurnStatus::Completed => Paint::Green,
            TurnStatus::Failed | TurnStatus::InProgress => Paint::Red,
            TurnStatus::Interrupted => Paint::Yellow,
        };
        let summary = self.summary(turn);
        self.painted(paint, &format!("{summary}\n"))?;
        if let Some(hint) = self.missing_program_hint(turn) {
            self.painted(Paint::Yellow, &hint)?;
        }
        let hint = format!(
            "continue with: agent-host run --continue {} \"PROMPT\"\n",
            self.thread
        );
        self.painted(Paint::Dim, &hint)
    }
}

/// The most characters of a command the status line shows: it must fit on one line of the
/// terminal, or clearing it would leave the rest behind.
const STATUS_COMMAND_CHARS: usize = 40;

/// A command's first line, cut to [`STATUS_COMMAND_CHARS`].
fn short(command: &str) -> String {
    let line = command.lines().next().unwrap_or("");
    let mut chars = line.chars();
    let kept: String = chars.by_ref().take(STATUS_COMMAND_CHARS).collect();
    if chars.next().is_some() || command.lines().nth(1).is_some() {
        format!("{kept}…")
    } else {
        kept
    }
}

/// `text` with each line indented, cut after `limit` lines with a line saying how many more.
pub fn fold(text: &str, limit: usize, indent: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut folded: String = lines
        .iter()
        .take(limit)
        .map(|line| format!("{indent}{line}\n"))
        .collect();
    if lines.len() > limit {
        folded.push_str(&format!("{indent}… {} more lines\n", lines.len() - limit));
    }
    folded
}

/// The JSON view: every message the server sends, one per line, exactly as it came; the
/// messages of the command itself (Ctrl-C, approvals decided) go to stderr.
pub struct Json<W: Write> {
    pub out: W,
}

impl<W: Write> View for Json<W> {
    fn raw(&mut self, raw: &Value) -> io::Result<()> {
        writeln!(self.out, "{raw}")?;
        self.out.flush()
    }

    fn notification(&mut self, _notification: ServerNotification) -> io::Result<()> {
        Ok(())
    }

    fn asking(&mut self, approval: &Approval) -> io::Result<()> {
        let mut stderr = io::stderr().lock();
        write!(stderr, "Allow the agent to {}? [y/N] ", approval.what())
    }

    fn answered(&mut self, approval: &Approval, decision: Decision) -> io::Result<()> {
        let word = match decision {
            Decision::Accept => "accepted",
            Decision::Decline => "declined",
        };
        writeln!(io::stderr().lock(), "{word}: {}", approval.what())
    }

    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn interrupting(&mut self, turn: &str) -> io::Result<()> {
        writeln!(
            io::stderr().lock(),
            "interrupting turn {turn} (Ctrl-C again to stop waiting)"
        )
    }

    fn leaving(&mut self) -> io::Result<()> {
        writeln!(
            io::stderr().lock(),
            "leaving; the turn is stopped because its client went away"
        )
    }

    fn ended(&mut self, _turn: &Turn) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
