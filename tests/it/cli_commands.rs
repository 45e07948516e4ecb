//! The `codex`-style subcommands through the real binary: `resume` (a turn on a thread of the
//! fake agent, its output, exit codes and Ctrl-C; the history without a prompt), `unarchive`,
//! and the errors for bad ids. (`app-server generate-json-schema` and `generate-ts` are
//! checked against the committed files in `schema_drift.rs`.)

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitStatus;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::process::{Line, RecvError};
use crate::support::procs::{ProcState, proc_state};
use crate::support::{DEFAULT_TIMEOUT, ServerProcess};

/// What a finished command printed, and how it ended.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// `agent-host SUBCOMMAND --state-dir … --config … ARGS…` in the host's sandbox, not started.
fn command(host: &Host, subcommand: &str, args: &[&str]) -> ServerProcess {
    let mut argv: Vec<OsString> = vec![
        subcommand.into(),
        "--state-dir".into(),
        host.sandbox.state_dir().into(),
        "--config".into(),
        host.sandbox.root().join("turns.toml").into(),
    ];
    argv.extend(args.iter().map(OsString::from));
    let program = Path::new(env!("CARGO_BIN_EXE_agent-host"));
    let mut process = ServerProcess::spawn(&host.sandbox.spec(program, argv, &BTreeMap::new()));
    process.close_stdin();
    process
}

/// Reads the rest of the process's stdout and waits for it to exit.
fn finish(mut process: ServerProcess) -> Ran {
    let mut stdout = String::new();
    loop {
        match process.recv_line(TURN_TIMEOUT) {
            Ok(Line::Json(value)) => stdout.push_str(&format!("{value}\n")),
            Ok(Line::NotJson(text)) => stdout.push_str(&format!("{text}\n")),
            Err(RecvError::Eof) => break,
            Err(err) => panic!("the command's stdout: {err}; so far: {stdout}"),
        }
    }
    let status = process
        .wait_exit(TURN_TIMEOUT)
        .expect("the command exits once its stdout closed");
    let stderr = process
        .stderr_to_end(DEFAULT_TIMEOUT)
        .expect("stderr closes when the command exits");
    Ran {
        status,
        stdout,
        stderr,
    }
}

fn run(host: &Host, subcommand: &str, args: &[&str]) -> Ran {
    finish(command(host, subcommand, args))
}

const SCRIPTS: &[(&str, &str)] = &[
    (
        "answer",
        "start\nmessage I will look first.\ncommand echo hi\nmessage The answer is 42.\ncomplete\n",
    ),
    (
        "broken",
        "start\nmessage trying\nfail upstream 500\nexit 1\n",
    ),
    ("quick", "start\nmessage quick one\ncomplete\n"),
    ("hang", "pid\nstart\nmessage waiting\nsleep 600000\n"),
];

#[test]
fn resume_with_a_prompt_prints_the_messages_and_exits_by_how_the_turn_ended() {
    let host = Host::fake(SCRIPTS);
    let thread = host.thread_id.clone();

    let done = run(&host, "resume", &[&thread, "script:answer"]);
    assert_eq!(done.code(), Some(0), "{}", done.stderr);
    assert_eq!(done.stdout, "I will look first.\nThe answer is 42.\n");
    assert!(done.stderr.contains("$ echo hi\n"), "{}", done.stderr);
    assert!(
        done.stderr
            .lines()
            .any(|l| l.starts_with("turn ") && l.ends_with(" completed")),
        "{}",
        done.stderr
    );

    let failed = run(&host, "resume", &[&thread, "script:broken"]);
    assert_eq!(failed.code(), Some(1), "{}", failed.stderr);
    assert_eq!(failed.stdout, "trying\n");
    assert!(
        failed.stderr.contains(" failed: upstream 500"),
        "{}",
        failed.stderr
    );

    // Without a prompt: the summary and both turns, in order, and how to go on.
    let shown = run(&host, "resume", &[&thread]);
    assert_eq!(shown.code(), Some(0), "{}", shown.stderr);
    let text = &shown.stdout;
    assert!(text.starts_with(&format!("thread {thread}\n")), "{text}");
    assert!(
        text.contains("  provider  fake\n") && text.contains("  turns     2\n"),
        "{text}"
    );
    let order = [
        "── turn 1 · ",
        "· completed",
        "> script:answer\n",
        "I will look first.\n$ echo hi\nThe answer is 42.\n",
        "── turn 2 · ",
        "· failed",
        "> script:broken\ntrying\nerror: upstream 500\n",
        &format!("Continue it with: agent-host resume {thread} \"PROMPT\""),
    ];
    let mut at = 0;
    for part in order {
        let found = text[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} after {at} in:\n{text}"));
        at += found + part.len();
    }
}

