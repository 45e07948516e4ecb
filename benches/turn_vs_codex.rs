//! Turn round trips side by side: `codex app-server` 0.169.0 and `agent-host app-server`
//! whose provider (kind `codex`) runs the same Codex binary as a fresh `codex app-server` per
//! turn, both against a loopback mock of the OpenAI Responses API (the real-Codex tests' mock,
//! `tests/it/support/mock_responses.rs`). agent-host runs twice: **cold** (each turn's backend
//! is started for it) and **warm** (`warm_spare = true`: the turn takes a backend a spare
//! started before it; `docs/arch/runner.md`, "Warm spares").
//!
//! Two scenarios, each on a new server with one thread:
//! - **message**: `turn/start` with a short prompt; the mock answers with a short assistant
//!   message (one SSE response).
//! - **tool**: the mock asks for `exec_command {"cmd": "echo hi"}`, Codex runs it (approval
//!   policy `never`, sandbox `read-only`), the mock gets the output in a second request and
//!   answers with a message.
//!
//! Timed: `turn/start` written → `turn/started` read, → the model request(s) at the mock, →
//! `turn/completed` read. A reader thread stamps every server line as it arrives and one
//! stamps every mock request. For agent-host the turn's own records split the time further:
//! runner took the turn (`process.json`), backend handed to the turn (`runnerStarted`), its
//! first event (`backendSession`, Codex's thread opened), backend exit seen (`turnEnded`);
//! those are wall-clock milliseconds. The first turn of each server (always cold: no spare
//! yet) is reported apart and left out of the medians.
//!
//! `cargo bench --bench turn_vs_codex` (options after `--`: `--turns N`, default 20;
//! `--tool-turns N`, default 20, 0 skips the tool scenario). Without `--bench` (`cargo test
//! --all-targets`) it is a smoke run (2 and 1 turns) that judges no speed. Without the
//! installed Codex (`scripts/install-test-deps.sh`) there is nothing to run: both columns say
//! so. Every wait has a deadline, every process is ended by pid, the mock stops by itself, all
//! state lives in a temporary directory. See `docs/benchmarks.md`.

// Benchmarks start the servers themselves with an explicit, cleared environment; the crate's
// rule that only `agent_host::process` spawns applies to the product, not to this harness.
#![allow(clippy::disallowed_methods)]

// Shared with `protocol_front`, which uses all of it; this bench uses a part.
#[allow(dead_code)]
mod support;

// The loopback mock of the Responses API, as the real-Codex tests use it (`mock_responses`
// reaches its HTTP side as `super::loopback`, so both sit at the crate root).
#[allow(dead_code)]
#[path = "../tests/it/support/loopback.rs"]
mod loopback;
#[allow(dead_code)]
#[path = "../tests/it/support/mock_responses.rs"]
mod mock_responses;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use mock_responses::{MockEvent, MockResponses, Output, Reply};
use support::figures;
use support::server::{Launch, Server};
use support::setup::{self, Kind, Sandbox};
use support::stats::Samples;

/// How long one turn may take, from `turn/start` to `turn/completed`.
const TURN_TIMEOUT: Duration = Duration::from_secs(60);
/// The prompt of every turn.
const PROMPT: &str = "Say hi.";
/// The assistant's answer in the message scenario.
const ANSWER: &str = "Hi! How can I help?";
/// The command of the tool scenario, and what it prints.
const COMMAND: &str = "echo hi";
const COMMAND_OUTPUT: &str = "hi";

/// How much work one invocation does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    turns: usize,
    tool_turns: usize,
    /// How long to wait after a turn completed before the next `turn/start` (a person
    /// reading the answer); 0: back to back.
    pause_ms: u64,
    /// A run without `--bench`: tiny counts, only to keep the harness working.
    smoke: bool,
}

impl Plan {
    fn from_args() -> Result<Plan, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let bench = args.iter().any(|a| a == "--bench");
        let mut plan = match bench {
            true => Plan {
                turns: 20,
                tool_turns: 20,
                pause_ms: 0,
                smoke: false,
            },
            false => Plan {
                turns: 2,
                tool_turns: 1,
                pause_ms: 0,
                smoke: true,
            },
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                iter.next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{name} needs a number"))
            };
            match arg.as_str() {
                "--turns" => plan.turns = number("--turns")?.max(1),
                "--tool-turns" => plan.tool_turns = number("--tool-turns")?,
                "--pause-ms" => plan.pause_ms = number("--pause-ms")? as u64,
                // Cargo passes `--bench`; libtest-style filters are ignored.
                _ => {}
            }
        }
        Ok(plan)
    }
}

