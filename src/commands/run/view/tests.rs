//! The text view fed notifications by hand: what a turn looks like, plain and on a terminal.

use serde_json::json;

use super::*;
use crate::protocol::ServerNotification;

fn notification(method: &str, params: serde_json::Value) -> ServerNotification {
    serde_json::from_value(json!({"method": method, "params": params})).unwrap()
}

fn item(kind: serde_json::Value) -> serde_json::Value {
    let mut item = kind;
    item["startedAtMs"] = json!(null);
    item["completedAtMs"] = json!(null);
    item
}

fn command(status: &str, output: Option<&str>, exit: Option<i32>) -> serde_json::Value {
    item(
        json!({"type": "commandExecution", "id": "c", "command": "ls", "cwd": "/w",
        "processId": null, "source": "agent", "status": status, "commandActions": [],
        "aggregatedOutput": output, "exitCode": exit, "durationMs": null}),
    )
}

fn turn(status: &str) -> Turn {
    serde_json::from_value(json!({"id": "U", "rootTurnId": null, "items": [],
        "itemsView": "notLoaded", "status": status, "error": null, "startedAtMs": null,
        "startedAt": null, "completedAt": null, "durationMs": 1500}))
    .unwrap()
}

/// Shows one turn: a streamed message, a command with nine lines of output, a file change,
/// a usage report, the end.
fn show(styling: Styling) -> String {
    let mut view = Text::new(Vec::new(), styling, "T", "U");
    let ids = json!({"threadId": "T", "turnId": "U"});
    let with = |mut params: serde_json::Value| {
        params["threadId"] = ids["threadId"].clone();
        params["turnId"] = ids["turnId"].clone();
        params
    };
    let output: String = (1..=9).map(|n| format!("file{n}\n")).collect();
    let diff = "@@ -0,0 +1 @@\n+new line\n";
    let steps = [
        notification(
            "item/agentMessage/delta",
            with(json!({"itemId": "m", "delta": "Hel"})),
        ),
        notification(
            "item/agentMessage/delta",
            with(json!({"itemId": "m", "delta": "lo."})),
        ),
        notification(
            "item/completed",
            with(json!({"item": item(json!({"type": "agentMessage",
            "id": "m", "text": "Hello.", "phase": null})), "completedAtMs": 1})),
        ),
        notification(
            "item/started",
            with(json!({"item": command("inProgress", None, None), "startedAtMs": 1})),
        ),
        notification(
            "item/completed",
            with(json!({"item": command("completed", Some(&output), Some(0)), "completedAtMs": 1})),
        ),
        notification(
            "item/completed",
            with(json!({"item": item(json!({"type": "fileChange",
            "id": "f", "status": "completed",
            "changes": [{"path": "a.md", "kind": {"type": "add"}, "diff": diff}]})), "completedAtMs": 1})),
        ),
        notification(
            "thread/tokenUsage/updated",
            with(json!({"tokenUsage": {
            "total": {"totalTokens": 30, "inputTokens": 20, "cachedInputTokens": 0, "outputTokens": 10, "reasoningOutputTokens": 0},
            "last": {"totalTokens": 30, "inputTokens": 20, "cachedInputTokens": 0, "outputTokens": 10, "reasoningOutputTokens": 0},
            "modelContextWindow": null}})),
        ),
    ];
    for step in steps {
        view.notification(step).unwrap();
        view.tick().unwrap();
    }
    view.ended(&turn("completed")).unwrap();
    String::from_utf8(view.out).unwrap()
}

#[test]
fn plain_text_streams_folds_the_output_and_ends_with_the_summary() {
    let text = show(Styling::Plain);
    let output: String = (1..=8).map(|n| format!("  file{n}\n")).collect();
    assert_eq!(
        text,
        format!(
            "Hello.\n$ ls\n{output}  … 1 more lines\nadd a.md\n  @@ -0,0 +1 @@\n  +new line\n\
             completed · 1.5s · 30 tokens (20 in, 10 out) · thread T\n\
             continue with: agent-host run --continue T \"PROMPT\"\n"
        )
    );
}

#[test]
fn on_a_terminal_the_status_line_is_cleared_before_text_and_diffs_are_coloured() {
    let text = show(Styling::Terminal);
    assert!(text.contains(" running ls "), "{text:?}");
    assert!(text.contains(&format!("{CLEAR_LINE}\x1b[1m$ ls")) || text.contains("\x1b[1m$ ls"));
    assert!(text.contains("\x1b[32m  +new line\x1b[0m"), "{text:?}");
    // The status line is never drawn inside streamed text: not between "Hel" and "lo.".
    assert!(text.contains("Hello."), "{text:?}");
    assert!(text.ends_with("\x1b[0m\n"), "{text:?}");
}

#[test]
fn fold_counts_what_it_leaves_out() {
    assert_eq!(fold("a\nb\nc\n", 2, "> "), "> a\n> b\n> … 1 more lines\n");
    assert_eq!(fold("", 2, "> "), "");
}

#[test]
fn the_status_line_shows_a_short_command() {
    assert_eq!(short("ls"), "ls");
    assert_eq!(short("make\nmore"), "make…");
    assert_eq!(short(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
}

#[test]
fn ctrl_c_clears_the_status_line_before_its_line_on_stderr() {
    // The line about the interrupt goes to stderr, on the same terminal: stdout's status line
    // must be gone from the row first, or its text stays in front of that line.
    let mut view = Text::new(Vec::new(), Styling::Terminal, "T", "U");
    view.tick().unwrap();
    let drawn = view.out.len();
    assert!(String::from_utf8_lossy(&view.out).contains(" working "));
    view.interrupting("U").unwrap();
    assert_eq!(&view.out[drawn..], CLEAR_LINE.as_bytes());
    // Then the status line is drawn again, saying what happens now.
    view.tick().unwrap();
    let after = String::from_utf8_lossy(&view.out[drawn..]).into_owned();
    assert!(after.contains(" interrupting (Ctrl-C again"), "{after:?}");
    // Streamed text left open is ended first, so the stderr line starts a line of its own.
    let mut view = Text::new(Vec::new(), Styling::Terminal, "T", "U");
    let delta = notification(
        "item/agentMessage/delta",
        json!({"threadId": "T", "turnId": "U", "itemId": "m", "delta": "Hel"}),
    );
    view.notification(delta).unwrap();
    view.interrupting("U").unwrap();
    assert_eq!(String::from_utf8_lossy(&view.out), "Hel\n");
    view.leaving().unwrap();
    assert_eq!(String::from_utf8_lossy(&view.out), "Hel\n");
}
