//! `fake-agent`: a scriptable stand-in for an agent CLI, used by the tests as a `jsonl`
//! backend (it prints the codex `exec --json` event stream).
//!
//! Usage:
//! - `fake-agent --script FILE [PROMPT]`: run the steps in FILE.
//! - `fake-agent script:NAME`: the prompt names the script `NAME` (or `NAME.txt`) in
//!   `$FAKE_AGENT_SCRIPT_DIR`, else in this repository's `fixtures/agent-scripts/`. Only
//!   the prompt's first line names it (more lines may follow, such as `[image: PATH]`).
//! - `fake-agent --resume SESSION …`: either of the above, resuming the backend session
//!   SESSION (the `echo-session` step reports it).
//! - `fake-agent --launch-runner TURN_DIR --agent-host EXE --mode foreground|background`:
//!   a stand-in server: launches the turn's runner (holding the lifeline in foreground mode),
//!   prints `ready RUNNER_PID`, then waits forever so that a test can SIGKILL it. With
//!   `--reap-orphans` it is also the child subreaper of the runner's tree and reaps every
//!   orphan at once (so a test can see a dead backend's pid freed).
//!
//! A script has one step per line; blank lines and lines starting with `#` are skipped:
//!
//! | step | effect |
//! |---|---|
//! | `start [SESSION]` | print `thread.started` (thread id SESSION, default `fake-session`) and `turn.started` |
//! | `message TEXT` | print `item.completed` of an `agent_message` |
//! | `command CMD` | print `item.started` and `item.completed` of a `command_execution` |
//! | `approve-command CMD` | print `item.started` of a `command_execution`, then `approval.requested`; read one `approval.response` line from stdin; print `item.completed` with status `completed` (exit code 0, output `ok\n`) if the decision accepts, else `declined` |
//! | `approve-file PATH` | the same for a `file_change` adding PATH |
//! | `complete` | print `turn.completed` with usage |
//! | `fail TEXT` | print a top-level `error` and `turn.failed` |
//! | `line TEXT` | print TEXT and a newline, as is (any event, or junk) |
//! | `partial TEXT` | print TEXT without a newline |
//! | `stderr TEXT` | print TEXT and a newline on stderr (`\e` in TEXT is an escape character) |
//! | `flood N` | print N `agent_message` items |
//! | `stamp N [EVERY_US]` | print N `agent_message` items with text `stamp I NANOS` (`NANOS`: `CLOCK_MONOTONIC` just before the write), one every EVERY_US microseconds (default 0: as fast as possible) |
//! | `read-stdin` | read stdin to EOF and print it as an `agent_message` |
//! | `echo-prompt` | print the prompt argument as an `agent_message` |
//! | `echo-env NAME` | print the value of the environment variable NAME (or `unset NAME`) as an `agent_message` |
//! | `echo-session` | print `resumed SESSION` (after `--resume SESSION`) or `fresh` as an `agent_message` |
//! | `sleep MS` | sleep |
//! | `wait-file FILE` | wait until FILE (relative to this script's directory) exists; exit 3 after 20 s |
//! | `pid` | append `PID STARTTIME` to the file named by `$FAKE_AGENT_PIDS` |
//! | `child FILE` | start `fake-agent --script FILE` (relative to this script's directory) in the background, sharing stdio |
//! | `setsid` | become a session leader |
//! | `ignore SIG` | ignore `TERM`, `INT` or `HUP` |
//! | `close-stdout` | point stdout at `/dev/null` (the pipe closes) and keep running |
//! | `exit CODE` | exit with CODE |
//! | `kill-self SIG` | send itself `TERM`, `INT`, `KILL` or `HUP` |
//!
//! The end of the script exits 0. A double fork is a `child` whose script starts its own
//! `child` and exits.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use agent_host::events::Mode;
use agent_host::process::{self, EnvPolicy, SessionPolicy, SpawnSpec, identity};
use agent_host::runner::launch::{LaunchOptions, Lifeline, launch_with};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let resumed = match args.first().map(String::as_str) {
        Some("--resume") if args.len() >= 2 => {
            let session = args.remove(1);
            args.remove(0);
            Some(session)
        }
        _ => None,
    };
    let result = match args.first().map(String::as_str) {
        Some("--launch-runner") => launch_runner(&args[1..]),
        Some("--script") => match args.get(1) {
            Some(file) => run_script(
                Path::new(file),
                args.get(2).map(String::as_str).unwrap_or(""),
                resumed,
            ),
            None => Err("--script needs a FILE".to_owned()),
        },
        Some(prompt) => match prompt.strip_prefix("script:") {
            // The first line names the script; the rest is the prompt's other input.
            Some(name) => run_script(
                &script_by_name(name.lines().next().unwrap_or_default().trim()),
                prompt,
                resumed,
            ),
            None => Err(format!("no script in the prompt {prompt:?}")),
        },
        None => Err("usage: fake-agent --script FILE [PROMPT] | fake-agent script:NAME".to_owned()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            let _ = writeln!(io::stderr(), "fake-agent: {message}");
            ExitCode::from(2)
        }
    }
}

