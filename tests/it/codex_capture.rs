//! Captures of the real `codex app-server` (the pinned npm release, `.cache/codex-bin`)
//! against the project's mock of the Responses API: what the validator of
//! `conformance.rs` is checked against, made on every test run instead of read from
//! outside the repository.
//!
//! Each scenario runs a fresh Codex with a throwaway `CODEX_HOME` whose config points at
//! the mock on 127.0.0.1, sends its requests one at a time and records every line both ways
//! as `{"dir":"c2s"|"s2c","t_ms","msg"}`, the format of the reference captures. With
//! `CODEX_CAPTURE_OUT=DIR` (`scripts/capture-codex-transcripts.sh`) the captures are also
//! written there, sandbox paths replaced by `$WORK`, `$CODEX_HOME` and `$SANDBOX`, so they
//! can be redone for a new pin with one command.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::git_repo;
use crate::support::mock_responses::{MockResponses, Output, Reply};
use crate::support::process::{RecvError, ServerProcess};
use crate::support::procs::installed_cli;
use crate::support::{DEFAULT_TIMEOUT, Sandbox};

/// How long the mock serves at most.
const MOCK_LIFETIME: Duration = Duration::from_secs(60);
/// How long one turn of a scenario may take.
const TURN_TIMEOUT: Duration = Duration::from_secs(30);

/// One captured session.
pub struct Capture {
    pub name: &'static str,
    /// `{"dir","t_ms","msg"}` lines, in order.
    pub lines: Vec<Value>,
}

/// A live session with the real Codex that records what crosses its pipes.
pub(crate) struct Session {
    name: &'static str,
    server: ServerProcess,
    sandbox: Sandbox,
    started: Instant,
    lines: Vec<Value>,
    next_id: i64,
    _mock: MockResponses,
}

impl Session {
    pub(crate) fn start(name: &'static str, replies: Vec<Reply>) -> Session {
        Session::start_with(name, replies, json!(null))
    }

    /// As [`Session::start`], with the client's `capabilities` in `initialize`.
    pub(crate) fn start_with(
        name: &'static str,
        replies: Vec<Reply>,
        capabilities: Value,
    ) -> Session {
        let bin = installed_cli("codex-bin", "Codex CLI");
        let mock = MockResponses::start(replies, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let codex_home = sandbox.root().join("codex-home");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            crate::real_codex::codex_config(&mock.base_url()),
        )
        .unwrap();
        let env = BTreeMap::from([("CODEX_HOME".to_owned(), codex_home.display().to_string())]);
        let spec = sandbox.spec(&bin, vec!["app-server".into()], &env);
        let server = ServerProcess::spawn(&spec);
        let mut session = Session {
            name,
            server,
            sandbox,
            started: Instant::now(),
            lines: Vec::new(),
            next_id: 1,
            _mock: mock,
        };
        let mut initialize =
            json!({"clientInfo": {"name": "capture_client", "title": null, "version": "0.0.1"}});
        if !capabilities.is_null() {
            initialize["capabilities"] = capabilities;
        }
        session.request("initialize", initialize);
        session.send(json!({"method": "initialized"}));
        session
    }

    pub(crate) fn work(&self) -> String {
        self.sandbox.work_dir().display().to_string()
    }

    fn record(&mut self, dir: &str, msg: Value) {
        let t_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.lines
            .push(json!({"dir": dir, "t_ms": (t_ms * 1000.0).round() / 1000.0, "msg": msg}));
    }

    pub(crate) fn send(&mut self, msg: Value) {
        self.record("c2s", msg.clone());
        self.server.send_json(&msg);
    }

    /// Reads one message within `timeout` and records it.
    fn recv(&mut self, timeout: Duration) -> Result<Value, RecvError> {
        let msg = self.server.recv_json(timeout)?;
        self.record("s2c", msg.clone());
        Ok(msg)
    }

