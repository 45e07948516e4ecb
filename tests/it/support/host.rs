//! `Host`: one sandboxed `agent-host app-server` with one thread, the one way the tests drive
//! turns. Its backend is the fake agent ([`Host::fake`]: scripts named by the prompt
//! `script:NAME`) or a real agent CLI ([`Host::start`] with a configuration the test wrote;
//! `real_codex.rs`, `real_claude.rs` and `real_gemini.rs` wrap it with their mock model
//! servers). Every message the server sends is kept until the test takes it; every turn is
//! checked to end exactly once on the wire; everything can be checked against Codex's schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::schema::{Conformance, TrafficChecker};
use super::{Sandbox, ServerProcess, wait_until};

/// How long a turn may take before the test fails (a real one takes about a second; the fake
/// agent's, milliseconds). Only a bound: nothing waits for it to pass.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// A value of the fake provider's `env` that must reach the backend and no file.
pub const PROVIDER_SECRET: &str = "sk-test-provider-secret-3f9a";

/// A sandboxed agent-host with one thread.
pub struct Host {
    pub sandbox: Sandbox,
    pub server: ServerProcess,
    pub thread_id: String,
    checker_requests: Vec<(Value, String)>,
    /// Notifications that arrived before a response, not yet handed to the test.
    pending: Vec<Value>,
    next_id: i64,
}

impl Host {
    /// Writes the fake-agent `scripts` (name, text) and their configuration (see
    /// [`Host::write_scripts`]) and starts a server with one thread on the `fake` provider.
    pub fn fake(scripts: &[(&str, &str)]) -> Host {
        Host::fake_with_env(scripts, &BTreeMap::new())
    }

    /// As [`Host::fake`], with `top_level` (keys of the configuration's top level, such as
    /// `notify = [...]`) added to the configuration; servers started later with
    /// [`Host::spawn`] read it too.
    pub fn fake_with_config(scripts: &[(&str, &str)], top_level: &str) -> Host {
        let sandbox = Sandbox::new();
        Host::write_config(&sandbox, scripts, top_level);
        let config = sandbox.root().join("turns.toml");
        Host::start_with_env(sandbox, &config, "fake", json!({}), &BTreeMap::new())
    }

