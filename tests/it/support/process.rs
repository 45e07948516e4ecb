//! A server under test: a real child process with piped stdio, read line by line with timeouts.
//!
//! Every wait has a deadline and is a blocking receive on a channel fed by a reader thread (no
//! polling, no sleeps). The child is signalled through a pidfd opened at spawn, before anything
//! can reap it, so a signal never reaches a recycled pid. Dropping a `ServerProcess` kills the
//! child if it still runs and reaps it, so no test leaves a process behind.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the exactly-once check reads ahead for anything of a turn after its
/// `turn/completed` (a bounded look, not a synchronisation: the check also waits for the
/// answer to a request sent after it).
pub const QUIET: Duration = Duration::from_millis(100);

/// How long a test waits for one message or for the process to exit, unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run and how: the program, its arguments, working directory and environment.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// Variables set for the child on top of the inherited environment.
    pub env: BTreeMap<String, String>,
    /// Variables removed from the inherited environment.
    pub env_remove: Vec<String>,
}

/// One line of server output: a JSON value, or the raw text when it is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Json(Value),
    NotJson(String),
}

impl Line {
    pub fn text(&self) -> String {
        match self {
            Line::Json(value) => value.to_string(),
            Line::NotJson(raw) => raw.clone(),
        }
    }
}

/// Why a receive gave no line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived before the deadline.
    Timeout(Duration),
    /// The server closed its stdout.
    Eof,
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecvError::Timeout(after) => write!(f, "no output within {after:?}"),
            RecvError::Eof => write!(f, "the server closed its stdout"),
        }
    }
}

/// One JSON message as it arrived from the server.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub msg: Value,
}

/// A running (or finished) server process.
///
/// Every JSON message it writes is kept on its [`wire`](ServerProcess::wire) with its
/// arrival time, whoever reads it; a check that looks ahead (`check_turn_ended_once`) keeps
/// what it read for the next receive, so it never takes a message from the test.
pub struct ServerProcess {
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    /// Lines read from the pipe by a look-ahead and not yet handed out.
    backlog: std::collections::VecDeque<Line>,
    wire: Vec<Received>,
    checks: u64,
    exit: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    pidfd: OwnedFd,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// Signalled (by closing) when stderr reached its end.
    stderr_end: Receiver<std::convert::Infallible>,
    pid: u32,
}

