//! `agent-host run` through the real binary: the built-in `demo` provider end to end (its
//! streamed answer, the real `ls` of the working directory, the file change it shows and
//! never writes, the summary line), `--json` against Codex's schema, `--continue`, the prompt
//! from stdin, exit codes (a failed turn, bad usage), Ctrl-C, `--background`, approvals with
//! `--yes` and `--no`, a terminal (through `script`, a pseudo-terminal: the status line and
//! colours); and the demo provider as any provider: through `app-server`, and stopped by
//! `kill`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::ExitStatus;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT, with_method};
use crate::support::ops::agent_host;
use crate::support::process::{Line, RecvError};
use crate::support::procs::{ProcState, alive, assert_all_gone, proc_state, turn_processes};
use crate::support::schema::Conformance;
use crate::support::{DEFAULT_TIMEOUT, Sandbox, ServerProcess, wait_until};

/// The first line of the demo's answer (`src/commands/demo_agent.rs`).
pub(crate) const DEMO_LABEL: &str =
    "[demo] This is agent-host's built-in demo backend: a scripted turn, no model.";

/// What a finished `run` printed, and how it ended.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The thread id of the summary line (`… · thread ID`).
    fn thread(&self) -> String {
        let summary = self
            .stdout
            .lines()
            .find(|line| line.contains(" · thread "))
            .unwrap_or_else(|| panic!("no summary line in:\n{}", self.stdout));
        summary.rsplit(' ').next().unwrap().to_owned()
    }
}

