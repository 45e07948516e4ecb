//! `agent-host run` in a real terminal, used as a person uses it: tmux runs the command in a
//! window, the test reads the screen with `capture-pane` and types with `send-keys`. With the
//! built-in demo provider and with the fake agent: the status line shows while the backend
//! works, the text appears as it streams, the summary line is printed at the end; Ctrl-C typed
//! during a slow turn ends it as interrupted, with exit code 130 and no process of the turn
//! left.
//!
//! Each test has a tmux server of its own, on a socket in its sandbox (never the user's
//! default server), killed when the test ends, also when it fails.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::run_cmd::{DEMO_LABEL, running_turn, slow_demo};
use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::procs::{
    Proc, ProcState, alive, assert_all_gone, descendants, proc_state, read_proc, scan,
};
use crate::support::{DEFAULT_TIMEOUT, Describe, Sandbox, wait_until};

/// The window's size: wide enough that no line of a turn wraps.
const COLUMNS: &str = "200";
const ROWS: &str = "50";

/// The session (and so the window) the command runs in.
const SESSION: &str = "run";

/// The frames of the status line's spinner (`src/commands/run/style.rs`).
const SPINNER: &str = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";

/// What the pane's shell prints once `agent-host run` has exited: `EXITED <code>` on a line
/// of its own.
const EXITED: &str = "[agent-host exited with code";

/// The pane's command: a shell that runs `agent-host run …` (its arguments), then prints
/// its exit code (after [`EXITED`]) and waits on the terminal, so that the pane stays open and
/// the screen and the code are read from it. The code is read from the screen, never from
/// tmux's record of a dead pane (`pane_dead_status`), which tmux 3.3 sometimes never fills
/// in under load. The shell catches SIGINT (and so lets the command's exit be printed when
/// Ctrl-C reaches the whole foreground group); the command itself starts with SIGINT at its
/// default (a caught signal is reset on exec).
const PANE_SCRIPT: &str =
    r#"trap : INT; "$@"; code=$?; printf '\n%s %s]\n' "$0" "$code"; read -r _"#;

/// A tmux server of the test's own, listening on `<sandbox>/tmux.sock`, whose one window runs
/// `agent-host run`. Dropping it kills that server (by its socket, then by its pid if it is
/// still there) and the window's shell, also when the test panics.
struct Terminal {
    socket: PathBuf,
    /// The server's and the pane shell's (pid, start time), once known.
    server: Option<(i32, u64)>,
    pane: Option<(i32, u64)>,
}

impl Terminal {
    /// `agent-host run --state-dir … --config CONFIG ARGS…` in a new tmux server's window,
    /// in the sandbox's work dir with HOME and the XDG dirs inside the sandbox and no
    /// agent-host variables of the caller.
    fn run(sandbox: &Sandbox, config: &Path, args: &[&str]) -> Terminal {
        let socket = sandbox.root().join("tmux.sock");
        // No user configuration (HOME is the sandbox's, and `-f` names this file); no status
        // bar, so that the window is the whole terminal.
        let tmux_config = sandbox.root().join("tmux.conf");
        std::fs::write(
            &tmux_config,
            "set -g status off\nset -g history-limit 10000\n",
        )
        .unwrap();
        let mut argv: Vec<OsString> = vec![
            "-f".into(),
            tmux_config.into(),
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            SESSION.into(),
            "-x".into(),
            COLUMNS.into(),
            "-y".into(),
            ROWS.into(),
            // Given as several words, the command is run directly (no shell of tmux's).
            "/bin/sh".into(),
            "-c".into(),
            PANE_SCRIPT.into(),
            EXITED.into(),
            env!("CARGO_BIN_EXE_agent-host").into(),
            "run".into(),
            "--state-dir".into(),
            sandbox.state_dir().into(),
            "--config".into(),
            config.into(),
        ];
        argv.extend(args.iter().map(OsString::from));
        let mut terminal = Terminal {
            socket,
            server: None,
            pane: None,
        };
        // The server takes the environment of the command that starts it, and passes it on
        // to the window.
        let spec = sandbox.spec(Path::new("tmux"), argv, &Default::default());
        let mut command = terminal.command();
        command
            .args(&spec.args)
            .current_dir(&spec.cwd)
            .envs(&spec.env);
        for name in spec.env_remove.iter().map(String::as_str).chain([
            // Not a client of a tmux the tests may run in; colours and the status line on.
            "TMUX",
            "TMUX_PANE",
            "NO_COLOR",
        ]) {
            command.env_remove(name);
        }
        let started = output(&mut command);
        assert!(
            started.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        let shown = terminal
            .tmux(&["display-message", "-p", "-t", SESSION, "#{pid} #{pane_pid}"])
            .unwrap_or_else(|err| panic!("{err}"));
        let identity = |word: Option<&str>| {
            let pid: i32 = word?.parse().ok()?;
            read_proc(pid).map(|p| (pid, p.start_time))
        };
        let mut words = shown.split_whitespace();
        terminal.server = identity(words.next());
        terminal.pane = identity(words.next());
        assert!(
            terminal.server.is_some() && terminal.pane.is_some(),
            "tmux's server and pane processes ({shown:?}): {}",
            terminal.describe()
        );
        terminal
    }

    /// `tmux -u -S SOCKET` (`-u`: the screen is read as UTF-8, whatever the locale).
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-u").arg("-S").arg(&self.socket);
        command
    }