    /// [`Host::write_scripts`], with `top_level` added to the configuration's top level.
    pub fn write_config(sandbox: &Sandbox, scripts: &[(&str, &str)], top_level: &str) {
        Host::write_scripts(sandbox, scripts);
        let config = sandbox.root().join("turns.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, format!("{top_level}\n{text}")).unwrap();
    }

    /// As [`Host::fake`], with `env` set for the server.
    pub fn fake_with_env(scripts: &[(&str, &str)], env: &BTreeMap<String, String>) -> Host {
        let sandbox = Sandbox::new();
        Host::write_scripts(&sandbox, scripts);
        let config = sandbox.root().join("turns.toml");
        Host::start_with_env(sandbox, &config, "fake", json!({}), env)
    }

    /// Starts `agent-host app-server --config CONFIG` in `sandbox`, initializes, and starts a
    /// thread in the sandbox's work dir on `provider`, with `extra` merged into the
    /// `thread/start` params (e.g. `continueSession`).
    pub fn start(sandbox: Sandbox, config: &Path, provider: &str, extra: Value) -> Host {
        Host::start_with_env(sandbox, config, provider, extra, &BTreeMap::new())
    }

    /// As [`Host::start`], with `env` set for the server (and so its runners).
    pub fn start_with_env(
        sandbox: Sandbox,
        config: &Path,
        provider: &str,
        extra: Value,
        env: &BTreeMap<String, String>,
    ) -> Host {
        let spec = sandbox.agent_host_spec(Some(config), &[], env);
        Host::start_with_spec(sandbox, &spec, provider, extra, Value::Null)
    }

    /// As [`Host::start`], with the server started by `spec` (a wrapper around agent-host,
    /// say, built with [`Sandbox::app_server_spec`]) and initialized with `capabilities`
    /// (`null` for none).
    pub fn start_with_spec(
        sandbox: Sandbox,
        spec: &super::SpawnSpec,
        provider: &str,
        extra: Value,
        capabilities: Value,
    ) -> Host {
        let server = ServerProcess::spawn(spec);
        let mut host = Host {
            sandbox,
            server,
            thread_id: String::new(),
            checker_requests: Vec::new(),
            pending: Vec::new(),
            next_id: 1,
        };
        host.server.initialize_with(capabilities);
        let started = host.switch_thread(provider, extra);
        assert_eq!(
            started["result"]["thread"]["modelProvider"], provider,
            "{started}"
        );
        // Codex sends `thread/started` after the response; a test's messages begin after it.
        host.until_message("thread/started", |m| m["method"] == "thread/started");
        host.pending.clear();
        host
    }

    /// Writes `scripts` into the sandbox's `scripts/` and the configuration `turns.toml`: the
    /// default provider `fake` (kind `jsonl`) runs the fake agent with the prompt as its
    /// argument, recording its processes in `pids` and carrying [`PROVIDER_SECRET`];
    /// `codexlike` is the fake agent as kind `codex-exec`; `resuming` continues its session.
    pub fn write_scripts(sandbox: &Sandbox, scripts: &[(&str, &str)]) {
        let dir = sandbox.root().join("scripts");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in scripts {
            std::fs::write(dir.join(format!("{name}.txt")), text).unwrap();
        }
        let config = format!(
            r#"default_provider = "fake"
[interrupt]
cancel_grace_ms = 300
term_grace_ms = 300
[providers.fake]
kind = "jsonl"
command = {command:?}
args = ["{{prompt}}"]
[providers.fake.env]
FAKE_AGENT_SCRIPT_DIR = {scripts:?}
FAKE_AGENT_PIDS = {pids:?}
FAKE_SECRET = "{secret}"
[providers.codexlike]
kind = "codex-exec"
command = {command:?}
[providers.resuming]
kind = "jsonl"
command = {command:?}
args = ["{{prompt}}"]
resume_args = ["--resume", "{{session}}", "{{prompt}}"]
continue_session = true
[providers.resuming.env]
FAKE_AGENT_SCRIPT_DIR = {scripts:?}
"#,
            command = env!("CARGO_BIN_EXE_fake-agent"),
            scripts = dir.display().to_string(),
            pids = sandbox.root().join("pids").display().to_string(),
            secret = PROVIDER_SECRET,
        );
        std::fs::write(sandbox.root().join("turns.toml"), config).unwrap();
    }

    /// Another server on this host's sandbox and configuration (`turns.toml`), not
    /// initialized: a second client, or the server after a restart.
    pub fn spawn(sandbox: &Sandbox) -> ServerProcess {
        let config = sandbox.root().join("turns.toml");
        ServerProcess::spawn(&sandbox.agent_host_spec(Some(&config), &[], &BTreeMap::new()))
    }

    /// A fresh request id, for a request the test sends through `server` itself (to see
    /// exactly what comes before its answer).
    pub fn next_request_id(&mut self) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        id
    }

