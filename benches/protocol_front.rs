//! Protocol-front benchmarks: agent-host and the real `codex app-server` side by side.
//!
//! `cargo bench --bench protocol_front` builds agent-host in the release profile, then measures
//! for each server, over fresh state directories: spawn → `initialize` response (on a new and
//! on an existing state directory), resident memory after `initialize` and after
//! `thread/start`, `thread/start` latency, and an empty `thread/list`; and for agent-host alone, one `thread/list` page of 25 over 100,000 stored
//! threads. It prints one Markdown table. See `docs/benchmarks.md`.
//!
//! Options (after `--`): `--runs N` (rounds per server, each a new and a restarted process;
//! default 20), `--threads N` (stored threads, default 100000), `--list-reps N` (timed
//! listings per page, default 200), `--no-codex`. Without `--bench` (that is, under `cargo test --all-targets`) it runs a tiny
//! smoke pass of agent-host only, so the harness cannot rot; it never judges speed.
//!
//! Every wait has a timeout, every process started is reaped (killed by pidfd if it does not
//! exit when its stdin closes), and nothing leaves the loopback interface.

// Benchmarks start the servers themselves with an explicit, cleared environment; the crate's
// rule that only `agent_host::process` spawns applies to the product, not to this harness.
#![allow(clippy::disallowed_methods)]

mod support;

use std::process::ExitCode;

use serde_json::json;

use support::figures;
use support::populate::populate;
use support::server::{Server, Snapshot};
use support::setup::{self, Kind, Sandbox};
use support::stats::Samples;

/// How much work one invocation does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    runs: usize,
    threads: usize,
    list_reps: usize,
    codex: bool,
    /// A run without `--bench`: tiny counts, only to keep the harness working.
    smoke: bool,
}

impl Plan {
    fn from_args() -> Result<Plan, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let bench = args.iter().any(|a| a == "--bench");
        let mut plan = if bench {
            Plan {
                runs: 20,
                threads: 100_000,
                list_reps: 200,
                codex: true,
                smoke: false,
            }
        } else {
            Plan {
                runs: 2,
                threads: 1_000,
                list_reps: 5,
                codex: false,
                smoke: true,
            }
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut number = |name: &str| -> Result<usize, String> {
                iter.next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n > 0)
                    .ok_or_else(|| format!("{name} needs a positive number"))
            };
            match arg.as_str() {
                "--runs" => plan.runs = number("--runs")?,
                "--threads" => plan.threads = number("--threads")?,
                "--list-reps" => plan.list_reps = number("--list-reps")?,
                "--no-codex" => plan.codex = false,
                // Cargo passes `--bench`; libtest-style filters are ignored.
                _ => {}
            }
        }
        Ok(plan)
    }
}

/// What the fresh-process runs of one server measured.
#[derive(Default)]
struct Front {
    spawn_to_initialize: Samples,
    restart_to_initialize: Samples,
    cpu_until_initialize: Samples,
    rss_after_initialize: Samples,
    anon_after_initialize: Samples,
    rss_after_start: Samples,
    anon_after_start: Samples,
    threads_after_start: Samples,
    first_start: Samples,
    later_starts: Samples,
    empty_list: Samples,
    killed: usize,
}

/// How many `thread/start`s each fresh process serves after the first (timed as "later").
const LATER_STARTS: i64 = 3;

/// How many threads the "loaded" memory figure starts in one process.
const LOADED_THREADS: i64 = 100;

/// Memory with many threads loaded: one process per round, `LOADED_THREADS` `thread/start`s.
#[derive(Default)]
struct Loaded {
    rss: Samples,
    anon: Samples,
}

/// `rounds` processes of one server, each starting `LOADED_THREADS` threads on a new state
/// directory; memory is read after the last answer.
fn measure_loaded(kind: Kind, program: &std::path::Path, rounds: usize) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    for _ in 0..rounds {
        let sandbox = Sandbox::new()?;
        let launch = sandbox.launch(kind, program)?;
        let work = sandbox.work_dir().to_string_lossy().into_owned();
        let mut server = Server::spawn(&launch)?;
        server.send(&initialize_request())?;
        server.wait_for_id(0)?;
        server.send(&json!({"method": "initialized"}))?;
        for id in 1..=LOADED_THREADS {
            server.call(id, "thread/start", json!({"cwd": work}))?;
        }
        let memory = Snapshot::of(server.pid())?;
        loaded.rss.push(kib_to_mib(memory.vm_rss_kib));
        loaded.anon.push(kib_to_mib(memory.rss_anon_kib));
        server.shutdown();
    }
    Ok(loaded)
}