fn script_by_name(name: &str) -> PathBuf {
    let dir = std::env::var_os("FAKE_AGENT_SCRIPT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/agent-scripts"));
    let plain = dir.join(name);
    if plain.exists() {
        plain
    } else {
        dir.join(format!("{name}.txt"))
    }
}

/// The script interpreter's state.
struct Agent {
    dir: PathBuf,
    prompt: String,
    /// The session given with `--resume`.
    resumed: Option<String>,
    next_item: u32,
}

fn run_script(file: &Path, prompt: &str, resumed: Option<String>) -> Result<u8, String> {
    let text = std::fs::read_to_string(file).map_err(|err| format!("{}: {err}", file.display()))?;
    let mut agent = Agent {
        dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        prompt: prompt.to_owned(),
        resumed,
        next_item: 0,
    };
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (step, rest) = line.split_once(' ').unwrap_or((line, ""));
        if let Some(code) = agent
            .step(step, rest.trim())
            .map_err(|err| format!("{}:{}: {err}", file.display(), number + 1))?
        {
            return Ok(code);
        }
    }
    Ok(0)
}

impl Agent {
    /// Runs one step; `Some(code)` ends the script.
    fn step(&mut self, step: &str, rest: &str) -> Result<Option<u8>, String> {
        match step {
            "start" => start(rest),
            "message" => self.message(rest),
            "command" => self.command(rest),
            "approve-command" => self.approve_command(rest)?,
            "approve-file" => self.approve_file(rest)?,
            "complete" => emit(
                r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}"#,
            ),
            "fail" => fail(rest),
            "line" => emit(rest),
            "stderr" => {
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "{}", rest.replace("\\e", "\u{1b}"));
            }
            "partial" => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(rest.as_bytes());
                let _ = out.flush();
            }
            "flood" => self.flood(rest)?,
            "stamp" => self.stamp(rest)?,
            "read-stdin" => self.read_stdin()?,
            "echo-prompt" => {
                let prompt = self.prompt.clone();
                self.message(&prompt);
            }
            "echo-env" => self.echo_env(rest),
            "echo-session" => self.echo_session(),
            "sleep" => {
                let ms: u64 = rest.parse().map_err(|_| format!("bad duration {rest:?}"))?;
                std::thread::sleep(Duration::from_millis(ms));
            }
            "pid" => write_pid()?,
            "wait-file" => return Ok(self.wait_file(rest)),
            "child" => self.child(rest)?,
            "setsid" => {
                rustix::process::setsid().map_err(|err| format!("setsid: {err}"))?;
            }
            "ignore" => ignore_signal(rest)?,
            "close-stdout" => close_stdout()?,
            "exit" => {
                let code: u8 = rest
                    .parse()
                    .map_err(|_| format!("bad exit code {rest:?}"))?;
                return Ok(Some(code));
            }
            "kill-self" => kill_self(rest)?,
            other => return Err(format!("unknown step {other:?}")),
        }
        Ok(None)
    }

    /// `command CMD`: a command that runs and prints `ok`.
    fn command(&mut self, command: &str) {
        let id = self.item_id();
        let mut item = command_item(&id, command);
        emit(&serde_json::json!({"type": "item.started", "item": item}).to_string());
        complete_command(&mut item);
        emit(&serde_json::json!({"type": "item.completed", "item": item}).to_string());
    }

    /// `approve-command CMD`: a command that runs, as `command`, only if the answer accepts.
    fn approve_command(&mut self, command: &str) -> Result<(), String> {
        let id = self.item_id();
        let mut item = command_item(&id, command);
        emit(&serde_json::json!({"type": "item.started", "item": item}).to_string());
        let cwd = std::env::current_dir().map_err(|err| err.to_string())?;
        let accepted = ask(
            serde_json::json!({"kind": "command_execution", "item_id": id,
            "command": command, "cwd": cwd.display().to_string(), "reason": null}),
        )?;
        if accepted {
            complete_command(&mut item);
        } else {
            item["status"] = "declined".into();
        }
        emit(&serde_json::json!({"type": "item.completed", "item": item}).to_string());
        Ok(())
    }

    /// `approve-file PATH`: a file change adding PATH, completed only if the answer accepts.
    fn approve_file(&mut self, path: &str) -> Result<(), String> {
        let id = self.item_id();
        let mut item = serde_json::json!({"id": id, "type": "file_change",
            "changes": [{"path": path, "kind": "add", "diff": ""}], "status": "in_progress"});
        emit(&serde_json::json!({"type": "item.started", "item": item}).to_string());
        let accepted = ask(serde_json::json!({"kind": "file_change", "item_id": id,
            "reason": null}))?;
        item["status"] = if accepted { "completed" } else { "declined" }.into();
        emit(&serde_json::json!({"type": "item.completed", "item": item}).to_string());
        Ok(())
    }

    /// `flood N`: N messages as fast as they can be written.
    fn flood(&mut self, count: &str) -> Result<(), String> {
        let count: u32 = count.parse().map_err(|_| format!("bad count {count:?}"))?;
        for n in 0..count {
            self.message(&format!("flood line {n}"));
        }
        Ok(())
    }

    /// `read-stdin`: all of stdin as one message.
    fn read_stdin(&mut self) -> Result<(), String> {
        let mut input = String::new();
        io::stdin()
            .read_to_string(&mut input)
            .map_err(|err| err.to_string())?;
        self.message(input.trim_end());
        Ok(())
    }

    /// `echo-env NAME`: the variable's value, or `unset NAME`, as a message.
    fn echo_env(&mut self, name: &str) {
        let text = match std::env::var(name) {
            Ok(value) => value,
            Err(_) => format!("unset {name}"),
        };
        self.message(&text);
    }

    /// `echo-session`: `resumed SESSION` or `fresh` as a message.
    fn echo_session(&mut self) {
        let text = match &self.resumed {
            Some(session) => format!("resumed {session}"),
            None => "fresh".to_owned(),
        };
        self.message(&text);
    }

    /// `wait-file FILE`: waits for FILE; `Some(3)` ends the script when it does not appear.
    fn wait_file(&self, file: &str) -> Option<u8> {
        let path = self.dir.join(file);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !path.exists() {
            if std::time::Instant::now() >= deadline {
                eprintln!("fake-agent: {} did not appear", path.display());
                return Some(3);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        None
    }

    /// `child FILE`: another fake agent running FILE in the background, sharing stdio.
    fn child(&self, file: &str) -> Result<(), String> {
        let script = self.dir.join(file);
        let exe = std::env::current_exe().map_err(|err| err.to_string())?;
        let cwd = std::env::current_dir().map_err(|err| err.to_string())?;
        let args = ["--script".into(), script.into_os_string()];
        process::spawn(SpawnSpec {
            program: &exe,
            args: &args,
            cwd: &cwd,
            env: EnvPolicy::Inherit {
                set: Vec::new(),
                remove: Vec::new(),
            },
            stdin: Stdio::null(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
            session: SessionPolicy::Inherit,
            inherit_fds: &[],
        })
        .map_err(|err| format!("cannot start a child: {err}"))?;
        Ok(())
    }

    fn item_id(&mut self) -> String {
        let id = format!("item_{}", self.next_item);
        self.next_item += 1;
        id
    }

    /// `stamp N [EVERY_US]`: timestamped messages on a fixed schedule (message `i` is due at
    /// `start + i * EVERY_US`; a late one goes out at once, so the rate does not drift).
    fn stamp(&mut self, rest: &str) -> Result<(), String> {
        let mut words = rest.split_whitespace();
        let count: u64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("bad count {rest:?}"))?;
        let every_us: u64 = match words.next() {
            Some(word) => word.parse().map_err(|_| format!("bad interval {word:?}"))?,
            None => 0,
        };
        let start = std::time::Instant::now();
        for n in 0..count {
            if every_us > 0 {
                let due = start + Duration::from_micros(n * every_us);
                let now = std::time::Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let text = format!("stamp {n} {}", monotonic_ns());
            self.message(&text);
        }
        Ok(())
    }

    fn message(&mut self, text: &str) {
        let id = self.item_id();
        emit(
            &serde_json::json!({"type": "item.completed", "item": {"id": id, "type": "agent_message", "text": text}})
                .to_string(),
        );
    }
}

/// `start [SESSION]`: the backend session and the turn start.
fn start(session: &str) {
    let session = if session.is_empty() {
        "fake-session"
    } else {
        session
    };
    emit(&serde_json::json!({"type": "thread.started", "thread_id": session}).to_string());
    emit(r#"{"type":"turn.started"}"#);
}

/// `fail TEXT`: a top-level error, then the failed turn.
fn fail(message: &str) {
    emit(&serde_json::json!({"type": "error", "message": message}).to_string());
    emit(&serde_json::json!({"type": "turn.failed", "error": {"message": message}}).to_string());
}

/// A `command_execution` item in progress.
fn command_item(id: &str, command: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "type": "command_execution", "command": command,
        "aggregated_output": "", "exit_code": null, "status": "in_progress"})
}

/// A command item completed: it printed `ok` and exited 0.
fn complete_command(item: &mut serde_json::Value) {
    item["aggregated_output"] = "ok\n".into();
    item["exit_code"] = 0.into();
    item["status"] = "completed".into();
}

/// `ignore SIG`.
fn ignore_signal(name: &str) -> Result<(), String> {
    let signal = signal_number(name)?;
    // SAFETY: installing SIG_IGN has no handler code to be unsafe about.
    unsafe {
        libc::signal(signal, libc::SIG_IGN);
    }
    Ok(())
}

/// `close-stdout`: stdout points at `/dev/null` from now on.
fn close_stdout() -> Result<(), String> {
    let null = OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|err| err.to_string())?;
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto descriptor 1 with a descriptor we own; no memory involved.
    if unsafe { libc::dup2(null.as_raw_fd(), 1) } < 0 {
        return Err(io::Error::last_os_error().to_string());
    }
    Ok(())
}