    /// Reads (and records) until `predicate` holds; panics with the scenario's name after
    /// `timeout`.
    pub(crate) fn wait_for(
        &mut self,
        timeout: Duration,
        predicate: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Ok(msg) if predicate(&msg) => return msg,
                Ok(_) => {}
                Err(err) => panic!(
                    "capture {}: {err}; stderr: {}",
                    self.name,
                    self.server.stderr()
                ),
            }
        }
    }

    /// Sends a request and waits for its response (recording what comes before it).
    pub(crate) fn request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(json!({"id": id, "method": method, "params": params}));
        self.wait_for(DEFAULT_TIMEOUT, |m| {
            m.get("id") == Some(&id) && m.get("method").is_none()
        })
    }

    pub(crate) fn start_thread(&mut self, extra: Value) -> String {
        let mut params = json!({"cwd": self.work()});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        let started = self.request("thread/start", params);
        started["result"]["thread"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("capture {}: thread/start: {started}", self.name))
            .to_owned()
    }

    pub(crate) fn start_turn(&mut self, thread: &str, text: &str) -> String {
        let started = self.request(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        );
        started["result"]["turn"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("capture {}: turn/start: {started}", self.name))
            .to_owned()
    }

    pub(crate) fn until_turn_completed(&mut self, turn: &str) -> Value {
        let turn = turn.to_owned();
        self.wait_for(TURN_TIMEOUT, move |m| {
            m["method"] == "turn/completed" && m["params"]["turn"]["id"] == turn
        })
    }

    /// Closes stdin, records what the server still writes, and waits for its exit.
    pub(crate) fn finish(mut self) -> Capture {
        self.server.close_stdin();
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Ok(_) => {}
                Err(RecvError::Eof) => break,
                Err(err) => panic!("capture {}: no end of output: {err}", self.name),
            }
        }
        let status = self.server.wait_exit(DEFAULT_TIMEOUT);
        assert!(
            status.is_some_and(|s| s.success()),
            "capture {}: codex exited {status:?}; stderr: {}",
            self.name,
            self.server.stderr()
        );
        if let Some(out) = std::env::var_os("CODEX_CAPTURE_OUT") {
            self.write_to(Path::new(&out));
        }
        Capture {
            name: self.name,
            lines: std::mem::take(&mut self.lines),
        }
    }

    /// Writes the capture as `<name>.jsonl` into `dir`, sandbox paths replaced.
    fn write_to(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let root = self.sandbox.root().display().to_string();
        let mut text = String::new();
        for line in &self.lines {
            let line = line
                .to_string()
                .replace(&format!("{root}/work"), "$WORK")
                .replace(&format!("{root}/codex-home"), "$CODEX_HOME")
                .replace(&root, "$SANDBOX");
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(dir.join(format!("{}.jsonl", self.name)), text).unwrap();
    }
}

fn lifecycle() -> Capture {
    let mut s = Session::start("01_thread_lifecycle", Vec::new());
    let thread = s.start_thread(json!({}));
    s.request("thread/list", json!({}));
    s.request("thread/loaded/list", json!({}));
    s.request("thread/read", json!({"threadId": thread}));
    s.request(
        "thread/name/set",
        json!({"threadId": thread, "name": "Captured"}),
    );
    s.start_thread(json!({"ephemeral": true}));
    s.request("thread/read", json!({"threadId": "not-a-uuid"}));
    s.request(
        "thread/resume",
        json!({"threadId": "01a20000-0000-7000-8000-000000000000"}),
    );
    s.request("no/such/method", json!({}));
    s.request("thread/read", json!({"threadId": 123}));
    s.request("thread/unsubscribe", json!({"threadId": thread}));
    s.finish()
}

fn turn_full() -> Capture {
    let reply = Reply::Complete {
        outputs: vec![Output::Message("The answer, streamed.".to_owned())],
        usage: (40, 8, 12),
    };
    let mut s = Session::start("02_turn_full", vec![reply]);
    let thread = s.start_thread(json!({}));
    let turn = s.start_turn(&thread, "Say something.");
    s.until_turn_completed(&turn);
    s.request(
        "thread/read",
        json!({"threadId": thread, "includeTurns": true}),
    );
    s.request("thread/list", json!({}));
    s.finish()
}

