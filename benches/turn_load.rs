//! Turn costs with the fake agent: what agent-host adds to a short turn, how long an
//! interrupt takes to end a turn whose backend is proven dead, and many turns at once.
//!
//! Everything is real: `agent-host app-server` over pipes, a detached runner per turn, and
//! `fake-agent` as a `jsonl` backend (see `support/fake_server.rs`).
//!
//! - Short turns: N turns of `start`, one `message`, `complete`, one after another:
//!   `turn/start` written → `turn/completed` read. The same script run by the bench as a bare
//!   `fake-agent --script FILE` (spawn → reaped) is the backend's own time; the difference of
//!   the medians is agent-host's own share of a turn.
//! - Interrupt: N turns whose backend prints a message and then sleeps; once the message's
//!   delta is read, `turn/interrupt` is written; the clock stops when `turn/completed`
//!   (status `interrupted`) is read, which the server sends only after the runner has seen the
//!   backend's process group gone (`docs/arch/runner.md`).
//! - Concurrent: C threads, then C `turn/start`s written at once, each a turn of M messages;
//!   every turn must complete. Reported: the time from the first `turn/start` to the last
//!   `turn/completed`, notifications per second over it, and the server's peak resident
//!   memory (`VmHWM`).
//!
//! `cargo bench --bench turn_load` (options after `--`: `--turns N`, `--interrupts N`,
//! `--concurrent C`, `--messages M`). Without `--bench` it is a smoke run with small counts.

// Benches spawn processes directly; `agent_host::process::spawn` is for the product's own.
#![allow(clippy::disallowed_methods)]

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "support/fake_server.rs"]
mod fake_server;
#[allow(dead_code)]
#[path = "support/figures.rs"]
mod figures;

use fake_server::{Server, TURN_TIMEOUT, contains, monotonic_ns};

/// The targets.
const TARGET_OWN_SHARE_MS: f64 = 2.0;
const TARGET_CONCURRENT_MIB: f64 = 64.0;

struct Plan {
    turns: usize,
    interrupts: usize,
    concurrent: usize,
    messages: usize,
    smoke: bool,
}

fn parse_args() -> Result<Plan, String> {
    let benching = std::env::args().any(|arg| arg == "--bench");
    let mut plan = match benching {
        true => Plan {
            turns: 200,
            interrupts: 20,
            concurrent: 200,
            messages: 50,
            smoke: false,
        },
        false => Plan {
            turns: 5,
            interrupts: 2,
            concurrent: 5,
            messages: 5,
            smoke: true,
        },
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--turns" => plan.turns = number("--turns")?,
            "--interrupts" => plan.interrupts = number("--interrupts")?,
            "--concurrent" => plan.concurrent = number("--concurrent")?,
            "--messages" => plan.messages = number("--messages")?,
            _ => {}
        }
    }
    Ok(plan)
}

fn main() -> ExitCode {
    let plan = match parse_args() {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("turn_load: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("turn_load: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Nearest-rank percentile of `values` (sorted here).
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len().max(1)) - 1)
        .copied()
        .unwrap_or(f64::NAN)
}

fn scripts(plan: &Plan) -> Vec<(&'static str, String)> {
    vec![
        ("short", "start\nmessage hi\ncomplete\n".to_owned()),
        ("hang", "start\nmessage ready\nsleep 60000\n".to_owned()),
        (
            "burst",
            format!("start\nflood {}\ncomplete\n", plan.messages),
        ),
    ]
}

fn run(plan: &Plan) -> Result<(), String> {
    if plan.smoke {
        println!("SMOKE RUN (no --bench): small counts, no speed judged\n");
    }
    let scratch = tempfile::Builder::new()
        .prefix("agent-host-bench-")
        .tempdir()
        .map_err(|err| format!("cannot create a temp dir: {err}"))?;
    let mut server = Server::start(scratch.path(), &scripts(plan))?;
    let outcome = measure(&mut server, plan, scratch.path());
    server.stop();
    let (short, bare, interrupts, concurrent) = outcome?;
    report(plan, &short, &bare, &interrupts, &concurrent);
    Ok(())
}

type Measured = (Vec<f64>, Vec<f64>, Vec<f64>, Concurrent);