/// What the model does in each turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// One request, answered with a short message.
    Message,
    /// One request answered with `exec_command`, a second one with a message.
    Tool,
}

impl Scenario {
    /// The mock's replies for one turn.
    fn replies(self) -> Vec<Reply> {
        let message = Reply::Complete {
            outputs: vec![Output::Message(ANSWER.to_owned())],
            usage: (20, 0, 6),
        };
        match self {
            Scenario::Message => vec![message],
            Scenario::Tool => vec![
                Reply::Complete {
                    outputs: vec![Output::ExecCommand(json!({"cmd": COMMAND}))],
                    usage: (20, 0, 8),
                },
                message,
            ],
        }
    }

    fn requests(self) -> usize {
        self.replies().len()
    }
}

/// One timed turn. Instants are offsets in milliseconds from `turn/start` written.
#[derive(Debug, Clone, Default)]
struct Turn {
    /// `turn/started` read.
    started: f64,
    /// When each model request reached the mock.
    requests: Vec<f64>,
    /// `turn/completed` read.
    completed: f64,
    /// `item/agentMessage/delta` notifications.
    deltas: Option<usize>,
    /// The first `item/agentMessage/delta` read.
    first_delta: Option<f64>,
    /// agent-host only: when the turn's runner took the turn (`process.json`).
    runner_started: Option<f64>,
    /// agent-host only: the turn's backend, from the turn's records (wall-clock ms).
    backend: Option<Backend>,
}

/// When agent-host's backend of a turn was handed to the turn (`runnerStarted`), opened
/// Codex's thread (`backendSession`) and exited (`turnEnded`); and, for a backend a warm
/// spare started, when that was and when Codex answered the spare's `initialize` (before
/// `turn/start`: negative).
#[derive(Debug, Clone, Copy, Default)]
struct Backend {
    spawned: f64,
    first_event: f64,
    exited: f64,
    spare_started: Option<f64>,
    spare_initialized: Option<f64>,
}

/// Every turn of one contender in one scenario.
struct Runs {
    first: Turn,
    turns: Vec<Turn>,
    /// Requests the mock does not serve (e.g. `GET /models`): method and path.
    unexpected: Vec<String>,
    /// Whether the server exited by itself when its stdin closed.
    exited: bool,
}

/// What runs the turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    /// `codex app-server`, one process and thread for every turn.
    AppServer,
    /// `agent-host app-server`, one process and thread; each turn starts its own `codex
    /// app-server`.
    AgentHost,
    /// The same with `warm_spare = true`: each turn takes the `codex app-server` a spare
    /// started before it (the server's first turn excepted).
    AgentHostWarm,
}

/// A contender and the Codex binary it runs.
struct Side {
    contender: Contender,
    codex: PathBuf,
}

