//! Turn benchmarks (issue #4): how long a backend event takes to reach the client as a
//! notification, and how many notifications per second a turn can push end to end.
//!
//! Everything is real: `agent-host app-server` over pipes, a detached runner per turn, and
//! `fake-agent` as a `jsonl` backend. The fake agent's `stamp N [EVERY_US]` step prints `N`
//! agent messages whose text is `stamp I NANOS`, `NANOS` being `CLOCK_MONOTONIC` read just
//! before the line is written. The runner maps each message to three records (item started,
//! agent message delta, item completed) and the server sends one notification for each. A
//! reader thread here reads the server's stdout and stamps every line with the same clock as
//! soon as `read` returns it; the delta's latency is that stamp minus `NANOS`.
//!
//! - Latency: 10,000 messages paced one every 500 µs (a steady stream well below the
//!   throughput limit, so the numbers are the pipeline's delay, not a backlog).
//! - Throughput: 100,000 messages as fast as the fake agent can print them, three rounds;
//!   notifications per second from the first to the last notification of the backend's items.
//!
//! `cargo bench --bench turn_events` builds this and both binaries with the release profile
//! (`target/release/`). Counts can be changed with `--latency N`, `--pace-us US`,
//! `--throughput N` and `--rounds N` after `--`. Without `--bench` (`cargo test
//! --all-targets`) it is a smoke run with small counts that judges no speed.

// Benches spawn processes directly (the server under test); `agent_host::process::spawn` is
// for the product's own children.
#![allow(clippy::disallowed_methods)]

use std::process::ExitCode;

use serde_json::Value;

#[allow(dead_code)]
#[path = "support/fake_server.rs"]
mod fake_server;
#[allow(dead_code)]
#[path = "support/figures.rs"]
mod figures;

use fake_server::{Server, TurnLines};

/// The targets of issue #4.
const TARGET_P50_US: f64 = 1_000.0;
const TARGET_P99_US: f64 = 5_000.0;
const TARGET_RATE: f64 = 100_000.0;

/// What the run does; defaults are the counts.
struct Plan {
    latency_messages: u64,
    pace_us: u64,
    throughput_messages: u64,
    rounds: usize,
    smoke: Smoke,
}

/// Whether this is `cargo test --all-targets` running the bench without `--bench`: then the
/// counts are small, and the run only shows the harness still works; it judges no speed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Smoke {
    Yes,
    No,
}

fn main() -> ExitCode {
    let plan = match parse_args() {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("turn_events: {message}");
            return ExitCode::from(2);
        }
    };
    match run(&plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("turn_events: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Plan, String> {
    let benching = std::env::args().any(|arg| arg == "--bench");
    let mut plan = match benching {
        true => Plan {
            latency_messages: 10_000,
            pace_us: 500,
            throughput_messages: 100_000,
            rounds: 3,
            smoke: Smoke::No,
        },
        false => Plan {
            latency_messages: 200,
            pace_us: 500,
            throughput_messages: 2_000,
            rounds: 1,
            smoke: Smoke::Yes,
        },
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--latency" => plan.latency_messages = number("--latency")?,
            "--pace-us" => plan.pace_us = number("--pace-us")?,
            "--throughput" => plan.throughput_messages = number("--throughput")?,
            "--rounds" => plan.rounds = number("--rounds")?.max(1) as usize,
            // `cargo bench` passes `--bench`; filters and other harness flags do not apply.
            _ => {}
        }
    }
    Ok(plan)
}

