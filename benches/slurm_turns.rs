//! Turns on a real one-node Slurm (`scripts/cluster-up.sh slurm`): `N` fake-agent turns (default
//! 100), one per thread, started in the background through `[launcher] kind = "slurm"`; each
//! holds for `--hold-ms` (default 20,000 ms) after its first message, so they all run at once.
//! Prints how many completed, the `turn/start` answer time (the server waits for the job to
//! start and its runner to report ready), and the submit → first event latency: from the
//! `turn/start` request to the turn's first agent message on the wire.
//!
//! `cargo bench --bench slurm_turns [-- --turns N --hold-ms MS]`. Without `--bench` (`cargo
//! test --all-targets`) it is a smoke run of 3 short turns that judges no speed.

#![allow(clippy::disallowed_methods)]

#[allow(dead_code)] // shared with the other benches; this one uses part of it
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use support::server::Server;
use support::setup::{self, Kind, Sandbox};
use support::stats::Samples;

/// How long all turns together may take to complete after the last start.
const ALL_DONE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long one `turn/start` may take to answer (its job queued, then its runner ready).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (turns, hold_ms) = if bench {
        (value("--turns", 100), value("--hold-ms", 20_000))
    } else {
        (3, 100)
    };
    match run(turns as usize, hold_ms) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("slurm_turns: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the one-node Slurm (bounded); returns its `SLURM_CONF`.
fn slurm_up() -> Result<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster-up.sh");
    let out = Command::new("timeout")
        .arg("180")
        .arg(&script)
        .arg("slurm")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cluster-up slurm: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "cluster-up slurm failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("SLURM_CONF="))
        .map(str::to_owned)
        .ok_or_else(|| "cluster-up slurm printed no SLURM_CONF".to_owned())
}

fn config(sandbox: &Sandbox, hold_ms: u64) -> Result<String, String> {
    let script = sandbox.path("held.txt");
    std::fs::write(
        &script,
        format!("start\nmessage first\nsleep {hold_ms}\ncomplete\n"),
    )
    .map_err(|e| e.to_string())?;
    let fake = setup::agent_host_binary().with_file_name("fake-agent");
    Ok(format!(
        "default_provider = \"fake\"\n[providers.fake]\nkind = \"jsonl\"\ncommand = {:?}\n\
         args = [\"--script\", {:?}, \"{{prompt}}\"]\n[launcher]\nkind = \"slurm\"\n",
        fake.display().to_string(),
        script.display().to_string()
    ))
}

fn run(turns: usize, hold_ms: u64) -> Result<(), String> {
    let slurm_conf = slurm_up()?;
    let sandbox = Sandbox::new()?;
    let mut launch = sandbox.launch_with(
        Kind::AgentHost,
        &setup::agent_host_binary(),
        None,
        &config(&sandbox, hold_ms)?,
    )?;
    launch
        .env
        .push(("SLURM_CONF".to_owned(), slurm_conf.into()));
    let mut server = Server::spawn(&launch)?;
    server.call(
        0,
        "initialize",
        json!({"clientInfo": {"name": "bench", "version": "1"}}),
    )?;
    // Every thread first: no turn runs yet, so `call` skips nothing that matters.
    let cwd = sandbox.work_dir().display().to_string();
    let mut threads = Vec::with_capacity(turns);
    for i in 0..turns {
        let thread = server.call(1 + i as i64, "thread/start", json!({"cwd": cwd}))?;
        threads.push(thread.message["thread"]["id"].clone());
    }
    let mut tracker = Tracker::default();
    let started = Instant::now();
    for (i, thread_id) in threads.into_iter().enumerate() {
        let id = 100_000 + i as i64;
        let params = json!({"threadId": thread_id, "background": true,
            "input": [{"type": "text", "text": "go"}]});
        let at = Instant::now();
        server.send(&json!({"id": id, "method": "turn/start", "params": params}))?;
        let (answer, answered) =
            server.wait_for("the turn/start answer", ANSWER_TIMEOUT, |m, t| {
                tracker.observe(m, t);
                m.get("id") == Some(&json!(id))
            })?;
        let turn = answer["result"]["turn"]["id"]
            .as_str()
            .ok_or_else(|| format!("turn/start failed: {answer}"))?;
        tracker.started(turn, at, answered);
    }
    let submitted = started.elapsed();
    if !tracker.all_ended(turns) {
        server.wait_for("every turn/completed", ALL_DONE_TIMEOUT, |m, t| {
            tracker.observe(m, t);
            tracker.all_ended(turns)
        })?;
    }
    let table = tracker.table();
    print_table(turns, &table, submitted, started.elapsed());
    server.shutdown();
    if table.completed == turns {
        Ok(())
    } else {
        Err(format!("{} of {turns} turns completed", table.completed))
    }
}

/// What the wire said about each turn: every message goes through [`Tracker::observe`], also
/// while a `turn/start` answer is awaited, since earlier turns keep talking meanwhile.
#[derive(Default)]
struct Tracker {
    /// Turn id → when its `turn/start` was sent.
    sent: BTreeMap<String, Instant>,
    answers: Samples,
    /// Turn id → when its first agent message arrived (possibly before its answer was read).
    first_message: BTreeMap<String, Instant>,
    /// Turn id → its terminal status.
    ended: BTreeMap<String, String>,
}

/// The measured rows.
struct Table {
    answers: Samples,
    first: Samples,
    completed: usize,
}

impl Tracker {
    fn observe(&mut self, m: &serde_json::Value, at: Instant) {
        let turn = m["params"]["turnId"]
            .as_str()
            .or_else(|| m["params"]["turn"]["id"].as_str())
            .unwrap_or("");
        if turn.is_empty() {
            return;
        }
        if m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage" {
            self.first_message.entry(turn.to_owned()).or_insert(at);
        }
        if m["method"] == "turn/completed" {
            let status = m["params"]["turn"]["status"].as_str().unwrap_or("?");
            self.ended.insert(turn.to_owned(), status.to_owned());
        }
    }

    fn started(&mut self, turn: &str, sent: Instant, answered: Instant) {
        self.answers
            .push_ms(answered.saturating_duration_since(sent));
        self.sent.insert(turn.to_owned(), sent);
    }

    fn all_ended(&self, turns: usize) -> bool {
        self.sent.len() == turns && self.sent.keys().all(|turn| self.ended.contains_key(turn))
    }

    fn table(&self) -> Table {
        let mut first = Samples::default();
        for (turn, sent) in &self.sent {
            if let Some(at) = self.first_message.get(turn) {
                first.push_ms(at.saturating_duration_since(*sent));
            }
        }
        let completed = self
            .sent
            .keys()
            .filter(|turn| self.ended.get(*turn).is_some_and(|s| s == "completed"))
            .count();
        Table {
            answers: self.answers.clone(),
            first,
            completed,
        }
    }
}

#[allow(clippy::print_stdout)]
fn print_table(turns: usize, table: &Table, submitted: Duration, total: Duration) {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    println!("slurm_turns: {turns} background fake-agent turns through a one-node Slurm");
    println!("| metric | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, s) in [
        ("turn/start answer", &table.answers),
        ("submit → first event", &table.first),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} |",
            ms(s.median()),
            ms(s.percentile(90.0)),
            ms(s.percentile(99.0)),
            ms(s.max())
        );
    }
    println!(
        "completed {}/{turns}; all submitted in {:.1} s; all ended after {:.1} s",
        table.completed,
        submitted.as_secs_f64(),
        total.as_secs_f64()
    );
}