/// Wall-clock milliseconds since the Unix epoch, with sub-millisecond digits.
fn wall_ms(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn ms_between(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

/// The mock, moved to a thread that stamps each of its events as it arrives.
struct StampedMock {
    base_url: String,
    events: Receiver<(Instant, MockEvent)>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StampedMock {
    fn start(script: Vec<Reply>, lifetime: Duration) -> StampedMock {
        let mock = MockResponses::start(script, lifetime);
        let base_url = mock.base_url();
        let (tx, events) = channel();
        let (stop, stopped) = channel::<()>();
        let thread = thread::spawn(move || {
            // A receive wakes at once on an event; the timeout only bounds how late `stop`
            // is noticed.
            while let Err(TryRecvError::Empty) = stopped.try_recv() {
                if let Some(event) = mock.next_event(Duration::from_millis(20))
                    && tx.send((Instant::now(), event)).is_err()
                {
                    break;
                }
            }
            // Dropping the mock shuts its connections down and joins its threads.
            drop(mock);
        });
        StampedMock {
            base_url,
            events,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn drain(&self) -> Vec<(Instant, MockEvent)> {
        self.events.try_iter().collect()
    }
}

impl Drop for StampedMock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// agent-host's config: the provider `codex` (kind `codex`, the adapter's own command line)
/// runs the installed binary with its own `CODEX_HOME`, with a warm spare or without.
fn agent_host_config(codex: &Path, codex_home: &Path, warm_spare: bool) -> String {
    format!(
        r#"default_provider = "codex"
[providers.codex]
kind = "codex"
command = {command:?}
warm_spare = {warm_spare}
[providers.codex.env]
CODEX_HOME = {codex_home:?}
"#,
        command = codex.to_string_lossy(),
        codex_home = codex_home.to_string_lossy(),
    )
}

impl Side {
    fn name(&self) -> &'static str {
        match self.contender {
            Contender::AppServer => "codex app-server",
            Contender::AgentHost => "agent-host",
            Contender::AgentHostWarm => "agent-host (warm spare)",
        }
    }

    /// How the contender runs in `sandbox` with its model requests going to `base_url`.
    fn launch(&self, sandbox: &Sandbox, base_url: &str) -> Result<Launch, String> {
        match self.contender {
            Contender::AppServer => {
                sandbox.launch_with(Kind::Codex, &self.codex, Some(base_url), "")
            }
            Contender::AgentHost | Contender::AgentHostWarm => {
                let codex_home = sandbox.path("codex-home");
                std::fs::create_dir_all(&codex_home)
                    .map_err(|e| format!("cannot create {}: {e}", codex_home.display()))?;
                let config = codex_home.join("config.toml");
                std::fs::write(&config, setup::quiet_codex_config(base_url))
                    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
                sandbox.launch_with(
                    Kind::AgentHost,
                    &setup::agent_host_binary(),
                    None,
                    &agent_host_config(
                        &self.codex,
                        &codex_home,
                        self.contender == Contender::AgentHostWarm,
                    ),
                )
            }
        }
    }

    /// The first turn and `turns` more of `scenario` on one new server and thread.
    fn run(&self, scenario: Scenario, turns: usize, pause: Duration) -> Result<Runs, String> {
        let sandbox = Sandbox::new()?;
        let script: Vec<Reply> = (0..=turns).flat_map(|_| scenario.replies()).collect();
        let lifetime = Duration::from_secs(60) + TURN_TIMEOUT.saturating_mul(turns as u32 + 1);
        let mock = StampedMock::start(script, lifetime);
        let mut server = Server::spawn(&self.launch(&sandbox, &mock.base_url)?)?;
        let outcome = self.turns(&sandbox, &mut server, &mock, (scenario, turns), pause);
        let exited = server.shutdown();
        let unexpected = mock
            .drain()
            .into_iter()
            .filter_map(|(_, event)| match event {
                MockEvent::Unexpected { request_line } => Some(request_line),
                _ => None,
            })
            .collect();
        drop(mock);
        let (first, turns) = outcome?;
        Ok(Runs {
            first,
            turns,
            unexpected,
            exited,
        })
    }

    fn turns(
        &self,
        sandbox: &Sandbox,
        server: &mut Server,
        mock: &StampedMock,
        (scenario, turns): (Scenario, usize),
        pause: Duration,
    ) -> Result<(Turn, Vec<Turn>), String> {
        server.call(
            0,
            "initialize",
            json!({"clientInfo": {"name": "agent_host_bench", "title": null, "version": "0.1.0"}}),
        )?;
        server.send(&json!({"method": "initialized"}))?;
        let cwd = sandbox.work_dir().to_string_lossy().into_owned();
        let started = server.call(
            1,
            "thread/start",
            json!({"cwd": cwd, "approvalPolicy": "never", "sandbox": "read-only"}),
        )?;
        let thread_id = started.message["thread"]["id"]
            .as_str()
            .ok_or_else(|| format!("thread/start: no thread id in {}", started.message))?
            .to_owned();
        let mut all = Vec::with_capacity(turns + 1);
        for i in 0..=turns {
            if i > 0 {
                // Pacing, not synchronisation: the time a person takes to read the answer,
                // which a warm spare has to get ready in.
                thread::sleep(pause);
            }
            let turn = self.turn(sandbox, server, mock, scenario, &thread_id, 2 + i as i64)?;
            all.push(turn);
        }
        let first = all.remove(0);
        Ok((first, all))
    }

    /// One turn: `turn/start` → `turn/completed`, checked and timed.
    fn turn(
        &self,
        sandbox: &Sandbox,
        server: &mut Server,
        mock: &StampedMock,
        scenario: Scenario,
        thread_id: &str,
        id: i64,
    ) -> Result<Turn, String> {
        // Events of an earlier turn are not this turn's.
        let _ = mock.drain();
        let input = json!([{"type": "text", "text": PROMPT, "text_elements": []}]);
        let wall_sent = SystemTime::now();
        let sent = Instant::now();
        server.send(&json!({"id": id, "method": "turn/start",
            "params": {"threadId": thread_id, "input": input}}))?;
        let mut turn_started = None;
        let mut turn_id = None;
        let mut deltas = Vec::new();
        let mut command_ok = false;
        let mut errors = Vec::new();
        let (completed, completed_at) =
            server.wait_for("turn/completed", TURN_TIMEOUT, |message, at| {
                let method = message["method"].as_str().unwrap_or_default();
                match method {
                    "turn/started" => {
                        turn_started.get_or_insert(at);
                    }
                    "item/agentMessage/delta" => deltas.push(at),
                    "item/completed" => {
                        let item = &message["params"]["item"];
                        if item["type"] == "commandExecution"
                            && item["exitCode"] == 0
                            && item["aggregatedOutput"]
                                .as_str()
                                .is_some_and(|out| out.contains(COMMAND_OUTPUT))
                        {
                            command_ok = true;
                        }
                    }
                    "error" => errors.push(message.clone()),
                    _ => {}
                }
                if message["id"] == id {
                    turn_id = message["result"]["turn"]["id"].as_str().map(str::to_owned);
                    // A failed `turn/start` ends the wait: no turn will complete.
                    return turn_id.is_none();
                }
                method == "turn/completed"
            })?;
        let Some(turn_id) = turn_id else {
            return Err(format!("{}: turn/start failed: {completed}", self.name()));
        };
        let status = &completed["params"]["turn"]["status"];
        if status != "completed" || !errors.is_empty() {
            return Err(format!(
                "{}: turn {turn_id} ended {status}: {completed} (errors: {errors:?})",
                self.name()
            ));
        }
        if scenario == Scenario::Tool && !command_ok {
            return Err(format!(
                "{}: turn {turn_id}: no completed commandExecution of {COMMAND:?} printing {COMMAND_OUTPUT:?}",
                self.name()
            ));
        }
        let turn_started =
            turn_started.ok_or_else(|| format!("{}: no turn/started", self.name()))?;
        let requests = self.requests(mock, sent, scenario)?;
        let (runner_started, backend) = match self.contender {
            Contender::AppServer => (None, None),
            Contender::AgentHost | Contender::AgentHostWarm => {
                let dir = sandbox
                    .state_dir()
                    .join("threads")
                    .join(thread_id)
                    .join("turns")
                    .join(&turn_id);
                let (runner, backend) = read_records(&dir, wall_ms(wall_sent))?;
                (Some(runner), Some(backend))
            }
        };
        Ok(Turn {
            started: ms_between(sent, turn_started),
            requests,
            completed: ms_between(sent, completed_at),
            deltas: Some(deltas.len()),
            first_delta: deltas.first().map(|&at| ms_between(sent, at)),
            runner_started,
            backend,
        })
    }

    /// The model requests of the turn that started at `sent`, as the mock stamped them.
    fn requests(
        &self,
        mock: &StampedMock,
        sent: Instant,
        scenario: Scenario,
    ) -> Result<Vec<f64>, String> {
        // The mock stamps a request as it arrives, before the turn can end, so every one is
        // in the channel by now or a moment later.
        let mut requests = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while requests.len() < scenario.requests() && Instant::now() < deadline {
            if let Ok((at, MockEvent::Request { body, .. })) =
                mock.events.recv_timeout(Duration::from_millis(100))
            {
                if requests.len() == 1 && !tool_output_in(&body) {
                    return Err(format!(
                        "{}: the second model request carries no tool output: {body}",
                        self.name()
                    ));
                }
                requests.push(ms_between(sent, at));
            }
        }
        match requests.len() == scenario.requests() {
            true => Ok(requests),
            false => Err(format!(
                "{}: the mock saw {} model requests in a turn, {} expected",
                self.name(),
                requests.len(),
                scenario.requests()
            )),
        }
    }
}

/// Whether a model request carries the output of the command (a `function_call_output`).
fn tool_output_in(body: &Value) -> bool {
    body["input"].as_array().is_some_and(|items| {
        items.iter().any(|item| {
            item["type"] == "function_call_output"
                && item["output"]
                    .as_str()
                    .is_some_and(|out| out.contains(COMMAND_OUTPUT))
        })
    })
}

/// The turn's records in `dir` as offsets (ms) from `sent_ms` (wall clock): when the runner
/// took the turn, and its backend's hand-over, first event and exit (the `turnEnded` record).
fn read_records(dir: &Path, sent_ms: f64) -> Result<(f64, Backend), String> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(name).display()))
    };
    let process: Value =
        serde_json::from_str(&read("process.json")?).map_err(|e| format!("process.json: {e}"))?;
    let runner_started = process["startedAtMs"]
        .as_f64()
        .ok_or("process.json has no startedAtMs")?;
    let events: Vec<Value> = read("events.jsonl")?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let at = |wanted: &dyn Fn(&str) -> bool| {
        events
            .iter()
            .find(|record| wanted(record["event"]["type"].as_str().unwrap_or_default()))
            .and_then(|record| record["atMs"].as_f64())
    };
    let backend_spawned = at(&|kind| kind == "runnerStarted").ok_or("no runnerStarted record")?;
    // Codex's thread, opened by `thread/start`, is recorded as the backend's session.
    let first_backend_event =
        at(&|kind| kind == "backendSession").ok_or("no backendSession record")?;
    let turn_ended = at(&|kind| kind == "turnEnded").ok_or("no turnEnded record")?;
    let backend = Backend {
        spawned: backend_spawned - sent_ms,
        first_event: first_backend_event - sent_ms,
        exited: turn_ended - sent_ms,
        spare_started: process["spare"]["startedAtMs"]
            .as_f64()
            .map(|at| at - sent_ms),
        spare_initialized: process["spare"]["initializedAtMs"]
            .as_f64()
            .map(|at| at - sent_ms),
    };
    Ok((runner_started - sent_ms, backend))
}