fn run(plan: &Plan) -> Result<(), String> {
    if plan.smoke == Smoke::Yes {
        println!("SMOKE RUN (no --bench): small counts, no speed judged");
        println!();
    }
    print_machine();
    println!();
    println!("Method");
    println!(
        "  latency: {} agent messages, one every {} us; latency = client read time - backend write time (CLOCK_MONOTONIC, ns)",
        plan.latency_messages, plan.pace_us
    );
    println!(
        "  throughput: {} agent messages as fast as possible, {} rounds (median shown); each message = 3 notifications",
        plan.throughput_messages, plan.rounds
    );
    println!();

    let scratch = tempfile::Builder::new()
        .prefix("agent-host-bench-")
        .tempdir()
        .map_err(|err| format!("cannot create a temp dir: {err}"))?;
    let scripts = [
        (
            "latency",
            format!(
                "start\nstamp {} {}\ncomplete\n",
                plan.latency_messages, plan.pace_us
            ),
        ),
        (
            "throughput",
            format!("start\nstamp {}\ncomplete\n", plan.throughput_messages),
        ),
    ];
    let mut server = Server::start(scratch.path(), &scripts)?;
    let outcome = measure(&mut server, plan);
    server.stop();
    let (latency, rounds) = outcome?;
    print_results(plan, &latency, &rounds);
    println!();
    println!("load average after the runs: {}", load_average());
    Ok(())
}

fn measure(server: &mut Server, plan: &Plan) -> Result<(Latency, Vec<Throughput>), String> {
    server.initialize()?;
    let turn = server.run_turn("latency")?;
    let latency = Latency::of(&turn, plan.latency_messages)?;
    let mut rounds = Vec::new();
    for _ in 0..plan.rounds {
        let turn = server.run_turn("throughput")?;
        rounds.push(Throughput::of(&turn, plan.throughput_messages)?);
    }
    Ok((latency, rounds))
}

/// A delta notification of a `stamp` message: its index, backend time and read time.
struct Delta {
    index: u64,
    sent_ns: u64,
    read_ns: u64,
}

impl TurnLines {
    /// The `stamp` deltas, checked to be exactly `0..count` in order, and the read times of
    /// the first and last notification about a backend item (agent message started, delta,
    /// completed), with how many there were.
    fn deltas(&self, count: u64) -> Result<(Vec<Delta>, u64, u64, u64), String> {
        let mut deltas = Vec::new();
        let mut first = None;
        let mut last = 0;
        let mut stream_notifications = 0;
        for stamped in &self.lines {
            let value: Value = serde_json::from_slice(&stamped.line)
                .map_err(|err| format!("a server line is not JSON: {err}"))?;
            let method = value["method"].as_str().unwrap_or("");
            let backend_item = match method {
                "item/agentMessage/delta" => true,
                "item/started" | "item/completed" => {
                    value["params"]["item"]["type"] == "agentMessage"
                }
                _ => false,
            };
            if !backend_item {
                continue;
            }
            stream_notifications += 1;
            first.get_or_insert(stamped.at_ns);
            last = stamped.at_ns;
            if method != "item/agentMessage/delta" {
                continue;
            }
            let text = value["params"]["delta"].as_str().unwrap_or("");
            let mut words = text.split(' ');
            let parsed = match (words.next(), words.next(), words.next()) {
                (Some("stamp"), Some(index), Some(sent)) => {
                    index.parse().ok().zip(sent.parse().ok())
                }
                _ => None,
            };
            let (index, sent_ns) = parsed.ok_or_else(|| format!("not a stamp delta: {text:?}"))?;
            deltas.push(Delta {
                index,
                sent_ns,
                read_ns: stamped.at_ns,
            });
        }
        if deltas.len() as u64 != count
            || deltas.iter().enumerate().any(|(i, d)| d.index != i as u64)
        {
            return Err(format!(
                "expected deltas 0..{count} in order, got {} deltas",
                deltas.len()
            ));
        }
        let first = first.ok_or("no notification of a backend item")?;
        Ok((deltas, first, last, stream_notifications))
    }
}

/// Percentiles of a sample in microseconds (nearest rank).
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut micros: Vec<f64>) -> Percentiles {
        micros.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let at = ((p / 100.0) * micros.len() as f64).ceil() as usize;
            micros[at.clamp(1, micros.len()) - 1]
        };
        Percentiles {
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: micros.last().copied().unwrap_or(0.0),
        }
    }
}