fn measure(server: &mut Server, plan: &Plan, root: &std::path::Path) -> Result<Measured, String> {
    server.initialize()?;
    eprintln!("turn_load: {} short turns…", plan.turns);
    // One untimed turn: the first runner start pays for cold caches.
    server.run_turn("short")?;
    let mut short = Vec::new();
    for _ in 0..plan.turns {
        let turn = server.run_turn("short")?;
        short.push((turn.completed_ns - turn.sent_ns) as f64 / 1e6);
    }
    let bare = bare_runs(&root.join("scripts").join("short.txt"), plan.turns)?;
    eprintln!("turn_load: {} interrupted turns…", plan.interrupts);
    let mut interrupts = Vec::new();
    for _ in 0..plan.interrupts {
        interrupts.push(interrupt_turn(server)?);
    }
    eprintln!("turn_load: {} concurrent turns…", plan.concurrent);
    let concurrent = concurrent_turns(server, plan)?;
    Ok((short, bare, interrupts, concurrent))
}

/// The script run by the bench as a bare `fake-agent --script FILE`: spawn → reaped (ms).
fn bare_runs(script: &std::path::Path, count: usize) -> Result<Vec<f64>, String> {
    let mut times = Vec::new();
    for _ in 0..count + 1 {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_fake-agent"))
            .arg("--script")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|err| format!("cannot run fake-agent: {err}"))?;
        if !status.success() {
            return Err(format!("bare fake-agent ended {status}"));
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // The first run is the cold one, left out as for the turns.
    Ok(times.split_off(1))
}

/// One turn of `hang`: once its message arrived, `turn/interrupt` written → `turn/completed`
/// (interrupted) read, in ms.
fn interrupt_turn(server: &mut Server) -> Result<f64, String> {
    let params = json!({
        "threadId": server.thread_id,
        "input": [{"type": "text", "text": "script:hang"}],
    });
    let (_, value) = server.request("turn/start", params)?;
    let turn_id = value["result"]["turn"]["id"]
        .as_str()
        .ok_or_else(|| format!("turn/start gave no turn id: {value}"))?
        .to_owned();
    let deadline = Instant::now() + TURN_TIMEOUT;
    loop {
        let stamped = server.next_line(deadline, "the hang turn's message")?;
        if contains(&stamped.line, b"\"item/agentMessage/delta\"") {
            break;
        }
    }
    let sent_ns = monotonic_ns();
    server.send(&json!({"id": "interrupt", "method": "turn/interrupt",
        "params": {"threadId": server.thread_id, "turnId": turn_id}}))?;
    loop {
        let stamped = server.next_line(deadline, "turn/completed after turn/interrupt")?;
        if !contains(&stamped.line, b"\"turn/completed\"") {
            continue;
        }
        let value: Value = serde_json::from_slice(&stamped.line)
            .map_err(|err| format!("turn/completed is not JSON: {err}"))?;
        let status = &value["params"]["turn"]["status"];
        if status != "interrupted" {
            return Err(format!("the interrupted turn ended {status}"));
        }
        return Ok((stamped.at_ns - sent_ns) as f64 / 1e6);
    }
}

/// What the concurrent turns showed.
struct Concurrent {
    turns: usize,
    completed: usize,
    elapsed_ms: f64,
    notifications: u64,
    peak_rss_mib: f64,
    rss_before_mib: f64,
}

/// A field of `/proc/PID/status` in KiB, as MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn concurrent_turns(server: &mut Server, plan: &Plan) -> Result<Concurrent, String> {
    let mut threads = Vec::new();
    for _ in 0..plan.concurrent {
        let (_, started) = server.request("thread/start", json!({}))?;
        let id = started["result"]["thread"]["id"]
            .as_str()
            .ok_or_else(|| format!("thread/start gave no thread id: {started}"))?;
        threads.push(id.to_owned());
    }
    let pid = server.pid();
    let rss_before_mib = status_mib(pid, "VmRSS:");
    let sent_ns = monotonic_ns();
    for (i, thread) in threads.iter().enumerate() {
        server.send(
            &json!({"id": format!("burst-{i}"), "method": "turn/start", "params": {
            "threadId": thread, "input": [{"type": "text", "text": "script:burst"}]}}),
        )?;
    }
    let deadline = Instant::now() + TURN_TIMEOUT;
    let (mut completed, mut ended, mut notifications, mut last_ns) = (0, 0, 0u64, sent_ns);
    while ended < plan.concurrent {
        let stamped = server.next_line(deadline, "the concurrent turns' turn/completed")?;
        if !contains(&stamped.line, b"\"method\"") {
            // A response: each `turn/start` must have a result (a turn's own `"error":null`
            // is part of a result).
            let response: Value = serde_json::from_slice(&stamped.line)
                .map_err(|err| format!("a response is not JSON: {err}"))?;
            if response.get("result").is_none() {
                return Err(format!("a turn/start failed: {response}"));
            }
            continue;
        }
        notifications += 1;
        last_ns = stamped.at_ns;
        if contains(&stamped.line, b"\"turn/completed\"") {
            ended += 1;
            if contains(&stamped.line, b"\"status\":\"completed\"") {
                completed += 1;
            }
        }
    }
    Ok(Concurrent {
        turns: plan.concurrent,
        completed,
        elapsed_ms: (last_ns - sent_ns) as f64 / 1e6,
        notifications,
        peak_rss_mib: status_mib(pid, "VmHWM:"),
        rss_before_mib,
    })
}