/// `agent-host SUBCOMMAND --state-dir … --config CONFIG ARGS…` in the sandbox, with stdin open.
fn start(sandbox: &Sandbox, config: &Path, subcommand: &str, args: &[&str]) -> ServerProcess {
    let mut argv: Vec<OsString> = vec![
        subcommand.into(),
        "--state-dir".into(),
        sandbox.state_dir().into(),
        "--config".into(),
        config.into(),
    ];
    argv.extend(args.iter().map(OsString::from));
    let program = Path::new(env!("CARGO_BIN_EXE_agent-host"));
    ServerProcess::spawn(&sandbox.spec(program, argv, &BTreeMap::new()))
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

/// `agent-host run ARGS…` with stdin closed, to its end.
fn run(sandbox: &Sandbox, config: &Path, args: &[&str]) -> Ran {
    let mut process = start(sandbox, config, "run", args);
    process.close_stdin();
    finish(process)
}

/// Asserts that `parts` occur in `text` in this order.
fn assert_in_order(text: &str, parts: &[&str]) {
    let mut at = 0;
    for part in parts {
        let found = text[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} after byte {at} in:\n{text}"));
        at += found + part.len();
    }
}

#[test]
fn the_demo_turn_streams_its_answer_lists_the_directory_and_writes_nothing() {
    let sandbox = Sandbox::new();
    for name in ["alpha.txt", "beta.txt"] {
        std::fs::write(sandbox.work_dir().join(name), "x").unwrap();
    }
    let config = sandbox.default_config();
    let ran = run(
        &sandbox,
        &config,
        &["--provider", "demo", "what is in this directory?"],
    );
    assert_eq!(ran.code(), Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert_in_order(
        &ran.stdout,
        &[
            &format!("{DEMO_LABEL}\nYou asked: what is in this directory?\n"),
            "$ ls\n  alpha.txt\n  beta.txt\n",
            "add agent-host-demo.md\n",
            "  +# agent-host demo\n",
            "That was the whole demo.",
            "\ncompleted · ",
        ],
    );
    let thread = ran.thread();
    assert!(uuid::Uuid::parse_str(&thread).is_ok(), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains(&format!("agent-host run --continue {thread} \"PROMPT\"")),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains('\x1b'), "piped output is plain");
    assert!(
        !sandbox.work_dir().join("agent-host-demo.md").exists(),
        "the demo's file change is only shown"
    );

    // `--continue` with the prompt from stdin: the same thread, a second turn.
    let mut process = start(&sandbox, &config, "run", &["--continue", &thread, "-"]);
    process.send_line("and what else?");
    process.close_stdin();
    let again = finish(process);
    assert_eq!(again.code(), Some(0), "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("You asked: and what else?\n"),
        "{}",
        again.stdout
    );
    assert_eq!(again.thread(), thread);
    let mut shown = start(&sandbox, &config, "resume", &[&thread]);
    shown.close_stdin();
    let shown = finish(shown);
    assert!(
        shown.stdout.contains("  provider  demo\n") && shown.stdout.contains("  turns     2\n"),
        "{}",
        shown.stdout
    );
}

#[test]
fn json_prints_only_notifications_that_codex_schema_accepts_ending_with_turn_completed() {
    let sandbox = Sandbox::new();
    let config = sandbox.default_config();
    let ran = run(&sandbox, &config, &["--json", "--provider", "demo", "hi"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    let schemas = Conformance::load().unwrap_or_else(|err| panic!("{err}"));
    let messages: Vec<Value> = ran
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for message in &messages {
        for schema in schemas.schemas() {
            if let Err(violation) = schema.check_notification(message) {
                panic!("{}: {violation:?}: {message}", schema.label());
            }
        }
    }
    let last = messages.last().expect("messages");
    assert_eq!(last["method"], "turn/completed", "{last}");
    assert_eq!(last["params"]["turn"]["status"], "completed");
    // The answer streamed in several pieces.
    let deltas = with_method(&messages, "item/agentMessage/delta");
    let first_item = &deltas[0]["params"]["itemId"];
    let pieces = deltas
        .iter()
        .filter(|d| &d["params"]["itemId"] == first_item)
        .count();
    assert!(pieces > 3, "{deltas:#?}");
    let started = with_method(&messages, "item/started");
    assert!(
        started
            .iter()
            .any(|m| m["params"]["item"]["type"] == "commandExecution"),
        "{started:#?}"
    );
}

const SCRIPTS: &[(&str, &str)] = &[
    (
        "broken",
        "start\nmessage trying\nfail upstream 500\nexit 1\n",
    ),
    (
        "approve",
        "start\napprove-command make install\nmessage after the command\ncomplete\n",
    ),
    (
        "stubborn",
        "pid\nstart\nignore INT\nmessage waiting\nsleep 600000\n",
    ),
];

/// The fake agent's configuration (`Host::write_scripts`), with a provider `asking` whose
/// backend asks for approvals on its stdin.
fn fake_config(sandbox: &Sandbox) -> std::path::PathBuf {
    Host::write_scripts(sandbox, SCRIPTS);
    let config = sandbox.root().join("turns.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[providers.asking]\nkind = \"jsonl\"\ncommand = {:?}\nargs = [\"{{prompt}}\"]\napprovals = \"stdin\"\n\
         [providers.asking.env]\nFAKE_AGENT_SCRIPT_DIR = {:?}\n",
        env!("CARGO_BIN_EXE_fake-agent"),
        sandbox.root().join("scripts").display().to_string(),
    ));
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn a_failed_turn_exits_1_and_bad_usage_exits_2() {
    let sandbox = Sandbox::new();
    let config = fake_config(&sandbox);
    let failed = run(&sandbox, &config, &["--provider", "fake", "script:broken"]);
    assert_eq!(failed.code(), Some(1), "{}", failed.stderr);
    assert_in_order(&failed.stdout, &["trying\n", "failed: upstream 500 · "]);

    let unknown = "01a20000-0000-7000-8000-000000000000";
    for (args, message) in [
        (vec!["--provider", "nope", "hi"], "model provider `nope`"),
        (vec!["--continue", "not-a-uuid", "hi"], "invalid thread id"),
        (vec!["--continue", unknown, "hi"], "no rollout found"),
        (vec!["--provider", "demo"], "no prompt"),
        (vec!["--yes", "--no", "hi"], "cannot be used with"),
        (vec!["--cwd", "no-such-dir", "--provider", "demo", "hi"], ""),
    ] {
        let ran = run(&sandbox, &config, &args);
        assert_eq!(ran.code(), Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(message), "{args:?}: {}", ran.stderr);
        assert_eq!(ran.stdout, "", "{args:?}");
    }
}

#[test]
fn approvals_are_declined_with_no_and_accepted_with_yes() {
    let sandbox = Sandbox::new();
    let config = fake_config(&sandbox);
    let declined = run(
        &sandbox,
        &config,
        &["--no", "--provider", "asking", "script:approve"],
    );
    assert_eq!(declined.code(), Some(0), "{}", declined.stderr);
    assert_in_order(
        &declined.stdout,
        &[
            "$ make install\n",
            "declined: run `make install`\n",
            "  (declined)\n",
            "after the command\n",
        ],
    );
    let accepted = run(
        &sandbox,
        &config,
        &["--yes", "--provider", "asking", "script:approve"],
    );
    assert_eq!(accepted.code(), Some(0), "{}", accepted.stderr);
    assert_in_order(
        &accepted.stdout,
        &[
            "$ make install\n",
            "accepted: run `make install`\n",
            "  ok\n",
            "after the command\n",
        ],
    );
    assert!(
        !accepted.stdout.contains("(declined)"),
        "{}",
        accepted.stdout
    );
    // Without either and without a terminal to ask on: declined.
    let nobody = run(
        &sandbox,
        &config,
        &["--provider", "asking", "script:approve"],
    );
    assert!(
        nobody.stdout.contains("declined: run `make install`\n"),
        "{}",
        nobody.stdout
    );
}

/// A configuration where the demo waits `ms` between its steps (a turn to interrupt).
pub(crate) fn slow_demo(sandbox: &Sandbox, ms: u64) -> std::path::PathBuf {
    let config = sandbox.root().join("slow.toml");
    std::fs::write(
        &config,
        format!("[providers.demo.env]\nAGENT_HOST_DEMO_PACE_MS = \"{ms}\"\n"),
    )
    .unwrap();
    config
}

/// The one turn of the sandbox that has not ended: (thread, turn, runner, backend).
pub(crate) fn running_turn(sandbox: &Sandbox) -> (String, String, (i32, u64), (i32, u64)) {
    let listed = agent_host(&sandbox.state_dir(), &["turns"]);
    let turn: Value = serde_json::from_str(listed.stdout.trim())
        .unwrap_or_else(|err| panic!("{err}: {listed:?}"));
    let dir = Path::new(turn["dir"].as_str().unwrap());
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("process.json")).unwrap()).unwrap();
    let (runner, backend, _) = turn_processes(&record);
    let id = |key: &str| turn[key].as_str().unwrap().to_owned();
    (id("threadId"), id("turnId"), runner, backend)
}

#[test]
fn ctrl_c_interrupts_the_turn_waits_for_its_processes_and_exits_130() {
    let sandbox = Sandbox::new();
    let config = slow_demo(&sandbox, 600_000);
    let mut process = start(&sandbox, &config, "run", &["--provider", "demo", "hi"]);
    process.close_stdin();
    // The demo's reasoning comes at once, before its first pause.
    match process.recv_line(TURN_TIMEOUT) {
        Ok(Line::NotJson(text)) => assert!(text.starts_with("A demo turn"), "{text}"),
        other => panic!(
            "expected the demo's first line, got {other:?}: {}",
            process.stderr()
        ),
    }
    let (_, turn, runner, backend) = running_turn(&sandbox);
    process.signal(rustix::process::Signal::INT);
    let ran = finish(process);
    assert_eq!(ran.code(), Some(130), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "interrupting turn {turn}; waiting for its processes"
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.starts_with("interrupted · "), "{}", ran.stdout);
    // `turn/completed` comes after the runner swept the turn: its backend is gone already.
    assert_eq!(proc_state(backend.0, backend.1), ProcState::Gone);
    assert_all_gone(&[runner, backend], DEFAULT_TIMEOUT);
}

#[test]
fn background_returns_with_the_ids_and_the_turn_completes_on_its_own() {
    let sandbox = Sandbox::new();
    let config = sandbox.default_config();
    let ran = run(
        &sandbox,
        &config,
        &["--background", "--provider", "demo", "hi"],
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr);
    let first = ran.stdout.lines().next().unwrap_or_default();
    let words: Vec<&str> = first.split(' ').collect();
    assert!(
        first.starts_with("started turn ") && first.ends_with(" in the background"),
        "{}",
        ran.stdout
    );
    let turn = words[2];
    assert!(
        ran.stdout.contains(&format!("agent-host logs -f {turn}")),
        "{}",
        ran.stdout
    );
    // The command has ended; the turn goes on and completes (`logs -f` exits 0 for that).
    let followed = agent_host(&sandbox.state_dir(), &["logs", "-f", turn]);
    assert_eq!(followed.code, Some(0), "{followed:?}");
    assert!(followed.stdout.contains(DEMO_LABEL), "{followed:?}");
}

#[test]
fn the_demo_is_a_provider_like_any_other_through_app_server_and_kill() {
    let sandbox = Sandbox::new();
    let config = sandbox.default_config();
    let mut host = Host::start(sandbox, &config, "demo", json!({}));
    let (turn, messages) = host.completed_turn("hello");
    host.assert_conforms(&messages);
    let done = messages.last().unwrap();
    assert_eq!(done["params"]["turn"]["status"], "completed", "{done}");
    let commands: Vec<&Value> = with_method(&messages, "item/completed")
        .into_iter()
        .filter(|m| m["params"]["item"]["type"] == "commandExecution")
        .collect();
    assert_eq!(commands[0]["params"]["item"]["command"], "ls", "{turn}");
    assert_eq!(commands[0]["params"]["item"]["exitCode"], 0);

    let sandbox = Sandbox::new();
    let config = slow_demo(&sandbox, 600_000);
    let mut host = Host::start(sandbox, &config, "demo", json!({}));
    let turn = host.start_turn("hello");
    host.until_message("the demo's reasoning", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["type"] == "reasoning"
    });
    let record = host.process_record(&turn);
    let (runner, backend, _) = turn_processes(&record);
    let killed = agent_host(&host.sandbox.state_dir(), &["kill", &turn]);
    assert_eq!(killed.code, Some(0), "{killed:?}");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    assert_all_gone(&[runner, backend], DEFAULT_TIMEOUT);
}

#[test]
fn on_a_terminal_a_status_line_and_colours_show_and_no_color_turns_them_off() {
    let sandbox = Sandbox::new();
    let config = sandbox.default_config();
    let agent_host = env!("CARGO_BIN_EXE_agent-host");
    let command = |extra: &str| {
        format!(
            "{extra}{agent_host} run --state-dir {} --config {} --provider demo hi",
            sandbox.state_dir().display(),
            config.display()
        )
    };
    let in_terminal = |shell_command: String| {
        // `script` runs the command on a pseudo-terminal and copies what it wrote.
        let argv: Vec<OsString> = vec!["-qec".into(), shell_command.into(), "/dev/null".into()];
        let spec = sandbox.spec(Path::new("script"), argv, &BTreeMap::new());
        let mut process = ServerProcess::spawn(&spec);
        process.close_stdin();
        finish(process)
    };
    let styled = in_terminal(command(""));
    assert_eq!(styled.code(), Some(0), "{}", styled.stderr);
    assert!(styled.stdout.contains("\r\x1b[2K"), "{:?}", styled.stdout);
    assert!(
        styled.stdout.contains(" working \x1b[2m· "),
        "{:?}",
        styled.stdout
    );
    assert!(
        styled.stdout.contains("\x1b[32mcompleted · "),
        "{:?}",
        styled.stdout
    );
    assert!(styled.stdout.contains(DEMO_LABEL), "{:?}", styled.stdout);
    let plain = in_terminal(command("NO_COLOR=1 "));
    assert_eq!(plain.code(), Some(0), "{}", plain.stderr);
    assert!(!plain.stdout.contains('\x1b'), "{:?}", plain.stdout);
    assert!(plain.stdout.contains("completed · "), "{:?}", plain.stdout);
}

#[test]
fn a_provider_whose_program_is_missing_says_which_and_how_to_pick_another() {
    let sandbox = Sandbox::new();
    let config = sandbox.root().join("ghost.toml");
    std::fs::write(
        &config,
        "default_provider = \"ghost\"\n[providers.ghost]\nkind = \"jsonl\"\n\
         command = \"agent-host-test-no-such-agent\"\nargs = [\"{prompt}\"]\n",
    )
    .unwrap();
    let ran = run(&sandbox, &config, &["hi"]);
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr);
    assert_in_order(
        &ran.stdout,
        &[
            "failed: cannot start agent-host-test-no-such-agent: not found",
            "`command` of provider `ghost` names the program",
            "the built-in provider `demo` needs no install",
            "\nhint: ",
            "agent-host run --provider demo \"PROMPT\"",
            &format!("set default_provider in {}\n", config.display()),
        ],
    );
}