fn initialize_request() -> serde_json::Value {
    json!({
        "id": 0,
        "method": "initialize",
        "params": {"clientInfo": {"name": "agent_host_bench", "title": null, "version": "0.1.0"}},
    })
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `runs` rounds of one server, each on a new state directory: a first process (spawn →
/// initialize → thread/start ×(1 + later) → thread/list → close stdin), then a second one on
/// the same state directory (spawn → initialize → close stdin).
fn measure_front(kind: Kind, program: &std::path::Path, runs: usize) -> Result<Front, String> {
    let mut front = Front::default();
    for _ in 0..runs {
        let sandbox = Sandbox::new()?;
        let launch = sandbox.launch(kind, program)?;
        let work = sandbox.work_dir().to_string_lossy().into_owned();

        let spawned = std::time::Instant::now();
        let mut server = Server::spawn(&launch)?;
        server.send(&initialize_request())?;
        let (init, at) = server.wait_for_id(0)?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}"));
        }
        front
            .spawn_to_initialize
            .push_ms(at.saturating_duration_since(spawned));
        let memory = Snapshot::of(server.pid())?;
        front.cpu_until_initialize.push(memory.cpu_ns as f64 / 1e6);
        front
            .rss_after_initialize
            .push(kib_to_mib(memory.vm_rss_kib));
        front
            .anon_after_initialize
            .push(kib_to_mib(memory.rss_anon_kib));
        server.send(&json!({"method": "initialized"}))?;

        let start = server.call(1, "thread/start", json!({"cwd": work}))?;
        front.first_start.push_ms(start.elapsed);
        let memory = Snapshot::of(server.pid())?;
        front.rss_after_start.push(kib_to_mib(memory.vm_rss_kib));
        front.anon_after_start.push(kib_to_mib(memory.rss_anon_kib));
        front.threads_after_start.push(memory.threads as f64);
        for id in 2..2 + LATER_STARTS {
            let start = server.call(id, "thread/start", json!({"cwd": work}))?;
            front.later_starts.push_ms(start.elapsed);
        }

        // No thread has had a turn, so neither server lists any: the cost of an empty page.
        let list = server.call(100, "thread/list", json!({"limit": 25}))?;
        front.empty_list.push_ms(list.elapsed);

        if !server.shutdown() {
            front.killed += 1;
        }

        // A second process on the same, now initialized, state: the everyday restart.
        let spawned = std::time::Instant::now();
        let mut server = Server::spawn(&launch)?;
        server.send(&initialize_request())?;
        let (init, at) = server.wait_for_id(0)?;
        if init.get("result").is_none() {
            return Err(format!("initialize (restart) failed: {init}"));
        }
        front
            .restart_to_initialize
            .push_ms(at.saturating_duration_since(spawned));
        if !server.shutdown() {
            front.killed += 1;
        }
    }
    Ok(front)
}

/// What the listing over many stored threads measured (agent-host only).
struct Listing {
    threads: usize,
    populate_secs: f64,
    first_request: Samples,
    first_page: Samples,
    middle_page: Samples,
}

fn measure_listing(plan: Plan) -> Result<Listing, String> {
    let sandbox = Sandbox::new()?;
    let work = sandbox.work_dir().to_string_lossy().into_owned();
    let populated = populate(&sandbox.state_dir(), &work, plan.threads)?;
    let launch = sandbox.launch(Kind::AgentHost, &setup::agent_host_binary())?;
    let mut server = Server::spawn(&launch)?;
    server.call(
        0,
        "initialize",
        json!({"clientInfo": {"name": "agent_host_bench", "title": null, "version": "0.1.0"}}),
    )?;
    server.send(&json!({"method": "initialized"}))?;

    let expect_page = |page: &serde_json::Value, what: &str| -> Result<(), String> {
        let count = page["data"].as_array().map_or(0, Vec::len);
        let want = plan.threads.min(25);
        if count != want || (page["nextCursor"].is_null() && plan.threads > 50) {
            return Err(format!(
                "{what}: {count} threads (want {want}), nextCursor {}",
                page["nextCursor"]
            ));
        }
        Ok(())
    };

    let mut listing = Listing {
        threads: plan.threads,
        populate_secs: populated.elapsed.as_secs_f64(),
        first_request: Samples::default(),
        first_page: Samples::default(),
        middle_page: Samples::default(),
    };
    let mut id = 1;
    let first = server.call(id, "thread/list", json!({"limit": 25}))?;
    expect_page(&first.message, "first page")?;
    listing.first_request.push_ms(first.elapsed);
    for _ in 0..plan.list_reps {
        id += 1;
        let page = server.call(id, "thread/list", json!({"limit": 25}))?;
        expect_page(&page.message, "first page")?;
        listing.first_page.push_ms(page.elapsed);
        id += 1;
        let page = server.call(
            id,
            "thread/list",
            json!({"limit": 25, "cursor": populated.middle_cursor}),
        )?;
        expect_page(&page.message, "middle page")?;
        listing.middle_page.push_ms(page.elapsed);
    }
    server.shutdown();
    Ok(listing)
}