/// `kill-self SIG`; the signal may be ignored, and then the script carries on.
fn kill_self(name: &str) -> Result<(), String> {
    let signal = rustix::process::Signal::from_named_raw(signal_number(name)?)
        .ok_or_else(|| format!("bad signal {name:?}"))?;
    rustix::process::kill_process(rustix::process::getpid(), signal).map_err(|err| err.to_string())
}

/// Prints `approval.requested` (with `request` merged in) and reads the answer from stdin;
/// true if the decision accepts. End of input is a decline.
fn ask(mut request: serde_json::Value) -> Result<bool, String> {
    let id = format!(
        "approval-{}",
        request["item_id"].as_str().unwrap_or_default()
    );
    request["type"] = "approval.requested".into();
    request["id"] = id.clone().into();
    emit(&request.to_string());
    let mut line = String::new();
    io::stdin()
        .read_line(&mut line)
        .map_err(|err| format!("reading the approval answer: {err}"))?;
    if line.trim().is_empty() {
        return Ok(false);
    }
    let answer: serde_json::Value =
        serde_json::from_str(line.trim()).map_err(|err| format!("bad answer {line:?}: {err}"))?;
    if answer["type"] != "approval.response" || answer["id"] != id.as_str() {
        return Err(format!("unexpected answer {line:?} to {id}"));
    }
    Ok(match &answer["decision"] {
        serde_json::Value::String(decision) => {
            decision == "accept" || decision == "acceptForSession"
        }
        serde_json::Value::Object(decision) => decision.keys().any(|key| key.starts_with("accept")),
        _ => false,
    })
}