/// `script` runs `shell_command` on a pseudo-terminal (a real terminal to the command: its
/// line discipline turns a typed Ctrl-C into SIGINT) and copies what it wrote; stdin stays
/// open for typing.
fn on_a_terminal(sandbox: &Sandbox, shell_command: String) -> ServerProcess {
    let argv: Vec<OsString> = vec!["-qec".into(), shell_command.into(), "/dev/null".into()];
    let spec = sandbox.spec(Path::new("script"), argv, &BTreeMap::new());
    ServerProcess::spawn(&spec)
}

#[test]
fn ctrl_c_typed_on_a_terminal_interrupts_a_slow_turn() {
    let sandbox = Sandbox::new();
    let config = slow_demo(&sandbox, 600_000);
    let command = format!(
        "{} run --state-dir {} --config {} --provider demo hi",
        env!("CARGO_BIN_EXE_agent-host"),
        sandbox.state_dir().display(),
        config.display()
    );
    let mut terminal = on_a_terminal(&sandbox, command);
    let mut seen = String::new();
    while !seen.contains("A demo turn") {
        match terminal.recv_line(TURN_TIMEOUT) {
            Ok(line) => seen.push_str(&line.text()),
            Err(err) => panic!("{err}: {seen:?}"),
        }
    }
    let (_, _, runner, backend) = running_turn(&sandbox);
    terminal.send_bytes(b"\x03");
    let ran = finish(terminal);
    assert_eq!(ran.code(), Some(130), "{:?}", ran.stdout);
    assert!(ran.stdout.contains("interrupted · "), "{:?}", ran.stdout);
    assert_eq!(proc_state(backend.0, backend.1), ProcState::Gone);
    assert_all_gone(&[runner, backend], DEFAULT_TIMEOUT);
}