/// One table cell: a value, or why there is none.
fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn range(samples: &Samples, decimals: usize) -> String {
    match (samples.min(), samples.max()) {
        (Some(lo), Some(hi)) => format!("{lo:.decimals$}–{hi:.decimals$}"),
        _ => "–".to_owned(),
    }
}

/// The rows of the front table: metric, how to read one server's results, target.
type Row = (&'static str, fn(&Front) -> String, &'static str);

fn front_rows() -> Vec<Row> {
    vec![
        (
            "spawn → initialize, new state dir, median (ms)",
            |f| cell(f.spawn_to_initialize.median(), 1),
            "< 10",
        ),
        (
            "spawn → initialize, new state dir, p90 (ms)",
            |f| cell(f.spawn_to_initialize.percentile(90.0), 1),
            "",
        ),
        (
            "spawn → initialize, new state dir, min–max (ms)",
            |f| range(&f.spawn_to_initialize, 1),
            "",
        ),
        (
            "spawn → initialize, existing state dir, median (ms)",
            |f| cell(f.restart_to_initialize.median(), 1),
            "",
        ),
        (
            "spawn → initialize, existing state dir, p90 (ms)",
            |f| cell(f.restart_to_initialize.percentile(90.0), 1),
            "",
        ),
        (
            "CPU time until initialize (new state dir), median (ms)",
            |f| cell(f.cpu_until_initialize.median(), 1),
            "",
        ),
        (
            "VmRSS after initialize, median (MiB)",
            |f| cell(f.rss_after_initialize.median(), 1),
            "",
        ),
        (
            "RssAnon after initialize, median (MiB)",
            |f| cell(f.anon_after_initialize.median(), 1),
            "",
        ),
        (
            "VmRSS after thread/start, median (MiB)",
            |f| cell(f.rss_after_start.median(), 1),
            "",
        ),
        (
            "RssAnon after thread/start, median (MiB)",
            |f| cell(f.anon_after_start.median(), 1),
            "",
        ),
        (
            "OS threads after thread/start, median",
            |f| cell(f.threads_after_start.median(), 0),
            "",
        ),
        (
            "thread/start, first in process, median (ms)",
            |f| cell(f.first_start.median(), 2),
            "",
        ),
        (
            "thread/start, first in process, p90 (ms)",
            |f| cell(f.first_start.percentile(90.0), 2),
            "",
        ),
        (
            "thread/start, 2nd–4th in process, median (ms)",
            |f| cell(f.later_starts.median(), 2),
            "",
        ),
        (
            "thread/list limit 25, none listed, median (ms)",
            |f| cell(f.empty_list.median(), 2),
            "",
        ),
    ]
}

/// The rows of the listing table (agent-host only): metric after "thread/list 25 of N
/// threads, ", how to read the results, target.
type ListRow = (&'static str, fn(&Listing) -> String, &'static str);

fn list_rows() -> Vec<ListRow> {
    vec![
        (
            "first page, first request (ms)",
            |l| cell(l.first_request.median(), 2),
            "",
        ),
        (
            "first page, median (ms)",
            |l| cell(l.first_page.median(), 2),
            "< 20",
        ),
        (
            "first page, p99 (ms)",
            |l| cell(l.first_page.percentile(99.0), 2),
            "",
        ),
        (
            "middle page (cursor), median (ms)",
            |l| cell(l.middle_page.median(), 2),
            "< 20",
        ),
        (
            "middle page (cursor), p99 (ms)",
            |l| cell(l.middle_page.percentile(99.0), 2),
            "",
        ),
    ]
}