/// Samples of `value` over the turns (those for which it exists).
fn samples(turns: &[Turn], value: impl Fn(&Turn) -> Option<f64>) -> Samples {
    let mut samples = Samples::default();
    for turn in turns {
        if let Some(v) = value(turn) {
            samples.push(v);
        }
    }
    samples
}

/// "median / p90" in ms, or "–".
fn spread(samples: &Samples) -> String {
    match (samples.median(), samples.percentile(90.0)) {
        (Some(median), Some(p90)) => format!("{median:.1} / {p90:.1}"),
        _ => "–".to_owned(),
    }
}

/// How a row reads its value from one turn (`None`: not there for this server).
type ReadTurn = Box<dyn Fn(&Turn) -> Option<f64>>;

/// A table row: the metric and how to read it from each turn.
struct Row {
    metric: String,
    read: ReadTurn,
}

fn row(metric: impl Into<String>, read: impl Fn(&Turn) -> Option<f64> + 'static) -> Row {
    Row {
        metric: metric.into(),
        read: Box::new(read),
    }
}

/// The rows of one scenario's table.
fn rows(scenario: Scenario) -> Vec<Row> {
    let last = scenario.requests();
    let mut rows = vec![
        row("turn/start → turn/completed", |t| Some(t.completed)),
        row("turn/start → turn/started", |t| Some(t.started)),
        row("turn/start → first item/agentMessage/delta", |t| {
            t.first_delta
        }),
        row("turn/start → model request #1 at the mock", |t| {
            t.requests.first().copied()
        }),
    ];
    if scenario == Scenario::Tool {
        rows.push(row(
            "model request #1 → #2 (exec_command run, output sent)",
            |t| Some(t.requests.get(1)? - t.requests.first()?),
        ));
    }
    rows.extend([
        row(format!("model request #{last} → turn/completed"), |t| {
            Some(t.completed - t.requests.last()?)
        }),
        row("agent-host: turn/start → runner took the turn", |t| {
            t.runner_started
        }),
        row(
            "agent-host: warm spare's backend started, before turn/start",
            |t| Some(-t.backend?.spare_started?),
        ),
        row(
            "agent-host: warm spare's Codex initialized, before turn/start",
            |t| Some(-t.backend?.spare_initialized?),
        ),
        row(
            "agent-host: runner took the turn → backend handed over",
            |t| Some(t.backend?.spawned - t.runner_started?),
        ),
        row("backend: handed over → Codex thread opened", |t| {
            let backend = t.backend?;
            Some(backend.first_event - backend.spawned)
        }),
        row("backend: handed over → model request #1", |t| {
            Some(t.requests.first()? - t.backend?.spawned)
        }),
        row(format!("backend: model request #{last} → exit"), |t| {
            Some(t.backend?.exited - t.requests.last()?)
        }),
        row("agent-host: backend exit → turn/completed read", |t| {
            Some(t.completed - t.backend?.exited)
        }),
        row("item/agentMessage/delta notifications per turn", |t| {
            t.deltas.map(|n| n as f64)
        }),
    ]);
    rows
}