#[test]
fn app_server_on_a_terminal_says_what_it_is_and_points_at_run() {
    let sandbox = Sandbox::new();
    let command = format!(
        "{} app-server --state-dir {}",
        env!("CARGO_BIN_EXE_agent-host"),
        sandbox.state_dir().display()
    );
    let mut terminal = on_a_terminal(&sandbox, command);
    terminal.close_stdin();
    let ran = finish(terminal);
    assert!(
        ran.stdout
            .contains("speaks JSON-RPC (the Codex app-server protocol) on stdin and stdout"),
        "{:?}",
        ran.stdout
    );
    assert!(ran.stdout.contains("agent-host run --provider demo"));
    // Piped, as an editor starts it, it prints nothing of the kind.
    let mut piped = sandbox.spawn_agent_host();
    piped.close_stdin();
    piped
        .wait_exit(DEFAULT_TIMEOUT)
        .expect("the server ends with its input");
    let stderr = piped.stderr_to_end(DEFAULT_TIMEOUT).unwrap();
    assert!(!stderr.contains("speaks JSON-RPC"), "{stderr}");
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    for (shell, marker) in [
        ("bash", "_agent__host() {"),
        ("zsh", "#compdef agent-host"),
        ("fish", "complete -c agent-host"),
    ] {
        let printed = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
            .args(["completions", shell])
            .output()
            .unwrap();
        let text = String::from_utf8(printed.stdout).unwrap();
        assert!(printed.status.success(), "{shell}");
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("continue"),
            "{shell}: `run --continue` is completed"
        );
    }
    let man = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .arg("man")
        .output()
        .unwrap();
    let text = String::from_utf8(man.stdout).unwrap();
    assert!(man.status.success());
    assert!(text.contains("\n.TH agent-host 1 "), "{text}");
    assert!(
        text.contains("app\\-server") && text.contains("run"),
        "{text}"
    );
}