/// A Markdown table with padded columns.
fn render(rows: &[[String; 4]]) -> String {
    let mut widths = [0usize; 4];
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |row: &[String; 4]| -> String {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let mut out = Vec::new();
    out.push(line(&rows[0]));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    out.push(format!("|-{}-|", rule.join("-|-")));
    out.extend(rows[1..].iter().map(line));
    out.join("\n")
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let plan = match Plan::from_args() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("protocol_front: {err}");
            return ExitCode::from(2);
        }
    };
    let load_before = setup::load_average();

    let agent_host = setup::agent_host_binary();
    eprintln!("protocol_front: agent-host, {} rounds…", plan.runs);
    let host_front = measure_front(Kind::AgentHost, &agent_host, plan.runs);
    let codex_front = measure_codex_front(plan);
    eprintln!(
        "protocol_front: agent-host, thread/list over {} threads…",
        plan.threads
    );
    let listing = measure_listing(plan);
    let loaded_rounds = plan.runs.clamp(1, 3);
    eprintln!("protocol_front: memory with {LOADED_THREADS} threads, {loaded_rounds} rounds…");
    let host_loaded = measure_loaded(Kind::AgentHost, &agent_host, loaded_rounds);
    let codex_loaded = match setup::codex_binary() {
        Ok(codex) if plan.codex => measure_loaded(Kind::Codex, &codex, loaded_rounds),
        Ok(_) => Err("codex: skipped".to_owned()),
        Err(err) => Err(err),
    };
    emit_figures(&host_front, &codex_front, &listing);
    emit_loaded(&host_loaded, &codex_loaded);

    let rows = table(plan, &host_front, &codex_front, &listing);
    print_report(plan, &load_before, &rows);
    print_notes(&host_front, &codex_front, &listing);
    let failures = failures(plan, &host_front, &codex_front, &listing);
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("protocol_front: {failure}");
        }
        ExitCode::FAILURE
    }
}

/// One figure per front row that `BENCHMARKS.md` reports (see `support::figures`).
fn emit_figures(
    host: &Result<Front, String>,
    codex: &Result<Front, String>,
    listing: &Result<Listing, String>,
) {
    type Read = fn(&Front) -> Option<f64>;
    let rows: [(&str, Read); 10] = [
        ("spawn_init_new_p50", |f| f.spawn_to_initialize.median()),
        ("spawn_init_new_p90", |f| {
            f.spawn_to_initialize.percentile(90.0)
        }),
        ("spawn_init_existing_p50", |f| {
            f.restart_to_initialize.median()
        }),
        ("rss_idle", |f| f.rss_after_initialize.median()),
        ("private_idle", |f| f.anon_after_initialize.median()),
        ("rss_thread_start", |f| f.rss_after_start.median()),
        ("private_thread_start", |f| f.anon_after_start.median()),
        ("thread_start_first_p50", |f| f.first_start.median()),
        ("thread_start_later_p50", |f| f.later_starts.median()),
        ("thread_list_empty_p50", |f| f.empty_list.median()),
    ];
    let side = |front: &Result<Front, String>, read: Read| match front {
        Ok(front) => figures::some(read(front), "no samples"),
        Err(err) => figures::none(err),
    };
    for (id, read) in rows {
        figures::record(id, side(host, read), side(codex, read));
    }
    type ReadList = fn(&Listing) -> Option<f64>;
    let list_rows: [(&str, ReadList); 4] = [
        ("thread_list_100k_first_p50", |l| l.first_page.median()),
        ("thread_list_100k_first_p99", |l| {
            l.first_page.percentile(99.0)
        }),
        ("thread_list_100k_middle_p50", |l| l.middle_page.median()),
        ("thread_list_100k_middle_p99", |l| {
            l.middle_page.percentile(99.0)
        }),
    ];
    let no_store = "n/a: Codex lists rollout files that only real model turns write";
    for (id, read) in list_rows {
        let ours = match listing {
            Ok(listing) => figures::some(read(listing), "no samples"),
            Err(err) => figures::none(err),
        };
        figures::record(id, ours, figures::none(no_store));
    }
}

/// The memory figures with `LOADED_THREADS` threads started.
fn emit_loaded(host: &Result<Loaded, String>, codex: &Result<Loaded, String>) {
    type Read = fn(&Loaded) -> Option<f64>;
    let rows: [(&str, Read); 2] = [
        ("rss_100_threads", |l| l.rss.median()),
        ("private_100_threads", |l| l.anon.median()),
    ];
    let side = |loaded: &Result<Loaded, String>, read: Read| match loaded {
        Ok(loaded) => figures::some(read(loaded), "no samples"),
        Err(err) => figures::none(err),
    };
    for (id, read) in rows {
        figures::record(id, side(host, read), side(codex, read));
    }
}