    /// Runs `tmux ARGS…` against this server; its stdout, or what went wrong.
    fn tmux(&self, args: &[&str]) -> Result<String, String> {
        let done = output(self.command().args(args));
        if done.status.success() {
            Ok(String::from_utf8_lossy(&done.stdout).into_owned())
        } else {
            Err(format!(
                "tmux {args:?}: {}: {}",
                done.status,
                String::from_utf8_lossy(&done.stderr)
            ))
        }
    }

    /// The window's text: its history and the screen, wrapped lines joined (`-J`), without
    /// the escape codes (colours) that drew it.
    fn try_screen(&self) -> Result<String, String> {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", SESSION])
    }

    /// What the window shows now, and the processes on its terminal, for a failure's message
    /// (never panics: it is formatted while a panic may be under way).
    fn describe(&self) -> String {
        let screen = match self.try_screen() {
            Ok(screen) => format!("the screen:\n{}", screen.trim_end()),
            Err(err) => format!("no screen: {err}"),
        };
        let on_the_terminal: Vec<Proc> = match self.pane {
            Some((pid, _)) => scan().into_iter().filter(|p| p.sid == pid).collect(),
            None => Vec::new(),
        };
        format!(
            "server {:?}, pane {:?}, processes of the pane's session: {on_the_terminal:#?}\n{screen}",
            self.server, self.pane
        )
    }

    /// Polls the window (bounded by [`TURN_TIMEOUT`]) until `check` holds for its text;
    /// returns that text.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        wait_until(
            TURN_TIMEOUT,
            Describe(|| format!("{what}; {}", self.describe())),
            || {
                let screen = self.try_screen().ok()?;
                check(&screen).then_some(screen)
            },
        )
    }

    /// Every distinct text the window showed, polled (bounded by [`TURN_TIMEOUT`]) until the
    /// command had exited; and its exit code. The last text is the whole of what the command
    /// showed, without the shell's line saying it exited.
    fn watch_to_the_end(&self) -> (Vec<String>, i32) {
        let mut screens: Vec<String> = Vec::new();
        let code = wait_until(
            TURN_TIMEOUT,
            Describe(|| format!("the command to exit; {}", self.describe())),
            || {
                let screen = self.try_screen().ok()?;
                let (shown, code) = match exited(&screen) {
                    Some((before, code)) => (before, Some(code)),
                    None => (screen, None),
                };
                if screens.last() != Some(&shown) {
                    screens.push(shown);
                }
                code
            },
        );
        (screens, code)
    }

    /// Waits (bounded) until the command has exited: what it showed, and its exit code.
    fn wait_exit(&self) -> (String, i32) {
        wait_until(
            TURN_TIMEOUT,
            Describe(|| format!("the command to exit; {}", self.describe())),
            || exited(&self.try_screen().ok()?),
        )
    }

    /// Types `keys` (tmux's key names: `C-c` is Ctrl-C) into the window.
    fn send_keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", SESSION, keys])
            .unwrap_or_else(|err| panic!("{err}"));
    }
}