fn emit(line: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the machine (unlike
/// `Instant`, whose value cannot leave the process), and never stepped by NTP.
fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec that we own; CLOCK_MONOTONIC always exists.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn signal_number(name: &str) -> Result<i32, String> {
    match name.trim_start_matches("SIG") {
        "TERM" => Ok(libc::SIGTERM),
        "INT" => Ok(libc::SIGINT),
        "HUP" => Ok(libc::SIGHUP),
        "KILL" => Ok(libc::SIGKILL),
        other => Err(format!("unknown signal {other:?}")),
    }
}

fn write_pid() -> Result<(), String> {
    let Some(path) = std::env::var_os("FAKE_AGENT_PIDS") else {
        return Ok(());
    };
    let me = identity::current().map_err(|err| err.to_string())?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| err.to_string())?;
    // One write per line, so that concurrent writers do not interleave.
    file.write_all(format!("{} {}\n", me.pid, me.start_time).as_bytes())
        .map_err(|err| err.to_string())
}

fn launch_runner(args: &[String]) -> Result<u8, String> {
    let mut turn_dir = None;
    let mut exe = None;
    let mut mode = Mode::Background;
    let mut reap_orphans = false;
    let mut iter = args.iter();
    let mut first = true;
    while let Some(arg) = iter.next() {
        if first {
            turn_dir = Some(PathBuf::from(arg));
            first = false;
            continue;
        }
        match arg.as_str() {
            "--agent-host" => exe = iter.next().map(PathBuf::from),
            "--reap-orphans" => reap_orphans = true,
            "--mode" => {
                mode = match iter.next().map(String::as_str) {
                    Some("foreground") => Mode::Foreground,
                    Some("background") => Mode::Background,
                    other => return Err(format!("bad mode {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let turn_dir = turn_dir.ok_or("--launch-runner needs TURN_DIR")?;
    let options = LaunchOptions {
        exe: exe.ok_or("--launch-runner needs --agent-host EXE")?,
        ready_timeout: Duration::from_secs(10),
    };
    if reap_orphans {
        rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
            .map_err(|err| format!("cannot become the child subreaper: {err}"))?;
        std::thread::spawn(|| {
            loop {
                // Every child and adopted orphan; a test tool, not the supervisor.
                if rustix::process::wait(rustix::process::WaitOptions::empty()).is_err() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
    }
    let lifeline = Lifeline::new().map_err(|err| err.to_string())?;
    // As a server passes the provider's env: the values of the names the spec lists, here
    // from this process's own environment.
    let spec = agent_host::spec::read(&turn_dir).map_err(|err| err.to_string())?;
    let env: std::collections::BTreeMap<String, String> = spec
        .provider
        .env
        .iter()
        .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
        .collect();
    let launched = launch_with(&options, &turn_dir, mode, Some(&lifeline), &env)
        .map_err(|err| err.to_string())?;
    emit(&format!("ready {}", launched.runner.pid));
    // Hold the lifeline until killed.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