    /// Sends a request and returns its response; notifications that came before it are kept
    /// for the next [`Host::until_completed`].
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_request_id();
        self.checker_requests.push((id.clone(), method.to_owned()));
        let (response, before) = self.server.request(id, method, params);
        self.pending.extend(before);
        response
    }

    /// Starts a turn with the text `text`; returns the turn id.
    pub fn start_turn(&mut self, text: &str) -> String {
        self.start_turn_with(json!([{"type": "text", "text": text}]))
    }

    /// Starts a turn with these `input` items; returns the turn id.
    pub fn start_turn_with(&mut self, input: Value) -> String {
        self.start_turn_params(json!({"input": input}))
    }

    /// Starts a turn running the fake agent's script `name`, with `extra` merged into the
    /// `turn/start` params; returns the turn id.
    pub fn start_script(&mut self, name: &str, extra: Value) -> String {
        let mut params = json!({"input": [{"type": "text", "text": format!("script:{name}")}]});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        self.start_turn_params(params)
    }

    /// Starts a turn with these `turn/start` params (the thread's id added); returns the
    /// turn id.
    pub fn start_turn_params(&mut self, mut params: Value) -> String {
        params["threadId"] = json!(self.thread_id);
        let response = self.request("turn/start", params);
        response["result"]["turn"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("turn/start failed: {response}"))
            .to_owned()
    }

    /// `turn/interrupt` of the thread's turn `turn_id`; returns the response.
    pub fn interrupt(&mut self, turn_id: &str) -> Value {
        let params = json!({"threadId": self.thread_id, "turnId": turn_id});
        self.request("turn/interrupt", params)
    }

    /// `thread/read` with its turns; returns the response.
    pub fn read_thread(&mut self) -> Value {
        let params = json!({"threadId": self.thread_id, "includeTurns": true});
        self.request("thread/read", params)
    }

    /// Opens the gate `name` that a fake-agent script waits on with `wait-file name`: the
    /// handshake by which a test holds a backend at a known point, instead of a sleep window
    /// it hopes to hit.
    pub fn release(&self, name: &str) {
        std::fs::write(self.sandbox.root().join("scripts").join(name), "").unwrap();
    }

    /// Closes the gate `name` again, for the next turn that waits on it.
    pub fn close_gate(&self, name: &str) {
        std::fs::remove_file(self.sandbox.root().join("scripts").join(name)).unwrap();
    }

    /// Every message since the last call (also those that came before a response), up to
    /// and including the turn's `turn/completed`, which is checked to come exactly once and
    /// last; `context` adds to a failure's message.
    pub fn until_completed_or(
        &mut self,
        turn_id: &str,
        context: &dyn Fn() -> String,
    ) -> Vec<Value> {
        let turn = turn_id.to_owned();
        let (done, mut before) = self
            .server
            .wait_for(TURN_TIMEOUT, |m| {
                m["method"] == "turn/completed" && m["params"]["turn"]["id"] == turn
            })
            .unwrap_or_else(|(err, before)| {
                panic!(
                    "no turn/completed for {turn}: {err}; got {before:#?}\n{}\nbackend.stdout:\n{}\nbackend.stderr:\n{}",
                    context(),
                    self.backend_stdout(&turn),
                    self.backend_stderr(&turn)
                )
            });
        before.push(done);
        if let Err(err) =
            self.server
                .check_turn_ended_once(&turn, TURN_TIMEOUT, super::process::QUIET)
        {
            panic!("{err}\n{}", context());
        }
        let mut messages = std::mem::take(&mut self.pending);
        messages.extend(before);
        messages
    }

    pub fn until_completed(&mut self, turn_id: &str) -> Vec<Value> {
        self.until_completed_or(turn_id, &String::new)
    }

    /// Waits (bounded) for the first message that `predicate` accepts and returns it; it and
    /// every message before it stay in the list the next `until_completed` returns.
    pub fn until_message(&mut self, what: &str, predicate: impl Fn(&Value) -> bool) -> Value {
        let (found, before) = self
            .server
            .wait_for(TURN_TIMEOUT, |m| predicate(m))
            .unwrap_or_else(|(err, before)| panic!("no {what}: {err}; got {before:#?}"));
        self.pending.extend(before);
        self.pending.push(found.clone());
        found
    }

    /// Starts a thread in the sandbox's work dir on `provider`, with `extra` merged into the
    /// `thread/start` params, and makes it the host's thread; returns the response.
    pub fn switch_thread(&mut self, provider: &str, extra: Value) -> Value {
        let cwd = path_str(&self.sandbox.work_dir());
        let mut params = json!({"cwd": cwd, "modelProvider": provider});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        let started = self.request("thread/start", params);
        self.thread_id = started["result"]["thread"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("thread/start failed: {started}"))
            .to_owned();
        started
    }

    /// Interrupts `turn` as a client; asserts the request is answered and the turn ends
    /// once, interrupted, and returns the messages up to its end.
    pub fn interrupt_to_the_end(&mut self, turn: &str) -> Vec<Value> {
        let answer = self.interrupt(turn);
        assert_eq!(answer["result"], json!({}), "{answer}");
        let messages = self.until_completed(turn);
        assert_eq!(completed_turn(&messages, turn)["status"], "interrupted");
        messages
    }

    /// Waits (bounded) for the agent message `text` to complete.
    pub fn wait_agent_message(&mut self, text: &str) {
        self.until_message(text, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["text"] == text
        });
    }

    /// For a turn whose script waits at the gate `go` and then asks to approve a command:
    /// waits (bounded) until the server following the turn from its files has attached
    /// through the control inbox and renewed that once (every 2 s), so that the runner
    /// counts a client as attached for the approval, opens the gate and returns the
    /// approval request the server then sends.
    pub fn approval_request_once_attached(&mut self, dir: &Path) -> Value {
        wait_until(TURN_TIMEOUT, "the server's attach, renewed", || {
            (inbox_attaches(dir) >= 2).then_some(())
        });
        self.release("go");
        let (request, _) = self
            .server
            .wait_for(TURN_TIMEOUT, |m| {
                m["method"] == "item/commandExecution/requestApproval"
            })
            .unwrap_or_else(|(err, got)| panic!("no approval request: {err}: {got:#?}"));
        request
    }

    /// Accepts the approval `request` of `turn`, whose directory is `dir`; asserts the turn
    /// completed and its log holds one resolution, the client's acceptance.
    pub fn accept_approval(&mut self, request: &Value, turn: &str, dir: &Path) {
        self.server
            .send_json(&json!({"id": request["id"], "result": {"decision": "accept"}}));
        let messages = self.until_completed(turn);
        assert_eq!(completed_turn(&messages, turn)["status"], "completed");
        let resolved = events_of_type(dir, "approvalResolved");
        assert_eq!(resolved.len(), 1, "{resolved:?}");
        assert_eq!(
            (
                &resolved[0]["event"]["decision"],
                &resolved[0]["event"]["decidedBy"]
            ),
            (&json!("accept"), &json!("client"))
        );
    }

    /// Runs one turn with `prompt` to its `turn/completed`; asserts it completed and returns
    /// its turn id and its messages.
    pub fn completed_turn(&mut self, prompt: &str) -> (String, Vec<Value>) {
        let turn = self.start_turn(prompt);
        let messages = self.until_completed(&turn);
        let completed = &messages.last().unwrap()["params"]["turn"];
        assert_eq!(
            completed["status"],
            "completed",
            "turn {prompt:?}: {messages:#?}\nbackend.stdout:\n{}\nbackend.stderr:\n{}",
            self.backend_stdout(&turn),
            self.backend_stderr(&turn)
        );
        (turn, messages)
    }

    /// Checks that nothing more about `turn_id` arrives: a request made now is answered
    /// with no notification of that turn before it.
    pub fn assert_turn_silent(&mut self, turn_id: &str) {
        let before_len = self.pending.len();
        self.request("thread/loaded/list", json!({}));
        let late: Vec<&Value> = self.pending[before_len..]
            .iter()
            .filter(|m| mentions_turn(m, turn_id))
            .collect();
        assert!(
            late.is_empty(),
            "notifications after turn/completed: {late:#?}"
        );
    }

    /// The processes the fake agent recorded, as (pid, start time).
    pub fn recorded_pids(&self) -> Vec<(i32, u64)> {
        recorded_pids(&self.sandbox)
    }

    /// The thread's directory, `<state>/threads/<id>`.
    pub fn thread_dir(&self) -> PathBuf {
        self.sandbox
            .state_dir()
            .join("threads")
            .join(&self.thread_id)
    }

    pub fn turn_dir(&self, turn_id: &str) -> PathBuf {
        self.thread_dir().join("turns").join(turn_id)
    }

    /// The turn's raw backend stdout, for failure messages.
    pub fn backend_stdout(&self, turn_id: &str) -> String {
        std::fs::read_to_string(self.turn_dir(turn_id).join("backend.stdout")).unwrap_or_default()
    }

    /// The turn's raw backend stderr, for failure messages.
    pub fn backend_stderr(&self, turn_id: &str) -> String {
        std::fs::read_to_string(self.turn_dir(turn_id).join("backend.stderr")).unwrap_or_default()
    }

    /// A JSON file of the turn's directory (`process.json`, `spec.json`, `exit.json`).
    pub fn turn_file(&self, turn_id: &str, name: &str) -> Value {
        read_json(&self.turn_dir(turn_id).join(name))
    }

    pub fn process_record(&self, turn_id: &str) -> Value {
        self.turn_file(turn_id, "process.json")
    }

    /// The turn's `spec.json`, what the runner was told to run.
    pub fn turn_spec(&self, turn_id: &str) -> Value {
        self.turn_file(turn_id, "spec.json")
    }

    /// The thread record on disk, `<state>/threads/<id>/thread.json`.
    pub fn thread_record(&self) -> Value {
        read_json(&self.thread_dir().join("thread.json"))
    }

    /// Checks every server message against Codex's own schema (stable and closed
    /// experimental), as the transcript tests do.
    pub fn assert_conforms(&self, messages: &[Value]) {
        let conformance = Conformance::load().unwrap_or_else(|e| panic!("{e}"));
        let mut checker = TrafficChecker::new(&conformance.schemas());
        for (id, method) in &self.checker_requests {
            checker.client_requested(id, method);
        }
        for message in messages {
            if let Err(err) = checker.server_sent(message) {
                panic!("does not conform to the Codex schema: {message}\n{err}");
            }
        }
    }
}