/// A Markdown table with padded columns.
fn render(rows: &[Vec<String>]) -> String {
    let columns = rows[0].len();
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |row: &Vec<String>| -> String {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, &width)| format!("{text:<width$}"))
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let mut out = vec![line(&rows[0])];
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push(format!("|-{}-|", rule.join("-|-")));
    out.extend(rows[1..].iter().map(line));
    out.join("\n")
}

/// One scenario's table: a column per server.
fn table(scenario: Scenario, results: &[(String, Result<Runs, String>)]) -> String {
    let mut header = vec!["metric (ms, median / p90)".to_owned()];
    header.extend(results.iter().map(|(name, _)| name.clone()));
    let mut out = vec![header];
    for (i, row) in rows(scenario).iter().enumerate() {
        let mut cells = vec![row.metric.clone()];
        for (_, result) in results {
            cells.push(match result {
                Ok(runs) => spread(&samples(&runs.turns, &row.read)),
                Err(err) if i == 0 => err.lines().next().unwrap_or_default().to_owned(),
                Err(_) => "–".to_owned(),
            });
        }
        out.push(cells);
    }
    let mut first = vec!["first turn of the server (not in the above)".to_owned()];
    for (_, result) in results {
        first.push(match result {
            Ok(runs) => format!("{:.1}", runs.first.completed),
            Err(_) => "–".to_owned(),
        });
    }
    out.push(first);
    render(&out)
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let plan = match Plan::from_args() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("turn_vs_codex: {err}");
            return ExitCode::from(2);
        }
    };
    let load_before = setup::load_average();
    let codex = setup::codex_binary();
    let mut scenarios = vec![(Scenario::Message, plan.turns)];
    if plan.tool_turns > 0 {
        scenarios.push((Scenario::Tool, plan.tool_turns));
    }
    let mut tables = Vec::new();
    let mut failures = Vec::new();
    for &(scenario, turns) in &scenarios {
        let pause = Duration::from_millis(plan.pause_ms);
        let results = run_scenario(&codex, (scenario, turns), pause, &mut failures);
        tables.push((scenario, turns, results));
    }

    emit_figures(&tables);
    print_head(plan, &load_before);
    for (scenario, turns, results) in &tables {
        print_scenario(*scenario, *turns, results);
    }
    println!();
    println!(
        "The agent-host backend rows are from the turn's records (process.json, events.jsonl): \
         wall-clock milliseconds, so ±1 ms. A warm turn's backend was started by its spare \
         before turn/start (the row says how long before) and is handed over when the runner \
         takes the turn; a cold turn's is started then."
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("turn_vs_codex: {failure}");
        }
        ExitCode::FAILURE
    }
}

