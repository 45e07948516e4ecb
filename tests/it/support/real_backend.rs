//! Driving `agent-host app-server` whose turns run on a real agent CLI (`real_codex.rs`,
//! `real_claude.rs`): one sandboxed server with one thread, the turn directories it writes,
//! the conformance check of everything it sent, and a `/proc` scan of the turn's processes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::schema::{Conformance, TrafficChecker};
use super::{Sandbox, ServerProcess};

/// How long a real turn may take (it takes about a second).
pub const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// A sandboxed agent-host with one thread, started on a provider that runs a real CLI.
pub struct RealBackendHost {
    pub sandbox: Sandbox,
    pub server: ServerProcess,
    pub thread_id: String,
    checker_requests: Vec<(Value, String)>,
    /// Notifications that arrived before a response, not yet handed to the test.
    pending: Vec<Value>,
    next_id: i64,
}

impl RealBackendHost {
    /// Starts `agent-host app-server --config CONFIG` in `sandbox`, initializes, and starts a
    /// thread in the sandbox's work dir on `provider`, with `extra` merged into the
    /// `thread/start` params (e.g. `continueSession`).
    pub fn start(sandbox: Sandbox, config: &Path, provider: &str, extra: Value) -> RealBackendHost {
        RealBackendHost::start_with_env(sandbox, config, provider, extra, &BTreeMap::new())
    }

    /// As [`RealBackendHost::start`], with `env` set for the server (and so its runners).
    pub fn start_with_env(
        sandbox: Sandbox,
        config: &Path,
        provider: &str,
        extra: Value,
        env: &BTreeMap<String, String>,
    ) -> RealBackendHost {
        let server = ServerProcess::spawn(&sandbox.agent_host_spec(Some(config), &[], env));
        let mut host = RealBackendHost {
            sandbox,
            server,
            thread_id: String::new(),
            checker_requests: Vec::new(),
            pending: Vec::new(),
            next_id: 1,
        };
        host.server.initialize();
        let cwd = path_str(&host.sandbox.work_dir());
        let mut params = json!({"cwd": cwd, "modelProvider": provider});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        let started = host.request("thread/start", params);
        assert_eq!(
            started["result"]["thread"]["modelProvider"], provider,
            "{started}"
        );
        host.thread_id = started["result"]["thread"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("thread/start failed: {started}"))
            .to_owned();
        host
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.checker_requests.push((id.clone(), method.to_owned()));
        let (response, before) = self.server.request(id, method, params);
        self.pending.extend(before);
        response
    }

    pub fn start_turn(&mut self, text: &str) -> String {
        self.start_turn_with(json!([{"type": "text", "text": text}]))
    }

    /// Starts a turn with these `input` items; returns the turn id.
    pub fn start_turn_with(&mut self, input: Value) -> String {
        let response = self.request(
            "turn/start",
            json!({"threadId": self.thread_id, "input": input}),
        );
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

    /// Every message since the last call (also those that came before a response), up to
    /// and including the turn's `turn/completed`; `context` adds to a failure's message.
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

    pub fn until_completed(&mut self, turn_id: &str) -> Vec<Value> {
        self.until_completed_or(turn_id, &String::new)
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

    pub fn turn_dir(&self, turn_id: &str) -> PathBuf {
        self.sandbox
            .state_dir()
            .join("threads")
            .join(&self.thread_id)
            .join("turns")
            .join(turn_id)
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
        read_json(
            &self
                .sandbox
                .state_dir()
                .join("threads")
                .join(&self.thread_id)
                .join("thread.json"),
        )
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

/// A process as (pid, start time, command name), from `/proc/PID/stat`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proc {
    pub pid: i32,
    pub start_time: u64,
    pub ppid: i32,
    pub sid: i32,
    pub comm: String,
}

pub fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    // After the name: state (3), ppid (4), pgrp (5), session (6), …, starttime (22).
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    Some(Proc {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        comm,
    })
}

/// Every live (non-zombie) process of the machine. A `/proc` that cannot be read fails the
/// test: it must never read as "nothing left".
pub fn scan() -> Vec<Proc> {
    std::fs::read_dir("/proc")
        .unwrap_or_else(|err| panic!("cannot read /proc: {err}"))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(read_proc)
        .collect()
}

/// What became of a recorded process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// It runs (or sleeps, or is stopped).
    Running,
    /// It exited and waits for its parent to reap it.
    Zombie,
    /// No process with that pid and start time exists (reaped, or the pid was reused).
    Gone,
}

/// The state of the process `pid` that started at `start_time`.
pub fn proc_state(pid: i32, start_time: u64) -> ProcState {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Gone;
    };
    let Some(fields) = stat
        .rfind(')')
        .and_then(|close| stat.get(close + 2..))
        .map(|rest| rest.split_whitespace().collect::<Vec<&str>>())
    else {
        return ProcState::Gone;
    };
    // After the name: state (3), …, starttime (22).
    if fields.get(19).and_then(|f| f.parse().ok()) != Some(start_time) {
        return ProcState::Gone;
    }
    match fields.first() {
        Some(&"Z") | Some(&"X") => ProcState::Zombie,
        _ => ProcState::Running,
    }
}

/// The live processes whose ancestry leads to `root` (not `root` itself), or whose session
/// is one of `sessions`.
pub fn descendants(root: i32, sessions: &[i32]) -> Vec<Proc> {
    let all = scan();
    let parent: BTreeMap<i32, i32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    all.iter()
        .filter(|p| {
            if p.pid == root {
                return false;
            }
            if sessions.contains(&p.sid) {
                return true;
            }
            let mut at = p.ppid;
            let mut seen = BTreeSet::new();
            while at > 1 && seen.insert(at) {
                if at == root {
                    return true;
                }
                at = parent.get(&at).copied().unwrap_or(0);
            }
            false
        })
        .cloned()
        .collect()
}

/// Whether the process `pid` started at `start_time` still runs (a zombie has exited; a
/// reused pid is another process).
pub fn alive(pid: i32, start_time: u64) -> bool {
    proc_state(pid, start_time) == ProcState::Running
}

/// The runner's and the backend's identity from a turn's `process.json`:
/// ((runner pid, start), (backend pid, start), backend process group).
pub fn turn_processes(record: &Value) -> ((i32, u64), (i32, u64), i32) {
    let identity = |who: &str| {
        (
            record[who]["pid"].as_i64().unwrap() as i32,
            record[who]["startTime"].as_u64().unwrap(),
        )
    };
    (
        identity("runner"),
        identity("backend"),
        record["backend"]["pgid"].as_i64().unwrap() as i32,
    )
}

/// A real agent CLI the install script linked as `.cache/<link>`; a missing one fails the
/// test, naming the script (never a skip).
pub fn installed_cli(link: &str, name: &str) -> PathBuf {
    let bin = super::paths::repo_root().join(".cache").join(link);
    assert!(
        bin.is_file(),
        "the real {name} is missing (.cache/{link}): run scripts/install-test-deps.sh"
    );
    bin
}

/// Waits (bounded) until a process named `comm` runs among the processes of the turn whose
/// runner is `runner` (and of `sessions`); returns them.
pub fn wait_for_process(runner: i32, sessions: &[i32], comm: &str) -> Vec<Proc> {
    super::wait_until(
        TURN_TIMEOUT,
        super::Describe(|| {
            format!(
                "{comm} under the runner: {:#?}",
                descendants(runner, sessions)
            )
        }),
        || {
            let found = descendants(runner, sessions);
            found.iter().any(|p| p.comm == comm).then_some(found)
        },
    )
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