fn latencies_us(deltas: &[Delta]) -> Vec<f64> {
    deltas
        .iter()
        .map(|d| d.read_ns.saturating_sub(d.sent_ns) as f64 / 1_000.0)
        .collect()
}

/// The paced latency run.
struct Latency {
    percentiles: Percentiles,
    /// The backend's achieved rate (messages per second), to show the pacing held.
    backend_rate: f64,
}

impl Latency {
    fn of(turn: &TurnLines, count: u64) -> Result<Latency, String> {
        let (deltas, _, _, _) = turn.deltas(count)?;
        let span = deltas.last().map_or(0, |d| d.sent_ns) - deltas[0].sent_ns;
        Ok(Latency {
            percentiles: Percentiles::of(latencies_us(&deltas)),
            backend_rate: per_second(count.saturating_sub(1), span),
        })
    }
}

/// One flood round.
struct Throughput {
    /// Notifications about backend items per second, first to last.
    notifications_per_s: f64,
    deltas_per_s: f64,
    notifications: u64,
    /// What the fake agent itself managed (messages per second).
    backend_rate: f64,
    /// `turn/start` sent to `turn/completed` read, and response to `turn/completed`.
    turn_ms: f64,
    response_to_completed_ms: f64,
    /// Latency under the flood (queueing included).
    percentiles: Percentiles,
    /// Server CPU time per notification, in microseconds.
    server_cpu_us: f64,
}

impl Throughput {
    fn of(turn: &TurnLines, count: u64) -> Result<Throughput, String> {
        let (deltas, first, last, notifications) = turn.deltas(count)?;
        let span = last - first;
        let sent_span = deltas.last().map_or(0, |d| d.sent_ns) - deltas[0].sent_ns;
        Ok(Throughput {
            notifications_per_s: per_second(notifications, span),
            deltas_per_s: per_second(count, span),
            notifications,
            backend_rate: per_second(count, sent_span),
            turn_ms: (turn.completed_ns - turn.sent_ns) as f64 / 1e6,
            response_to_completed_ms: (turn.completed_ns - turn.response_ns) as f64 / 1e6,
            percentiles: Percentiles::of(latencies_us(&deltas)),
            server_cpu_us: turn.server_cpu_ns as f64 / 1_000.0 / notifications.max(1) as f64,
        })
    }
}

fn per_second(count: u64, span_ns: u64) -> f64 {
    if span_ns == 0 {
        return 0.0;
    }
    count as f64 * 1e9 / span_ns as f64
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim())
        .to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kb| format!("{} GiB", kb / 1_048_576),
        );
    println!("Machine");
    println!("  cpus (nproc): {cpus}");
    println!("  cpu model:    {model}");
    println!("  kernel:       {kernel}");
    println!("  memory:       {memory}");
    println!("  load average: {}", load_average());
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages: other work on the machine skews the numbers.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn print_results(plan: &Plan, latency: &Latency, rounds: &[Throughput]) {
    let mut sorted: Vec<&Throughput> = rounds.iter().collect();
    sorted.sort_by(|a, b| a.notifications_per_s.total_cmp(&b.notifications_per_s));
    let median = sorted[sorted.len() / 2];
    let mut rows = latency_rows(plan, latency);
    rows.extend(throughput_rows(plan, median, rounds.len()));
    print_table(&rows);
    emit_figures(latency, median);
    println!();
    println!("Throughput rounds (notifications/s):");
    for (n, round) in rounds.iter().enumerate() {
        println!(
            "  round {}: {:.0}/s, turn {:.0} ms, server CPU {:.1} us/notification, flood latency p50 {:.0} ms p99 {:.0} ms",
            n + 1,
            round.notifications_per_s,
            round.turn_ms,
            round.server_cpu_us,
            round.percentiles.p50 / 1000.0,
            round.percentiles.p99 / 1000.0
        );
    }
}