/// The figures `BENCHMARKS.md` reports (see `support::figures`): agent-host cold and warm
/// against `codex app-server`, and agent-host's own share of the turn.
type Tables = [(Scenario, usize, Vec<(String, Result<Runs, String>)>)];

fn emit_figures(tables: &Tables) {
    let median =
        |results: &[(String, Result<Runs, String>)], index: usize, read: &ReadTurn| match &results
            [index]
            .1
        {
            Ok(runs) => figures::some(samples(&runs.turns, read).median(), "no samples"),
            Err(err) => figures::none(err),
        };
    // Columns: 0 codex app-server, 1 agent-host cold, 2 agent-host warm (`run_scenario`).
    for (scenario, _, results) in tables {
        let prefix = match scenario {
            Scenario::Message => "real_turn",
            Scenario::Tool => "real_tool_turn",
        };
        let end: ReadTurn = Box::new(|t| Some(t.completed));
        let first_delta: ReadTurn = Box::new(|t| t.first_delta);
        let started: ReadTurn = Box::new(|t| Some(t.started));
        // The turn minus the backend's own time in it (hand-over → exit): what agent-host adds.
        let own: ReadTurn = Box::new(|t| {
            let backend = t.backend?;
            t.runner_started?;
            Some(t.completed - (backend.exited - backend.spawned))
        });
        let in_process = "n/a: codex app-server runs the model loop in its own process";
        for (id, read) in [
            ("end", &end),
            ("first_delta", &first_delta),
            ("started", &started),
        ] {
            figures::record(
                &format!("{prefix}_{id}_p50"),
                median(results, 1, read),
                median(results, 0, read),
            );
        }
        figures::record(
            &format!("{prefix}_own_share_p50"),
            median(results, 1, &own),
            figures::none(in_process),
        );
        for (id, read) in [("end", &end), ("first_delta", &first_delta)] {
            figures::record(
                &format!("{prefix}_warm_{id}_p50"),
                median(results, 2, read),
                median(results, 0, read),
            );
        }
    }
}