fn report(plan: &Plan, short: &[f64], bare: &[f64], interrupts: &[f64], c: &Concurrent) {
    let fake = "n/a: codex app-server has no pluggable backend to run the fake agent";
    let (turn_p50, turn_p99) = (percentile(short, 50.0), percentile(short, 99.0));
    let bare_p50 = percentile(bare, 50.0);
    let own = turn_p50 - bare_p50;
    let rate = c.notifications as f64 * 1000.0 / c.elapsed_ms;
    println!(
        "turn_load (fake agent); {} short turns, {} interrupts, {} concurrent turns of {} messages",
        plan.turns, plan.interrupts, plan.concurrent, plan.messages
    );
    println!();
    println!("| metric | agent-host | target |");
    println!("|---|---|---|");
    println!(
        "| short turn, turn/start → turn/completed, p50 / p99 (ms) | {turn_p50:.2} / {turn_p99:.2} | |"
    );
    println!("| the same script as a bare fake-agent, spawn → exit, p50 (ms) | {bare_p50:.2} | |");
    println!(
        "| agent-host's own share of a short turn, p50 (ms) | {own:.2} | < {TARGET_OWN_SHARE_MS} |"
    );
    println!(
        "| turn/interrupt → turn/completed (backend proven dead), p50 / p99 (ms) | {:.2} / {:.2} | |",
        percentile(interrupts, 50.0),
        percentile(interrupts, 99.0)
    );
    println!(
        "| concurrent turns completed | {} of {} | all |",
        c.completed, c.turns
    );
    println!(
        "| concurrent: first turn/start → last turn/completed (ms) | {:.0} | |",
        c.elapsed_ms
    );
    println!("| concurrent: notifications/s | {rate:.0} | |");
    println!(
        "| concurrent: server VmRSS before / peak VmHWM (MiB) | {:.1} / {:.1} | < {TARGET_CONCURRENT_MIB} |",
        c.rss_before_mib, c.peak_rss_mib
    );
    figures::record("turn_short_p50", Ok(turn_p50), figures::none(fake));
    figures::record("turn_short_p99", Ok(turn_p99), figures::none(fake));
    figures::record("turn_bare_backend_p50", Ok(bare_p50), figures::none(fake));
    figures::record("turn_own_share_p50", Ok(own), figures::none(fake));
    let interrupt_p50 = percentile(interrupts, 50.0);
    figures::record("interrupt_p50", Ok(interrupt_p50), figures::none(fake));
    let interrupt_p99 = percentile(interrupts, 99.0);
    figures::record("interrupt_p99", Ok(interrupt_p99), figures::none(fake));
    let all = (c.completed == c.turns) as u8 as f64;
    figures::record("concurrent_all_completed", Ok(all), figures::none(fake));
    figures::record(
        "concurrent_completed",
        Ok(c.completed as f64),
        figures::none(fake),
    );
    figures::record(
        "concurrent_peak_rss",
        Ok(c.peak_rss_mib),
        figures::none(fake),
    );
    figures::record(
        "concurrent_notifications_per_s",
        Ok(rate),
        figures::none(fake),
    );
    figures::record(
        "concurrent_elapsed_ms",
        Ok(c.elapsed_ms),
        figures::none(fake),
    );
}
