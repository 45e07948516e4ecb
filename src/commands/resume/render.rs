//! How `agent-host resume` shows a thread and the items of a turn, as text.

use crate::protocol::{
    CommandExecutionStatus, McpToolCallStatus, PatchApplyStatus, PatchChangeKind, Thread,
    ThreadItem, ThreadItemKind, ThreadStatus, Turn, TurnStatus, UserInput,
};
use crate::store::rfc3339_seconds;

/// Whether the thread shown is archived (it cannot take a turn until it is unarchived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Archive {
    Yes,
    No,
}

/// The summary of a thread, its history turn by turn, and how to go on.
pub(super) fn thread(thread: &Thread, archive: Archive) -> String {
    let mut text = format!("thread {}\n", thread.id);
    let mut field = |name: &str, value: &str| text.push_str(&format!("  {name:<9} {value}\n"));
    if let Some(name) = &thread.name {
        field("name", name);
    }
    field("provider", &thread.model_provider);
    if let Some(model) = &thread.model {
        field("model", model);
    }
    field("cwd", &thread.cwd);
    field("created", &rfc3339_seconds(thread.created_at));
    field("updated", &rfc3339_seconds(thread.updated_at));
    field("status", &status(thread, archive));
    field("turns", &thread.turns.len().to_string());
    for (number, turn) in thread.turns.iter().enumerate() {
        text.push('\n');
        text.push_str(&turn_history(number + 1, turn));
    }
    text.push('\n');
    text.push_str(&match archive {
        Archive::Yes => format!(
            "The thread is archived; bring it back with: agent-host unarchive {}\n",
            thread.id
        ),
        Archive::No => format!(
            "Continue it with: agent-host resume {} \"PROMPT\"\n",
            thread.id
        ),
    });
    text
}

fn status(thread: &Thread, archive: Archive) -> String {
    if archive == Archive::Yes {
        return "archived".to_owned();
    }
    let running = thread
        .turns
        .iter()
        .rev()
        .find(|turn| turn.status == TurnStatus::InProgress);
    match (&thread.status, running) {
        (_, Some(turn)) => format!(
            "running (turn {}; `agent-host kill {}` stops it)",
            turn.id, turn.id
        ),
        (ThreadStatus::Active { .. }, None) => "running".to_owned(),
        (ThreadStatus::SystemError, None) => "idle (the last turn failed)".to_owned(),
        (ThreadStatus::Idle | ThreadStatus::NotLoaded, None) => "idle".to_owned(),
    }
}

/// One turn: a header with its number, id and status, then its items.
fn turn_history(number: usize, turn: &Turn) -> String {
    let mut text = format!(
        "── turn {number} · {} · {}",
        turn.id,
        turn_status(turn.status)
    );
    if let Some(ms) = turn.duration_ms {
        text.push_str(&format!(" · {:.1} s", ms as f64 / 1000.0));
    }
    text.push('\n');
    for item in &turn.items {
        if let Some(line) = item_text(item) {
            text.push_str(&line);
            if !line.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    if let Some(error) = &turn.error {
        text.push_str(&format!("error: {}\n", error.message));
    }
    text
}

/// A turn's status as a word.
pub(super) fn turn_status(status: TurnStatus) -> &'static str {
    match status {
        TurnStatus::InProgress => "running",
        TurnStatus::Completed => "completed",
        TurnStatus::Interrupted => "interrupted",
        TurnStatus::Failed => "failed",
    }
}

/// An item of the history as text; `None` for the kinds not shown (reasoning, compaction).
fn item_text(item: &ThreadItem) -> Option<String> {
    match &item.kind {
        ThreadItemKind::UserMessage { content, .. } => Some(format!("> {}", user_text(content))),
        ThreadItemKind::AgentMessage { text, .. } => Some(text.clone()),
        ThreadItemKind::CommandExecution { .. } => command_line(item),
        ThreadItemKind::FileChange { .. } => file_changes(item),
        ThreadItemKind::McpToolCall {
            server,
            tool,
            status,
            ..
        } => {
            let status = match status {
                McpToolCallStatus::InProgress => "running",
                McpToolCallStatus::Completed => "completed",
                McpToolCallStatus::Failed => "failed",
            };
            Some(format!("tool {server}.{tool} ({status})"))
        }
        ThreadItemKind::Plan { text, .. } => Some(format!("plan: {text}")),
        ThreadItemKind::ImageView { path, .. } => Some(format!("viewed image {path}")),
        ThreadItemKind::EnteredReviewMode { review, .. } => Some(format!("review of {review}")),
        ThreadItemKind::ExitedReviewMode { review, .. } => Some(format!("review:\n{review}")),
        ThreadItemKind::Reasoning { .. } | ThreadItemKind::ContextCompaction { .. } => None,
    }
}

fn user_text(content: &[UserInput]) -> String {
    content
        .iter()
        .map(|input| match input {
            UserInput::Text { text, .. } => text.clone(),
            other => format!(
                "[{}]",
                serde_json::to_value(other).map_or_else(
                    |_| "input".to_owned(),
                    |value| value["type"].as_str().unwrap_or("input").to_owned(),
                )
            ),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `$ COMMAND`, with how it ended unless it succeeded.
pub(super) fn command_line(item: &ThreadItem) -> Option<String> {
    let ThreadItemKind::CommandExecution {
        command,
        status,
        exit_code,
        ..
    } = &item.kind
    else {
        return None;
    };
    let end = match (status, exit_code) {
        (CommandExecutionStatus::Declined, _) => " (declined)".to_owned(),
        (_, Some(code)) if *code != 0 => format!(" (exit {code})"),
        (CommandExecutionStatus::Failed, _) => " (failed)".to_owned(),
        (CommandExecutionStatus::InProgress, _) => " (running)".to_owned(),
        (CommandExecutionStatus::Completed, _) => String::new(),
    };
    Some(format!("$ {command}{end}"))
}

/// One line per changed file: `added PATH`, `deleted PATH`, `edited PATH`.
pub(super) fn file_changes(item: &ThreadItem) -> Option<String> {
    let ThreadItemKind::FileChange {
        changes, status, ..
    } = &item.kind
    else {
        return None;
    };
    let end = match status {
        PatchApplyStatus::Completed | PatchApplyStatus::InProgress => "",
        PatchApplyStatus::Declined => " (declined)",
        PatchApplyStatus::Failed => " (failed)",
    };
    let lines: Vec<String> = changes
        .iter()
        .map(|change| {
            let verb = match &change.kind {
                PatchChangeKind::Add => "added",
                PatchChangeKind::Delete => "deleted",
                PatchChangeKind::Update { .. } => "edited",
            };
            format!("{verb} {}{end}", change.path)
        })
        .collect();
    Some(lines.join("\n"))
}