impl ServerProcess {
    /// Starts the process with piped stdin, stdout and stderr.
    pub fn spawn(spec: &SpawnSpec) -> ServerProcess {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .current_dir(&spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in &spec.env_remove {
            command.env_remove(name);
        }
        command.envs(&spec.env);
        let mut child: Child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", spec.program.display()));
        let pid = child.id();
        let raw_pid = rustix::process::Pid::from_child(&child);
        let pidfd = rustix::process::pidfd_open(raw_pid, rustix::process::PidfdFlags::empty())
            .expect("pidfd_open of a child that was not reaped yet");

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");

        let (line_tx, lines) = channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                let line = match serde_json::from_str::<Value>(&text) {
                    Ok(value) => Line::Json(value),
                    Err(_) => Line::NotJson(text),
                };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let (stderr_end_tx, stderr_end) = channel::<std::convert::Infallible>();
        thread::spawn(move || {
            // Dropped when the loop ends: the receiver then sees the end of stderr.
            let _end = stderr_end_tx;
            let mut pipe = stderr_pipe;
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .extend_from_slice(&chunk[..n]);
            }
        });

        let (exit_tx, exit) = channel();
        thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = exit_tx.send(status);
            }
        });

        ServerProcess {
            stdin,
            lines,
            backlog: std::collections::VecDeque::new(),
            wire: Vec::new(),
            checks: 0,
            exit,
            status: None,
            pidfd,
            stderr,
            stderr_end,
            pid,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes `line` followed by a newline.
    pub fn send_line(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
        self.send_bytes(b"\n");
    }

    /// Writes the JSON value as one compact line.
    pub fn send_json(&mut self, value: &Value) {
        self.send_line(&value.to_string());
    }

    /// Whether stdin is still open (not closed by `close_stdin`).
    pub fn stdin_open(&self) -> bool {
        self.stdin.is_some()
    }

    /// Sends a request and waits for its response (result or error); returns it and the
    /// messages that came before it.
    pub fn request(&mut self, id: Value, method: &str, params: Value) -> (Value, Vec<Value>) {
        self.send_json(&serde_json::json!({"id": id, "method": method, "params": params}));
        self.wait_for_response(&id, DEFAULT_TIMEOUT)
            .unwrap_or_else(|(error, before)| {
                panic!("no response to {method} (id {id}): {error}; before: {before:?}")
            })
    }

    /// The handshake: `initialize` (with a test client name), then `initialized`; returns the
    /// initialize result and panics on an error response.
    pub fn initialize(&mut self) -> Value {
        self.initialize_with(serde_json::json!(null))
    }

    /// [`ServerProcess::initialize`] with these `capabilities` (e.g. `{"experimentalApi":
    /// true}`; `null` for none).
    pub fn initialize_with(&mut self, capabilities: Value) -> Value {
        let mut params = serde_json::json!({
            "clientInfo": {"name": "agent_host_tests", "title": null, "version": "0.0.1"}
        });
        if !capabilities.is_null() {
            params["capabilities"] = capabilities;
        }
        let (response, _) = self.request(Value::from("init"), "initialize", params);
        let result = response
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("initialize failed: {response}"));
        self.send_json(&serde_json::json!({"method": "initialized"}));
        result
    }

    /// Writes raw bytes (no newline added). A server that already closed its stdin is not an
    /// error here: the missing response shows up at the next receive.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is already closed");
        let _ = stdin.write_all(bytes);
        let _ = stdin.flush();
    }

    /// Closes the server's stdin (EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next line of output, waiting at most `timeout`.
    pub fn recv_line(&mut self, timeout: Duration) -> Result<Line, RecvError> {
        match self.backlog.pop_front() {
            Some(line) => Ok(line),
            None => self.fetch(timeout),
        }
    }

    /// The next line from the pipe, recorded on the wire.
    fn fetch(&mut self, timeout: Duration) -> Result<Line, RecvError> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                if let Line::Json(msg) = &line {
                    self.wire.push(Received {
                        at: Instant::now(),
                        msg: msg.clone(),
                    });
                }
                Ok(line)
            }
            Err(RecvTimeoutError::Timeout) => Err(RecvError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(RecvError::Eof),
        }
    }

    /// Every JSON message the server wrote that was read so far, in arrival order.
    pub fn wire(&self) -> &[Received] {
        &self.wire
    }

    /// Every message up to and including the `turn/completed` of `turn` (waiting up to
    /// `within`), after checking exactly once on the wire ([`Self::check_turn_ended_once`],
    /// with [`QUIET`]); panics with what arrived when either fails.
    pub fn until_turn_completed(&mut self, turn: &str, within: Duration) -> Vec<Value> {
        let (done, mut before) = self
            .wait_for(within, |m| is_turn_completed(m, turn))
            .unwrap_or_else(|(err, before)| {
                panic!("no turn/completed for {turn}: {err}; got {before:#?}")
            });
        before.push(done);
        if let Err(err) = self.check_turn_ended_once(turn, within, QUIET) {
            panic!("{err}");
        }
        before
    }

    /// Exactly once on the wire: waits (up to `within`) for the `turn/completed` of `turn`,
    /// then reads ahead for `quiet` and, while the server serves, up to the answer of one
    /// more request; then checks that the turn has exactly one `turn/completed`, last among
    /// the turn's notifications. What it reads ahead stays for the next receive (its own
    /// request's answer excepted). Returns the `turn/completed`.
    pub fn check_turn_ended_once(
        &mut self,
        turn: &str,
        within: Duration,
        quiet: Duration,
    ) -> Result<Value, String> {
        let completed = |msg: &Value| is_turn_completed(msg, turn);
        let deadline = Instant::now() + within;
        while !self.wire.iter().any(|r| completed(&r.msg)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.fetch(left) {
                Ok(line) => self.backlog.push_back(line),
                Err(err) => return Err(format!("no turn/completed for {turn}: {err}")),
            }
        }
        let quiet_end = Instant::now() + quiet;
        loop {
            let left = quiet_end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.fetch(left) {
                Ok(line) => self.backlog.push_back(line),
                Err(_) => break,
            }
        }
        if self.stdin_open() && self.status.is_none() {
            self.checks += 1;
            let id = Value::from(format!("exactly-once-check-{}", self.checks));
            self.send_json(&serde_json::json!({
                "id": id, "method": "thread/loaded/list", "params": {}
            }));
            loop {
                match self.fetch(DEFAULT_TIMEOUT) {
                    Ok(Line::Json(msg)) if msg.get("id") == Some(&id) => break,
                    Ok(line) => self.backlog.push_back(line),
                    Err(err) => return Err(format!("no answer to the check's request: {err}")),
                }
            }
        }
        let of_turn: Vec<&Value> = self
            .wire
            .iter()
            .map(|r| &r.msg)
            .filter(|msg| about_turn(msg, turn))
            .collect();
        let count = of_turn.iter().filter(|msg| completed(msg)).count();
        if count != 1 {
            return Err(format!(
                "{count} turn/completed for {turn}: {}",
                summary(&of_turn)
            ));
        }
        let last = of_turn.last().expect("the completion is among them");
        if !completed(last) {
            return Err(format!(
                "a notification of {turn} after its turn/completed: {}",
                summary(&of_turn)
            ));
        }
        Ok((*last).clone())
    }

    /// The next line of output as JSON; a line that is not JSON is a test failure.
    pub fn recv_json(&mut self, timeout: Duration) -> Result<Value, RecvError> {
        match self.recv_line(timeout)? {
            Line::Json(value) => Ok(value),
            Line::NotJson(raw) => panic!("the server wrote a line that is not JSON: {raw:?}"),
        }
    }

    /// Reads until a JSON message satisfies `predicate`, all within `timeout`; returns it and
    /// the messages skipped on the way.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        mut predicate: impl FnMut(&Value) -> bool,
    ) -> Result<(Value, Vec<Value>), (RecvError, Vec<Value>)> {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_json(left) {
                Ok(value) if predicate(&value) => return Ok((value, skipped)),
                Ok(value) => skipped.push(value),
                Err(error) => return Err((error, skipped)),
            }
        }
    }

    /// Reads until the response (result or error) to request `id` arrives.
    pub fn wait_for_response(
        &mut self,
        id: &Value,
        timeout: Duration,
    ) -> Result<(Value, Vec<Value>), (RecvError, Vec<Value>)> {
        self.wait_for(timeout, |msg| {
            msg.get("id") == Some(id) && msg.get("method").is_none()
        })
    }

    /// Waits for the process to exit; `None` if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.exit.recv_timeout(timeout).ok();
        }
        self.status
    }

    /// Sends `signal` unless the process has already been reaped (through the pidfd, so
    /// never to a recycled pid).
    pub fn signal(&self, signal: rustix::process::Signal) {
        if self.status.is_none() {
            let _ = rustix::process::pidfd_send_signal(&self.pidfd, signal);
        }
    }

    /// Sends SIGKILL unless the process has already been reaped.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        }
    }

    /// Everything the process wrote to stderr, once stderr reached its end (the process and
    /// every process that shares its stderr exited); `None` if it did not within `timeout`.
    pub fn stderr_to_end(&mut self, timeout: Duration) -> Option<String> {
        match self.stderr_end.recv_timeout(timeout) {
            Err(RecvTimeoutError::Disconnected) => Some(self.stderr()),
            Err(RecvTimeoutError::Timeout) => None,
            Ok(never) => match never {},
        }
    }

    /// Everything the process wrote to stderr so far (lossy UTF-8).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }
}

/// Whether `msg` is the `turn/completed` of `turn`.
pub fn is_turn_completed(msg: &Value, turn: &str) -> bool {
    msg["method"] == "turn/completed" && msg["params"]["turn"]["id"] == turn
}

/// Whether `msg` is a notification or server request about `turn`.
pub fn about_turn(msg: &Value, turn: &str) -> bool {
    msg.get("method").is_some()
        && (msg["params"]["turnId"] == turn || msg["params"]["turn"]["id"] == turn)
}

/// The methods of `messages`, for a failure report.
fn summary(messages: &[&Value]) -> String {
    let methods: Vec<&str> = messages
        .iter()
        .map(|m| m["method"].as_str().unwrap_or("?"))
        .collect();
    methods.join(", ")
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.close_stdin();
        if self.status.is_none() {
            self.kill();
            if self.wait_exit(DEFAULT_TIMEOUT).is_none() && !thread::panicking() {
                panic!("process {} did not die after SIGKILL", self.pid);
            }
        }
    }
}