/// The figures `BENCHMARKS.md` reports (see `support/figures.rs`). Codex cannot run the fake
/// agent, so its side is empty with the reason.
fn emit_figures(latency: &Latency, median: &Throughput) {
    let fake = "n/a: codex app-server has no pluggable backend to run the fake agent";
    let us_to_ms = |us: f64| Ok(us / 1000.0);
    figures::record(
        "delta_latency_p50",
        us_to_ms(latency.percentiles.p50),
        figures::none(fake),
    );
    figures::record(
        "delta_latency_p99",
        us_to_ms(latency.percentiles.p99),
        figures::none(fake),
    );
    figures::record(
        "notifications_per_s",
        Ok(median.notifications_per_s),
        figures::none(fake),
    );
    figures::record(
        "server_cpu_per_notification_us",
        Ok(median.server_cpu_us),
        figures::none(fake),
    );
}

/// A value's mark: ` (missed)` when it misses its target, except in a smoke run.
fn mark(plan: &Plan, ok: bool) -> &'static str {
    match (ok, plan.smoke) {
        (false, Smoke::No) => " (missed)",
        (true, _) | (false, Smoke::Yes) => "",
    }
}

/// The rows (metric, value, target) of the latency run.
fn latency_rows(plan: &Plan, latency: &Latency) -> Vec<(String, String, String)> {
    let p = &latency.percentiles;
    vec![
        (
            format!("delta latency p50 ({} deltas)", plan.latency_messages),
            format!("{:.0} us{}", p.p50, mark(plan, p.p50 < TARGET_P50_US)),
            "< 1 ms".into(),
        ),
        (
            format!("delta latency p99 ({} deltas)", plan.latency_messages),
            format!("{:.0} us{}", p.p99, mark(plan, p.p99 < TARGET_P99_US)),
            "< 5 ms".into(),
        ),
        (
            "delta latency p90".into(),
            format!("{:.0} us", p.p90),
            "".into(),
        ),
        (
            "delta latency max".into(),
            format!("{:.0} us", p.max),
            "".into(),
        ),
        (
            "backend rate during the latency run".into(),
            format!("{:.0} msg/s", latency.backend_rate),
            "".into(),
        ),
    ]
}

/// The rows (metric, value, target) of the median throughput round of `rounds`.
fn throughput_rows(
    plan: &Plan,
    median: &Throughput,
    rounds: usize,
) -> Vec<(String, String, String)> {
    let fmt_rate = |r: f64| format!("{:.0}/s", r);
    vec![
        (
            format!(
                "notifications/s ({} notifications, median of {})",
                median.notifications, rounds
            ),
            format!(
                "{}{}",
                fmt_rate(median.notifications_per_s),
                mark(plan, median.notifications_per_s >= TARGET_RATE)
            ),
            ">= 100,000/s".into(),
        ),
        (
            "deltas/s (same window)".into(),
            fmt_rate(median.deltas_per_s),
            "".into(),
        ),
        (
            "fake agent's own rate".into(),
            format!("{:.0} msg/s", median.backend_rate),
            "".into(),
        ),
        (
            "turn/start sent -> turn/completed read".into(),
            format!("{:.0} ms", median.turn_ms),
            "".into(),
        ),
        (
            "turn/start response -> turn/completed read".into(),
            format!("{:.0} ms", median.response_to_completed_ms),
            "".into(),
        ),
        (
            "server CPU per notification (all threads)".into(),
            format!("{:.1} us", median.server_cpu_us),
            "".into(),
        ),
        (
            "delta latency under the flood p50 / p99".into(),
            format!(
                "{:.0} ms / {:.0} ms",
                median.percentiles.p50 / 1000.0,
                median.percentiles.p99 / 1000.0
            ),
            "".into(),
        ),
    ]
}

/// A Markdown table of (metric, value, target) rows.
fn print_table(rows: &[(String, String, String)]) {
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    println!(
        "| {:width$} | {:value_width$} | target |",
        "metric", "value"
    );
    println!(
        "|{}|{}|--------|",
        "-".repeat(width + 2),
        "-".repeat(value_width + 2)
    );
    for (metric, value, target) in rows {
        println!("| {metric:width$} | {value:value_width$} | {target} |");
    }
}