/// One scenario run by every contender, each result under its column header; a contender's
/// error is added to `failures` unless Codex is missing altogether.
#[allow(clippy::print_stderr)]
fn run_scenario(
    codex: &Result<PathBuf, String>,
    (scenario, turns): (Scenario, usize),
    pause: Duration,
    failures: &mut Vec<String>,
) -> Vec<(String, Result<Runs, String>)> {
    let mut results = Vec::new();
    for contender in [
        Contender::AppServer,
        Contender::AgentHost,
        Contender::AgentHostWarm,
    ] {
        let header = column_header(contender);
        let result = match codex {
            Ok(codex) => {
                let side = Side {
                    contender,
                    codex: codex.clone(),
                };
                eprintln!(
                    "turn_vs_codex: {}, {scenario:?} scenario, 1 + {turns} turns…",
                    side.name()
                );
                side.run(scenario, turns, pause)
            }
            Err(missing) => Err(missing.clone()),
        };
        if let Err(err) = &result
            && codex.is_ok()
        {
            failures.push(format!("{header}, {scenario:?}: {err}"));
        }
        results.push((header, result));
    }
    results
}

/// The table column of a contender.
fn column_header(contender: Contender) -> String {
    match contender {
        Contender::AppServer => format!("codex app-server {}", setup::CODEX_VERSION),
        Contender::AgentHost => "agent-host, cold".to_owned(),
        Contender::AgentHostWarm => "agent-host, warm spare".to_owned(),
    }
}

/// The head of the report: date, smoke warning, machine, load and method.
#[allow(clippy::print_stdout)]
fn print_head(plan: Plan, load_before: &str) {
    println!("turn_vs_codex, {} (UTC)", setup::today_utc());
    if plan.smoke {
        println!(
            "SMOKE RUN (no --bench: whatever profile `cargo test` built, tiny counts): \
             not a measurement; run `cargo bench --bench turn_vs_codex`"
        );
    }
    println!("machine: {}", setup::machine());
    println!(
        "load average (1 min) at start {load_before}, at end {}",
        setup::load_average()
    );
    println!(
        "method: one server and one thread per scenario, a loopback mock of the Responses API \
         (SSE); a first turn, then N timed turns; prompt {PROMPT:?}; codex app-server with \
         CODEX_HOME on the mock; agent-host's provider kind `codex` running the same binary \
         (a fresh `codex app-server` per turn) with the same config, cold and with \
         `warm_spare = true`; thread/start approvalPolicy never, sandbox read-only; {} \
         between a turn's end and the next turn/start",
        match plan.pause_ms {
            0 => "no pause".to_owned(),
            ms => format!("a pause of {ms} ms"),
        }
    );
}

/// One scenario's title, table and notes on the contenders' runs.
#[allow(clippy::print_stdout)]
fn print_scenario(scenario: Scenario, turns: usize, results: &[(String, Result<Runs, String>)]) {
    println!();
    match scenario {
        Scenario::Message => {
            println!("Message turn ({turns} turns): the model answers {ANSWER:?} (one request)")
        }
        Scenario::Tool => println!(
            "Tool turn ({turns} turns): the model asks for exec_command {COMMAND:?}, then \
             answers (two requests)"
        ),
    }
    println!();
    println!("{}", table(scenario, results));
    for (name, result) in results {
        if let Ok(runs) = result {
            let mut notes = Vec::new();
            if !runs.exited {
                notes.push("killed after the exit grace (did not exit on stdin EOF)".to_owned());
            }
            if !runs.unexpected.is_empty() {
                notes.push(format!(
                    "requests the mock does not serve: {:?}",
                    runs.unexpected
                ));
            }
            if !notes.is_empty() {
                println!("{name}: {}", notes.join("; "));
            }
        }
    }
}