#[test]
fn a_second_ctrl_c_stops_waiting_for_a_turn_that_does_not_end() {
    let sandbox = Sandbox::new();
    let config = fake_config(&sandbox);
    // The backend ignores SIGINT, and the interrupt waits a minute before SIGTERM.
    let args = [
        "-c",
        "interrupt.cancel_grace_ms=60000",
        "--provider",
        "fake",
        "script:stubborn",
    ];
    let mut process = start(&sandbox, &config, "run", &args);
    process.close_stdin();
    match process.recv_line(TURN_TIMEOUT) {
        Ok(Line::NotJson(text)) => assert_eq!(text, "waiting"),
        other => panic!(
            "expected the agent's message, got {other:?}: {}",
            process.stderr()
        ),
    }
    let (_, _, runner, backend) = running_turn(&sandbox);
    process.signal(rustix::process::Signal::INT);
    wait_until(DEFAULT_TIMEOUT, "the first Ctrl-C taken", || {
        process
            .stderr()
            .contains("interrupting turn ")
            .then_some(())
    });
    process.signal(rustix::process::Signal::INT);
    let ran = finish(process);
    assert_eq!(ran.code(), Some(130), "{}", ran.stderr);
    assert!(ran.stderr.contains("leaving; "), "{}", ran.stderr);
    assert!(
        alive(backend.0, backend.1),
        "the command left without waiting for the backend"
    );
    // The test ends what it made: the backend (identity-checked), whose runner then ends
    // the turn.
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(backend.0).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    assert!(alive(backend.0, backend.1), "still the backend");
    rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL).unwrap();
    assert_all_gone(&[runner, backend], TURN_TIMEOUT);
}

#[test]
fn on_a_terminal_an_approval_is_asked_and_the_typed_answer_given() {
    let sandbox = Sandbox::new();
    let config = fake_config(&sandbox);
    let command = format!(
        "{} run --state-dir {} --config {} --provider asking script:approve",
        env!("CARGO_BIN_EXE_agent-host"),
        sandbox.state_dir().display(),
        config.display()
    );
    let mut terminal = on_a_terminal(&sandbox, command);
    let mut seen = String::new();
    while !seen.contains("$ make install") {
        match terminal.recv_line(TURN_TIMEOUT) {
            Ok(line) => seen.push_str(&line.text()),
            Err(err) => panic!("{err}: {seen:?}"),
        }
    }
    // Typed ahead: the terminal keeps the line until the question reads it.
    terminal.send_bytes(b"y\n");
    let ran = finish(terminal);
    assert_eq!(ran.code(), Some(0), "{:?}", ran.stdout);
    assert_in_order(
        &ran.stdout,
        &[
            "Allow the agent to run `make install`? [y/N] ",
            "accepted: run `make install`",
            "  ok",
            "after the command",
        ],
    );
}