impl Drop for Terminal {
    /// Kills this test's tmux server (by its socket: no other server) and makes sure it and
    /// the pane's shell are gone: what is left after a bounded wait is killed by pid (pid and
    /// start time both checked, so never a stranger on a reused pid).
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
        let ours: Vec<(i32, u64)> = self.server.iter().chain(&self.pane).copied().collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while ours.iter().any(|(p, s)| alive(*p, *s)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for (pid, start) in ours {
            if alive(pid, start)
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Whether `screen` shows that the command exited: the text before the shell's line saying
/// so, and the exit code. That line comes after a line break of the shell's own; the text
/// before it had to end its last line itself (the break is taken off).
fn exited(screen: &str) -> Option<(String, i32)> {
    let at = screen.find(&format!("\n{EXITED} "))?;
    let line = screen[at + 1..].lines().next()?;
    let code = line
        .strip_prefix(EXITED)?
        .trim()
        .strip_suffix(']')?
        .parse()
        .ok()?;
    Some((screen[..at].to_owned(), code))
}

/// `command`'s output; tmux missing from PATH fails the test, saying how to install it.
fn output(command: &mut Command) -> std::process::Output {
    match command.output() {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
            "tmux is not on PATH (the terminal tests of agent-host run need it): \
             run scripts/install-test-deps.sh"
        ),
        Err(err) => panic!("cannot run tmux: {err}"),
    }
}

/// The status line on `screen`, if one is there: a spinner frame, what the turn is doing,
/// and the elapsed time (`⠙ working · 1.2s`).
fn status_line(screen: &str) -> Option<(&str, &str)> {
    screen.lines().find_map(|line| {
        let line = line.trim_end();
        let mut chars = line.chars();
        let spinner = chars.next()?;
        if !SPINNER.contains(spinner) {
            return None;
        }
        let (doing, elapsed) = chars.as_str().strip_prefix(' ')?.rsplit_once(" · ")?;
        let seconds = elapsed.strip_suffix('s')?;
        let (whole, tenths) = seconds.split_once('.')?;
        let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        (digits(whole) && tenths.len() == 1 && digits(tenths)).then_some((doing, elapsed))
    })
}

/// Whether `screen` shows the status line saying `doing`.
fn shows_status(screen: &str, doing: &str) -> bool {
    status_line(screen).is_some_and(|(shown, _)| shown == doing)
}

/// The summary line (`STATUS · DURATION · TOKENS · thread ID`) starting with `status`.
fn summary_line<'a>(screen: &'a str, status: &str) -> &'a str {
    screen
        .lines()
        .find(|line| line.starts_with(&format!("{status} · ")) && line.contains(" · thread "))
        .unwrap_or_else(|| panic!("no summary line `{status} · …` on the screen:\n{screen}"))
}

/// Asserts that `parts` occur in `text` in this order.
fn assert_in_order(text: &str, parts: &[&str]) {
    let mut at = 0;
    for part in parts {
        let found = text[at..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} after byte {at} on the screen:\n{text}"));
        at += found + part.len();
    }
}

/// Opens the gate `name` that a fake-agent script waits at (`wait-file NAME`).
fn release(sandbox: &Sandbox, name: &str) {
    std::fs::write(sandbox.root().join("scripts").join(name), "").unwrap();
}