/// The real `codex app-server`'s rounds, unless the plan leaves Codex out or it is missing.
#[allow(clippy::print_stderr)]
fn measure_codex_front(plan: Plan) -> Result<Front, String> {
    if !plan.codex {
        return Err("codex: skipped (--no-codex, or a smoke run without --bench)".to_owned());
    }
    let codex = setup::codex_binary()?;
    eprintln!(
        "protocol_front: codex app-server {}, {} rounds…",
        setup::CODEX_VERSION,
        plan.runs
    );
    measure_front(Kind::Codex, &codex, plan.runs)
}

/// The table's rows: a header, the rows of both servers, then agent-host's listing rows. A
/// side that failed shows its error in its first row and a dash in the others.
fn table(
    plan: Plan,
    host_front: &Result<Front, String>,
    codex_front: &Result<Front, String>,
    listing: &Result<Listing, String>,
) -> Vec<[String; 4]> {
    let codex_header = format!("codex app-server {}", setup::CODEX_VERSION);
    let mut rows = vec![[
        "metric".to_owned(),
        "agent-host".to_owned(),
        codex_header,
        "target".to_owned(),
    ]];
    for (i, (metric, read, target)) in front_rows().into_iter().enumerate() {
        let side = |result: &Result<Front, String>| match result {
            Ok(front) => read(front),
            Err(err) if i == 0 => err.lines().next().unwrap_or_default().to_owned(),
            Err(_) => "–".to_owned(),
        };
        rows.push([
            metric.to_owned(),
            side(host_front),
            side(codex_front),
            target.to_owned(),
        ]);
    }
    let not_comparable = "n/a (no comparable store)".to_owned();
    for (i, (metric, read, target)) in list_rows().into_iter().enumerate() {
        let host = match listing {
            Ok(listing) => read(listing),
            Err(err) if i == 0 => err.lines().next().unwrap_or_default().to_owned(),
            Err(_) => "–".to_owned(),
        };
        rows.push([
            format!("thread/list 25 of {} threads, {metric}", plan.threads),
            host,
            not_comparable.clone(),
            (*target).to_owned(),
        ]);
    }
    rows
}

/// The report's head (date, smoke warning, machine, load) and the table.
#[allow(clippy::print_stdout)]
fn print_report(plan: Plan, load_before: &str, rows: &[[String; 4]]) {
    println!("protocol_front, {} (UTC)", setup::today_utc());
    if plan.smoke {
        println!(
            "SMOKE RUN (no --bench: whatever profile `cargo test` built, tiny counts): \
             not a measurement; run `cargo bench --bench protocol_front`"
        );
    }
    println!("machine: {}", setup::machine());
    println!(
        "load average (1 min) at start {load_before}, at end {}",
        setup::load_average()
    );
    println!();
    println!("{}", render(rows));
    println!();
}

/// The notes under the table: how many rounds each server ran, how the listing was stored.
#[allow(clippy::print_stdout)]
fn print_notes(
    host_front: &Result<Front, String>,
    codex_front: &Result<Front, String>,
    listing: &Result<Listing, String>,
) {
    let runs_note = |name: &str, front: &Result<Front, String>| {
        if let Ok(front) = front {
            println!(
                "{name}: {} rounds of a new + a restarted process ({} killed after the exit \
                 grace instead of exiting on stdin EOF)",
                front.spawn_to_initialize.len(),
                front.killed
            );
        }
    };
    runs_note("agent-host", host_front);
    runs_note("codex", codex_front);
    if let Ok(listing) = listing {
        println!(
            "listing: {} threads stored through agent_host::store in {:.1} s (not measured); {} timed requests per page",
            listing.threads,
            listing.populate_secs,
            listing.first_page.len()
        );
    }
    println!(
        "codex thread/list over many threads: n/a — Codex lists rollout files written by real turns; \
         making 100,000 of them is not practical, so only its empty listing is measured."
    );
}

/// What went wrong: agent-host's or the listing's error, and Codex's unless it was only left
/// out or missing.
fn failures(
    plan: Plan,
    host_front: &Result<Front, String>,
    codex_front: &Result<Front, String>,
    listing: &Result<Listing, String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, err) in [
        ("agent-host", host_front.as_ref().err()),
        ("listing", listing.as_ref().err()),
    ] {
        if let Some(err) = err {
            failures.push(format!("{name}: {err}"));
        }
    }
    if let Err(err) = codex_front
        && plan.codex
        && !err.starts_with("codex: ")
    {
        failures.push(format!("codex: {err}"));
    }
    failures
}