/// The processes the fake agent recorded in `sandbox` (its `pid` step), as (pid, start time).
pub fn recorded_pids(sandbox: &Sandbox) -> Vec<(i32, u64)> {
    let text = std::fs::read_to_string(sandbox.root().join("pids")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// Whether a message is a notification about `turn_id`.
pub fn mentions_turn(message: &Value, turn_id: &str) -> bool {
    message.get("method").is_some()
        && (message["params"]["turnId"] == turn_id || message["params"]["turn"]["id"] == turn_id)
}

/// The turn of the one `turn/completed` of `turn` among `messages` (asserted to be one).
pub fn completed_turn(messages: &[Value], turn: &str) -> Value {
    let done: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "turn/completed" && m["params"]["turn"]["id"] == turn)
        .collect();
    assert_eq!(done.len(), 1, "exactly one turn/completed: {messages:?}");
    done[0]["params"]["turn"].clone()
}

/// The records of the turn's `events.jsonl` in `dir` (none while it does not exist).
pub fn turn_events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records of type `kind` in the turn's `events.jsonl` in `dir`.
pub fn events_of_type(dir: &Path, kind: &str) -> Vec<Value> {
    turn_events(dir)
        .into_iter()
        .filter(|r| r["event"]["type"] == kind)
        .collect()
}

/// The turn's `exit.json` in `dir`.
pub fn exit_record(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("exit.json")).unwrap()).unwrap()
}