#[test]
fn status_line_and_screen_parsing_recognise_what_the_view_draws() {
    // The parser the terminal tests rely on, checked against what it must and must not take.
    assert_eq!(
        status_line("text\n⠙ working · 1.2s   \n"),
        Some(("working", "1.2s"))
    );
    assert_eq!(
        status_line("⠏ running ls · 12.0s\n"),
        Some(("running ls", "12.0s"))
    );
    assert_eq!(status_line("⠙ working · soon\n"), None);
    assert_eq!(status_line("completed · 1.2s · 3 tokens\n"), None);
    assert_eq!(status_line("x ⠙ working · 1.2s\n"), None);
    assert_eq!(
        exited(&format!("done\n\n{EXITED} 130]\n\n")),
        Some(("done\n".to_owned(), 130))
    );
    assert_eq!(
        exited(&format!("open\n{EXITED} 0]")),
        Some(("open".to_owned(), 0))
    );
    assert_eq!(exited(&format!("{EXITED} 0]\n")), None);
    assert_eq!(exited(&format!("x\n{EXITED} ]\n")), None);
    assert_eq!(exited("still running\n"), None);
    let summary = "completed · 0.3s · 15 tokens (10 in, 5 out) · thread 01";
    assert_eq!(
        summary_line(&format!("a\n{summary}\n"), "completed"),
        summary
    );
}

#[test]
fn the_demo_in_a_terminal_shows_the_status_line_streams_its_answer_and_prints_the_summary() {
    let sandbox = Sandbox::new();
    // Slow enough that each piece of the answer stays on the screen a while.
    let config = slow_demo(&sandbox, 400);
    let terminal = Terminal::run(
        &sandbox,
        &config,
        &["--provider", "demo", "what is in this directory?"],
    );
    let (screens, code) = terminal.watch_to_the_end();
    let last = screens.last().unwrap();
    assert_eq!(code, 0, "{last}");
    assert!(
        screens
            .iter()
            .any(|s| shows_status(s, "working") || shows_status(s, "running ls")),
        "no status line on any of {} screens:\n{}",
        screens.len(),
        screens.join("\n----\n")
    );
    // The first line of the answer was seen cut short: it came in pieces.
    let cut_short = |screen: &String| {
        screen
            .lines()
            .any(|line| line.starts_with("[demo] ") && DEMO_LABEL.starts_with(line.trim_end()))
            && !screen.contains(DEMO_LABEL)
    };
    assert!(
        screens.iter().any(cut_short),
        "the answer never seen in part:\n{}",
        screens.join("\n----\n")
    );
    assert_in_order(
        last,
        &[
            "A demo turn",
            &format!("{DEMO_LABEL}\nYou asked: what is in this directory?\n"),
            "$ ls\n",
            "add agent-host-demo.md\n",
            "That was the whole demo.",
            "\ncompleted · ",
        ],
    );
    let summary = summary_line(last, "completed");
    let thread = summary.rsplit(' ').next().unwrap();
    assert!(uuid::Uuid::parse_str(thread).is_ok(), "{summary}");
    assert!(
        last.contains(&format!("agent-host run --continue {thread} \"PROMPT\"")),
        "{last}"
    );
    // The status line was cleared before the summary.
    assert_eq!(status_line(last), None, "{last}");
    assert!(last.ends_with('\n'), "a line left open:\n{last}");
}

/// Types Ctrl-C into `terminal` while its turn runs; checks the command ended the turn as
/// interrupted, exited 130, and that no process of the turn is left.
fn ctrl_c_interrupts(sandbox: &Sandbox, terminal: &Terminal) {
    let (_, turn, runner, backend) = running_turn(sandbox);
    terminal.send_keys("C-c");
    let (screen, code) = terminal.wait_exit();
    assert_eq!(code, 130, "{screen}");
    let interrupting = format!("interrupting turn {turn}; waiting for its processes");
    assert_in_order(&screen, &[&interrupting, "\ninterrupted · "]);
    // The line about the interrupt (on stderr) starts its row: nothing of the status line
    // (on stdout, on that row until then) is left in front of it.
    assert!(
        screen.lines().any(|line| line.starts_with(&interrupting)),
        "the status line not cleared before the interrupt's line:\n{screen}"
    );
    summary_line(&screen, "interrupted");
    assert!(screen.ends_with('\n'), "a line left open:\n{screen}");
    assert_nothing_of_the_turn_left(&turn, runner, backend);
}