fn turn_command() -> Capture {
    let replies = vec![
        Reply::Complete {
            outputs: vec![Output::ExecCommand(json!({"cmd": "echo captured"}))],
            usage: (40, 0, 10),
        },
        Reply::Complete {
            outputs: vec![Output::Message("It printed captured.".to_owned())],
            usage: (60, 0, 8),
        },
    ];
    let mut s = Session::start("03_turn_command", replies);
    let thread = s.start_thread(json!({
        "approvalPolicy": "never", "sandbox": "danger-full-access"
    }));
    let turn = s.start_turn(&thread, "Run echo.");
    s.until_turn_completed(&turn);
    s.finish()
}

fn turn_interrupt() -> Capture {
    let mut s = Session::start("04_turn_interrupt", vec![Reply::Stall]);
    let thread = s.start_thread(json!({}));
    let turn = s.start_turn(&thread, "Take your time.");
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "turn/started");
    s.request(
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn}),
    );
    s.until_turn_completed(&turn);
    s.request(
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn}),
    );
    s.finish()
}

fn command_exec() -> Capture {
    let mut s = Session::start("05_command_exec", Vec::new());
    s.request("command/exec", json!({"command": ["echo", "hello"]}));
    s.request(
        "command/exec",
        json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}),
    );
    s.request("command/exec", json!({"command": []}));
    s.request(
        "command/exec",
        json!({"command": ["no-such-program-of-the-capture"]}),
    );
    s.finish()
}

/// The methods a client calls before its first thread: the account, the configuration with
/// its layers, and the model list with its pagination and its errors.
fn info() -> Capture {
    let mut s = Session::start("06_info", Vec::new());
    s.request("account/read", json!({}));
    s.request("account/read", json!({"refreshToken": "yes"}));
    s.request("config/read", json!({}));
    s.request(
        "config/read",
        json!({"includeLayers": true, "cwd": s.work()}),
    );
    s.request("model/list", json!({}));
    s.request("model/list", json!({"limit": 2}));
    s.request("model/list", json!({"cursor": "2", "limit": 0}));
    s.request("model/list", json!({"includeHidden": true, "cursor": "3"}));
    s.request("model/list", json!({"cursor": "bogus"}));
    s.request("model/list", json!({"cursor": "100"}));
    s.request("model/list", json!({"modelProvider": "nope"}));
    s.request("model/list", json!({"limit": -1}));
    s.finish()
}

/// A review of an uncommitted change (Codex runs it as a turn whose model request the mock
/// answers with the review), after the requests Codex refuses.
fn review() -> Capture {
    let reply = Reply::Complete {
        outputs: vec![Output::Message(
            "No findings: the change is fine.".to_owned(),
        )],
        usage: (50, 0, 9),
    };
    let mut s = Session::start("06_review", vec![reply]);
    let work = s.sandbox.work_dir();
    git_repo::init(&work);
    git_repo::write(&work, "a.txt", "one\ntwo\n");
    let thread = s.start_thread(json!({}));
    for target in [
        json!({"type": "custom", "instructions": "  "}),
        json!({"type": "commit", "sha": " "}),
        json!({"type": "nope"}),
    ] {
        s.request(
            "review/start",
            json!({"threadId": thread, "target": target}),
        );
    }
    let started = s.request(
        "review/start",
        json!({"threadId": thread, "target": {"type": "uncommittedChanges"}}),
    );
    let turn = started["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("capture {}: review/start: {started}", s.name))
        .to_owned();
    s.until_turn_completed(&turn);
    s.request(
        "thread/read",
        json!({"threadId": thread, "includeTurns": true}),
    );
    s.finish()
}

/// Every scenario, each on a fresh Codex; run in parallel, they take about one scenario's
/// time.
pub fn capture_all() -> Vec<Capture> {
    let scenarios: [fn() -> Capture; 12] = [
        lifecycle,
        turn_full,
        turn_command,
        turn_interrupt,
        command_exec,
        info,
        review,
        crate::codex_capture_threads::thread_delete,
        crate::codex_capture_threads::thread_goal,
        crate::codex_capture_threads::thread_memory_mode,
        crate::codex_capture_threads::thread_memory_mode_optin,
        crate::codex_capture_threads::thread_fork,
    ];
    let handles: Vec<_> = scenarios.into_iter().map(std::thread::spawn).collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("a capture scenario panicked"))
        .collect()
}
