//! Runner benchmarks (plain `main`, bounded iterations): interrupt-to-exit-record latency for
//! a backend that exits on SIGINT, and runner start overhead (launch of runner + backend to
//! the first backend event in the log). Prints a table of median and p90.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_host::events::{Event, InterruptReason, Mode};
use agent_host::runner::client::{read_exit_record, request_blocking};
use agent_host::runner::control::ControlRequest;
use agent_host::runner::launch::{LaunchOptions, launch_with};
use agent_host::runner::log;
use serde_json::json;

/// Runs measured by `cargo bench`; `cargo test --all-targets` runs the bench as a smoke test
/// with fewer (cargo passes `--bench` only to a real benchmark run).
const ITERATIONS: usize = 40;
const SMOKE_ITERATIONS: usize = 3;
const AGENT_HOST: &str = env!("CARGO_BIN_EXE_agent-host");
const FAKE_AGENT: &str = env!("CARGO_BIN_EXE_fake-agent");

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/agent-scripts")
        .join(name)
}

fn turn(root: &Path, script_name: &str) -> PathBuf {
    let dir = root.join(uuid::Uuid::now_v7().to_string());
    std::fs::create_dir_all(&dir).expect("turn dir");
    let spec = json!({
        "v": 1, "threadId": uuid::Uuid::now_v7(), "turnId": uuid::Uuid::now_v7(),
        "mode": "background", "cwd": root,
        "provider": {"name": "fake", "kind": "jsonl", "command": FAKE_AGENT,
            "args": ["--script", script(script_name)]},
        "prompt": "bench", "graceMs": {"cancel": 2000, "term": 2000}
    });
    std::fs::write(dir.join("spec.json"), spec.to_string()).expect("spec");
    dir
}

/// Polls (1 ms) until `check` holds; panics after 10 s.
fn wait(mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "benchmark wait timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn has_backend_event(dir: &Path) -> bool {
    log::read_all(&dir.join(log::EVENTS_FILE))
        .map(|read| {
            read.records
                .iter()
                .any(|r| matches!(r.event, Event::BackendSession { .. }))
        })
        .unwrap_or(false)
}

fn stats(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(samples[samples.len() / 2]);
    let p90 = ms(samples[(samples.len() * 9 / 10).min(samples.len() - 1)]);
    (median, p90)
}

fn main() {
    let iterations = if std::env::args().any(|arg| arg == "--bench") {
        ITERATIONS
    } else {
        SMOKE_ITERATIONS
    };
    let root = tempfile::tempdir().expect("temp dir");
    let options = LaunchOptions {
        exe: PathBuf::from(AGENT_HOST),
        ready_timeout: Duration::from_secs(10),
    };
    let mut start = Vec::with_capacity(iterations);
    let mut interrupt = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let dir = turn(root.path(), "wait-forever.txt");
        let t0 = Instant::now();
        launch_with(&options, &dir, Mode::Background, None, &Default::default()).expect("launch");
        wait(|| has_backend_event(&dir));
        start.push(t0.elapsed());

        let t1 = Instant::now();
        request_blocking(
            &dir,
            &ControlRequest::Interrupt {
                reason: InterruptReason::Client,
            },
        )
        .expect("interrupt");
        wait(|| matches!(read_exit_record(&dir), Ok(Some(_))));
        interrupt.push(t1.elapsed());
    }
    let (start_median, start_p90) = stats(start);
    let (int_median, int_p90) = stats(interrupt);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "| measurement ({iterations} runs) | median ms | p90 ms |"
    );
    let _ = writeln!(out, "|---|---|---|");
    let _ = writeln!(
        out,
        "| interrupt request → exit.json (backend exits on SIGINT) | {int_median:.1} | {int_p90:.1} |"
    );
    let _ = writeln!(
        out,
        "| launch → first backend event in events.jsonl | {start_median:.1} | {start_p90:.1} |"
    );
}
