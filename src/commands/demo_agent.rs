//! `agent-host demo-agent [-- PROMPT]` (hidden): the backend of the built-in `demo`
//! provider, a scripted agent compiled into the binary. It needs no install, no account and
//! no network: it prints the `jsonl` event stream (`docs/backend-jsonl.md`) of one short
//! turn, as any backend would, and the runner supervises it like any other (its records,
//! recovery, `kill`, the interrupt ladder: it dies of SIGINT and SIGTERM as a process does
//! by default).
//!
//! The turn: a line of reasoning; an answer streamed in several pieces (`item.updated`
//! with the text so far), whose first line says it is a demo; one harmless command, `ls` of
//! the working directory, really run, with its real output; a file change that is shown and
//! never written; a closing message; `turn.completed` with token counts that are the
//! lengths of the texts in words (there is no model to count them).

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::process::{EnvPolicy, capture};

/// The pause between two pieces of streamed text: long enough that the turn is seen
/// happening (and can be interrupted), short enough for a first try.
const PACE: Duration = Duration::from_millis(120);

/// The variable that sets another pause, in milliseconds (a provider's `env` can set it: a
/// slow demo, to watch the status line or to interrupt it).
pub const PACE_VARIABLE: &str = "AGENT_HOST_DEMO_PACE_MS";

/// The file the demo pretends to add.
pub const DEMO_FILE: &str = "agent-host-demo.md";

/// The first line of the demo's answer: it never passes for a real agent.
pub const DEMO_LABEL: &str =
    "[demo] This is agent-host's built-in demo backend: a scripted turn, no model.";

/// Runs the demo turn for `prompt`, printing its events on stdout.
pub fn run(prompt: &str) -> std::io::Result<()> {
    let cwd = std::env::current_dir()?;
    let pace = std::env::var(PACE_VARIABLE)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(PACE, Duration::from_millis);
    let mut out = Events { words: 0, pace };
    out.emit(
        &json!({"type": "thread.started", "thread_id": format!("demo-{}", uuid::Uuid::now_v7())}),
    )?;
    out.emit(&json!({"type": "turn.started"}))?;
    out.item(
        "item.completed",
        json!({"id": "r1", "type": "reasoning", "text": "A demo turn: answer, list the directory, propose a file."}),
    )?;
    let answer = format!(
        "{DEMO_LABEL}\nYou asked: {}\nI will list {} and propose a small file, without writing it.",
        first_line(prompt),
        cwd.display()
    );
    out.stream_message("m1", &answer)?;
    out.list_directory(&cwd)?;
    out.propose_file()?;
    out.stream_message(
        "m2",
        "That was the whole demo. Run a real agent with --provider codex, claude or gemini.",
    )?;
    let input = words(prompt);
    let output = out.words;
    out.emit(&json!({"type": "turn.completed", "usage": {"input_tokens": input, "output_tokens": output}}))
}

/// The event stream on stdout, with the words of the agent's text counted.
struct Events {
    words: usize,
    pace: Duration,
}

impl Events {
    fn emit(&mut self, event: &Value) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{event}")?;
        stdout.flush()
    }

    fn item(&mut self, kind: &str, item: Value) -> std::io::Result<()> {
        self.emit(&json!({"type": kind, "item": item}))
    }

    /// An agent message sent in pieces: started empty, updated with the text so far a few
    /// words at a time, completed whole.
    fn stream_message(&mut self, id: &str, text: &str) -> std::io::Result<()> {
        self.words += words(text);
        self.item(
            "item.started",
            json!({"id": id, "type": "agent_message", "text": ""}),
        )?;
        let mut shown = 0;
        for (at, _) in text.match_indices(' ').step_by(3) {
            std::thread::sleep(self.pace);
            shown = at;
            self.item(
                "item.updated",
                json!({"id": id, "type": "agent_message", "text": &text[..shown]}),
            )?;
        }
        if shown > 0 {
            std::thread::sleep(self.pace);
        }
        self.item(
            "item.completed",
            json!({"id": id, "type": "agent_message", "text": text}),
        )
    }

    /// `ls` of the working directory, run for real.
    fn list_directory(&mut self, cwd: &Path) -> std::io::Result<()> {
        let item = |status: &str, output: &str, exit: Option<i32>| {
            json!({"id": "c1", "type": "command_execution", "command": "ls",
                   "aggregated_output": output, "exit_code": exit, "status": status})
        };
        self.item("item.started", item("in_progress", "", None))?;
        let limits = capture::Limits {
            stdout_bytes: 64 * 1024,
            stderr_bytes: 16 * 1024,
            timeout: Duration::from_secs(10),
        };
        let env = EnvPolicy::Inherit {
            set: Vec::new(),
            remove: Vec::new(),
        };
        let no_args: [OsString; 0] = [];
        let (output, exit) = match capture::run(Path::new("ls"), &no_args, cwd, env, limits) {
            Ok(ran) => {
                let mut text = String::from_utf8_lossy(&ran.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&ran.stderr));
                (text, ran.status.code().unwrap_or(-1))
            }
            Err(err) => (format!("cannot run ls: {err}\n"), 127),
        };
        let status = if exit == 0 { "completed" } else { "failed" };
        std::thread::sleep(self.pace);
        self.item("item.completed", item(status, &output, Some(exit)))
    }

    /// A file change shown as a diff; nothing is written.
    fn propose_file(&mut self) -> std::io::Result<()> {
        let diff = "@@ -0,0 +1,3 @@\n+# agent-host demo\n+\n+This file was only proposed: the demo writes nothing.\n";
        let item = |status: &str| {
            json!({"id": "f1", "type": "file_change", "status": status,
                   "changes": [{"path": DEMO_FILE, "kind": "add", "diff": diff}]})
        };
        self.item("item.started", item("in_progress"))?;
        std::thread::sleep(self.pace);
        self.item("item.completed", item("completed"))
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}