/// The `attach` lines a server following the turn in `dir` wrote into its control inbox.
pub fn inbox_attaches(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("control.inbox"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"op\":\"attach\""))
        .count()
}

/// The requests in the control inbox of the turn in `dir` other than a follower's `attach`
/// renewals (none while it does not exist).
pub fn inbox_requests(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("control.inbox"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["request"]["op"] != "attach")
        .collect()
}

/// `turns.toml` of the fake agent (`text`) with its provider taking approval answers on
/// stdin.
pub fn stdin_approvals(text: String) -> String {
    text.replacen(
        "args = [\"{prompt}\"]\n",
        "args = [\"{prompt}\"]\napprovals = \"stdin\"\n",
        1,
    )
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn path_str(path: &Path) -> String {
    path.to_str().expect("UTF-8 path").to_owned()
}

pub fn with_method<'a>(messages: &'a [Value], method: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["method"] == method).collect()
}

/// The items of the `item/completed` notifications among `messages`, in order.
pub fn completed_items(messages: &[Value]) -> Vec<&Value> {
    with_method(messages, "item/completed")
        .into_iter()
        .map(|m| &m["params"]["item"])
        .collect()
}

/// The item types of the first turn of a `thread/read` response, in order.
pub fn read_item_types(read: &Value) -> Vec<&str> {
    read["result"]["thread"]["turns"][0]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{read}"))
        .iter()
        .filter_map(|i| i["type"].as_str())
        .collect()
}