#[test]
fn resume_json_prints_every_message_of_the_turn() {
    let host = Host::fake(SCRIPTS);
    let ran = run(
        &host,
        "resume",
        &["--json", &host.thread_id, "script:quick"],
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    let messages: Vec<Value> = ran
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let methods: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert_eq!(
        methods.len(),
        messages.len(),
        "notifications only: {messages:#?}"
    );
    assert_eq!(
        methods.first(),
        Some(&"thread/status/changed"),
        "{methods:?}"
    );
    assert!(methods.contains(&"turn/started") && methods.contains(&"item/agentMessage/delta"));
    let last = messages.last().expect("messages");
    assert_eq!(last["method"], "turn/completed");
    assert_eq!(last["params"]["turn"]["status"], "completed");
    assert_eq!(last["params"]["turn"]["items"][0]["text"], "quick one");
}

#[test]
fn ctrl_c_interrupts_the_turn_and_stops_its_processes() {
    let host = Host::fake(SCRIPTS);
    let thread = host.thread_id.clone();
    let mut process = command(&host, "resume", &[&thread, "script:hang"]);
    match process.recv_line(TURN_TIMEOUT) {
        Ok(Line::NotJson(text)) => assert_eq!(text, "waiting"),
        other => panic!(
            "expected the agent's first message, got {other:?}: {}",
            process.stderr()
        ),
    }
    let backend = host.recorded_pids();
    assert_eq!(
        backend.len(),
        1,
        "the backend recorded itself before its message"
    );
    process.signal(rustix::process::Signal::INT);
    let ran = finish(process);
    assert_eq!(ran.code(), Some(130), "{}", ran.stderr);
    assert!(ran.stderr.contains("interrupting turn "), "{}", ran.stderr);
    assert!(
        ran.stderr
            .lines()
            .any(|l| l.starts_with("turn ") && l.ends_with(" interrupted")),
        "{}",
        ran.stderr
    );
    // `turn/completed` comes after the runner swept the turn: nothing of it is left.
    let (pid, start) = backend[0];
    assert_eq!(
        proc_state(pid, start),
        ProcState::Gone,
        "the backend is gone"
    );
    let shown = run(&host, "resume", &[&thread]);
    assert!(shown.stdout.contains("· interrupted"), "{}", shown.stdout);
}

#[test]
fn unarchive_brings_an_archived_thread_back_and_resume_says_to_use_it() {
    let mut host = Host::fake(SCRIPTS);
    let thread = host.thread_id.clone();
    let archived = host.request("thread/archive", json!({"threadId": thread}));
    assert_eq!(archived["result"], json!({}), "{archived}");

    let refused = run(&host, "resume", &[&thread, "script:quick"]);
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr);
    assert_eq!(
        refused.stderr,
        format!(
            "agent-host: thread {thread} is archived; run `agent-host unarchive {thread}` to continue it\n"
        )
    );
    assert_eq!(refused.stdout, "");
    let shown = run(&host, "resume", &[&thread]);
    assert_eq!(shown.code(), Some(0), "{}", shown.stderr);
    assert!(
        shown.stdout.contains("  status    archived\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains(&format!("agent-host unarchive {thread}"))
    );

    let unarchived = run(&host, "unarchive", &[&thread]);
    assert_eq!(unarchived.code(), Some(0), "{}", unarchived.stderr);
    assert_eq!(unarchived.stdout, format!("unarchived thread {thread}\n"));
    let listed = host.request("thread/list", json!({}));
    assert!(listed["error"].is_null(), "{listed}");
    let again = run(&host, "unarchive", &[&thread]);
    assert_eq!(again.code(), Some(2));
    assert_eq!(
        again.stderr,
        format!("agent-host: no archived rollout found for thread id {thread}\n")
    );

    let resumed = run(&host, "resume", &[&thread, "script:quick"]);
    assert_eq!(resumed.code(), Some(0), "{}", resumed.stderr);
    assert_eq!(resumed.stdout, "quick one\n");
}

#[test]
fn bad_and_unknown_thread_ids_are_refused_with_the_servers_errors() {
    let host = Host::fake(SCRIPTS);
    let unknown = "01a20000-0000-7000-8000-000000000000";
    for (subcommand, args, message) in [
        ("resume", vec!["not-a-uuid", "hi"], "invalid thread id: "),
        ("resume", vec!["not-a-uuid"], "invalid thread id: "),
        ("unarchive", vec!["not-a-uuid"], "invalid thread id: "),
        (
            "resume",
            vec![unknown, "hi"],
            "no rollout found for thread id 01a20000-0000-7000-8000-000000000000",
        ),
        (
            "resume",
            vec![unknown],
            "no rollout found for thread id 01a20000-0000-7000-8000-000000000000",
        ),
        (
            "unarchive",
            vec![unknown],
            "no archived rollout found for thread id 01a20000-0000-7000-8000-000000000000",
        ),
    ] {
        let ran = run(&host, subcommand, &args);
        assert_eq!(ran.code(), Some(2), "{subcommand} {args:?}: {}", ran.stderr);
        assert!(
            ran.stderr.starts_with(&format!("agent-host: {message}")),
            "{subcommand} {args:?}: {}",
            ran.stderr
        );
        assert_eq!(ran.stdout, "", "{subcommand} {args:?}");
    }
}