/// The turn's runner and backend (by pid and start time) are gone; no process is left in the
/// backend's session (the runner starts it with `setsid`) or carries the turn's marker
/// (`AGENT_HOST_TURN`) in its environment.
fn assert_nothing_of_the_turn_left(turn: &str, runner: (i32, u64), backend: (i32, u64)) {
    // `turn/completed` comes after the runner swept the turn: its backend is gone already.
    assert_eq!(proc_state(backend.0, backend.1), ProcState::Gone);
    assert_all_gone(&[runner, backend], DEFAULT_TIMEOUT);
    let in_its_session = descendants(runner.0, &[backend.0]);
    assert!(
        in_its_session.is_empty(),
        "processes of the turn's backend left: {in_its_session:?}"
    );
    let marker = format!("AGENT_HOST_TURN={turn}\0");
    let marked: Vec<Proc> = scan()
        .into_iter()
        .filter(|p| {
            let environ = std::fs::read(format!("/proc/{}/environ", p.pid)).unwrap_or_default();
            String::from_utf8_lossy(&environ).contains(&marker) && alive(p.pid, p.start_time)
        })
        .collect();
    assert!(marked.is_empty(), "processes of the turn left: {marked:?}");
}

#[test]
fn ctrl_c_typed_in_a_terminal_interrupts_a_slow_demo_turn() {
    let sandbox = Sandbox::new();
    let config = slow_demo(&sandbox, 600_000);
    let terminal = Terminal::run(&sandbox, &config, &["--provider", "demo", "hi"]);
    // The demo's reasoning comes at once; then it pauses, and the status line shows.
    terminal.wait_for("the demo's reasoning and the status line", |screen| {
        screen.contains("A demo turn") && shows_status(screen, "working")
    });
    ctrl_c_interrupts(&sandbox, &terminal);
}

const SCRIPTS: &[(&str, &str)] = &[
    (
        "gated",
        "start\nmessage before the gate\nwait-file shown\n\
         line {\"type\":\"item.started\",\"item\":{\"id\":\"m1\",\"type\":\"agent_message\",\"text\":\"\"}}\n\
         line {\"type\":\"item.updated\",\"item\":{\"id\":\"m1\",\"type\":\"agent_message\",\"text\":\"streamed in\"}}\n\
         wait-file more\n\
         line {\"type\":\"item.completed\",\"item\":{\"id\":\"m1\",\"type\":\"agent_message\",\"text\":\"streamed in two pieces\"}}\n\
         complete\n",
    ),
    ("slow", "start\nmessage waiting for Ctrl-C\nsleep 600000\n"),
];

#[test]
fn the_fake_agent_in_a_terminal_shows_the_status_line_streams_and_prints_the_summary() {
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, SCRIPTS);
    let config = sandbox.root().join("turns.toml");
    let terminal = Terminal::run(&sandbox, &config, &["--provider", "fake", "script:gated"]);
    // The agent waits at a gate after its first message: the status line shows.
    terminal.wait_for("the first message and the status line", |screen| {
        screen.contains("before the gate\n") && shows_status(screen, "working")
    });
    release(&sandbox, "shown");
    // Held at the next gate with its message begun: the part sent is on the screen, alone.
    let partial = terminal.wait_for("the first piece of the streamed message", |screen| {
        screen.contains("streamed in")
    });
    assert!(!partial.contains("streamed in two"), "{partial}");
    release(&sandbox, "more");
    let (screen, code) = terminal.wait_exit();
    assert_eq!(code, 0, "{screen}");
    assert_in_order(
        &screen,
        &[
            "before the gate\n",
            "streamed in two pieces\n",
            "completed · ",
        ],
    );
    let summary = summary_line(&screen, "completed");
    assert!(
        summary.contains(" · 15 tokens (10 in, 5 out) · thread "),
        "{summary}"
    );
    assert_eq!(status_line(&screen), None, "{screen}");
    assert!(screen.ends_with('\n'), "a line left open:\n{screen}");
}

#[test]
fn ctrl_c_typed_in_a_terminal_interrupts_a_slow_fake_agent_turn() {
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, SCRIPTS);
    let config = sandbox.root().join("turns.toml");
    let terminal = Terminal::run(&sandbox, &config, &["--provider", "fake", "script:slow"]);
    terminal.wait_for("the agent's message and the status line", |screen| {
        screen.contains("waiting for Ctrl-C\n") && shows_status(screen, "working")
    });
    ctrl_c_interrupts(&sandbox, &terminal);
}
