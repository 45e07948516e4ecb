//! `command/exec` side by side: `agent-host app-server` and the real `codex app-server`
//! 0.169.0, in one run, on the same machine, with the same requests.
//!
//! - **Round trip**: `command/exec {"command": ["true"]}` (the default sandbox of both:
//!   read-only without network), N calls one after another on one server (after a few
//!   untimed warm-up calls): request written → answer line read. Median and p99. The same with
//!   `sandboxPolicy: dangerFullAccess`, which tells the sandbox's share apart.
//! - **Streaming**: one command writes B bytes to stdout (`head -c B /dev/zero`, streamed
//!   with a process id, no output cap, no timeout, default sandbox): request written → answer
//!   line read, after every `command/exec/outputDelta`. The bench reads the deltas with a
//!   scanner (it finds `deltaBase64` and counts the bytes it encodes) instead of a JSON parser,
//!   so that the client is not what is measured, and checks that exactly B bytes arrived.
//!
//! `cargo bench --bench command_exec_vs_codex` (options after `--`: `--calls N`, default 500;
//! `--stream-mb N`, default 200; `--no-codex`). Without `--bench` (`cargo test --all-targets`)
//! it is a smoke run of agent-host alone (5 calls, 4 MB) that judges no speed. Every wait has a
//! deadline, every server runs in a temporary directory with a cleared environment and is
//! ended by pid. See `docs/benchmarks.md`.

// Benchmarks start the servers themselves with an explicit, cleared environment; the crate's
// rule that only `agent_host::process` spawns applies to the product, not to this harness.
#![allow(clippy::disallowed_methods)]

// Shared with `protocol_front`, which uses all of it; this bench uses a part.
#[allow(dead_code)]
mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::figures;
use support::server::Server;
use support::setup::{self, Kind, Sandbox};
use support::stats::Samples;

/// How long the streaming command may take, end to end.
const STREAM_TIMEOUT: Duration = Duration::from_secs(180);
/// Untimed calls before the round trips are measured.
const WARM_UP: usize = 10;

#[derive(Debug, Clone, Copy)]
struct Plan {
    calls: usize,
    stream_bytes: u64,
    codex: bool,
    smoke: bool,
}

impl Plan {
    fn from_args() -> Result<Plan, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let bench = args.iter().any(|a| a == "--bench");
        let mut plan = Plan {
            calls: if bench { 500 } else { 5 },
            stream_bytes: if bench { 200_000_000 } else { 4_000_000 },
            codex: bench,
            smoke: !bench,
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                iter.next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("{name} needs a number"))
            };
            match arg.as_str() {
                "--calls" => plan.calls = number("--calls")?.max(1) as usize,
                "--stream-mb" => plan.stream_bytes = number("--stream-mb")?.max(1) * 1_000_000,
                "--no-codex" => plan.codex = false,
                // Cargo passes `--bench`; libtest-style filters are ignored.
                _ => {}
            }
        }
        Ok(plan)
    }
}

/// What one server measured.
struct Results {
    default_sandbox: Samples,
    full_access: Samples,
    stream: Stream,
}

/// One streaming run.
struct Stream {
    elapsed: Duration,
    deltas: usize,
}

fn exec_params(sandbox: Option<Value>) -> Value {
    match sandbox {
        Some(policy) => json!({"command": ["true"], "sandboxPolicy": policy}),
        None => json!({"command": ["true"]}),
    }
}

/// N round trips of `command/exec ["true"]`; every answer must say exit code 0.
fn round_trips(
    server: &mut Server,
    next_id: &mut i64,
    calls: usize,
    sandbox: Option<Value>,
) -> Result<Samples, String> {
    let mut samples = Samples::default();
    for call in 0..WARM_UP + calls {
        *next_id += 1;
        let answer = server.call(*next_id, "command/exec", exec_params(sandbox.clone()))?;
        if answer.message["exitCode"] != 0 {
            return Err(format!("`true` did not exit 0: {}", answer.message));
        }
        if call >= WARM_UP {
            samples.push_ms(answer.elapsed);
        }
    }
    Ok(samples)
}

fn measure(kind: Kind, program: &Path, plan: Plan) -> Result<Results, String> {
    let sandbox = Sandbox::new()?;
    let launch = sandbox.launch(kind, program)?;
    let mut server = Server::spawn(&launch)?;
    let mut id = 1;
    server.call(
        id,
        "initialize",
        json!({"clientInfo": {"name": "bench", "title": null, "version": "0.0.1"}}),
    )?;
    server.send(&json!({"method": "initialized"}))?;
    let default_sandbox = round_trips(&mut server, &mut id, plan.calls, None)?;
    let full = Some(json!({"type": "dangerFullAccess"}));
    let full_access = round_trips(&mut server, &mut id, plan.calls, full)?;
    server.shutdown();
    let stream = stream(&sandbox, kind, program, plan.stream_bytes)?;
    Ok(Results {
        default_sandbox,
        full_access,
        stream,
    })
}

/// The bytes a base64 text of `len` characters (with `padding` `=`) encodes.
fn decoded_len(len: usize, padding: usize) -> u64 {
    (len / 4 * 3 - padding) as u64
}

/// Counts the bytes of one `command/exec/outputDelta` line without parsing the JSON: the
/// base64 text is the value of `"deltaBase64":"…"` and holds no escapes.
fn delta_bytes(line: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"deltaBase64\":\"";
    let start = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = line[start..].iter().position(|b| *b == b'"')?;
    let text = &line[start..start + len];
    let padding = text.iter().rev().take_while(|b| **b == b'=').count();
    Some(decoded_len(len, padding))
}

/// A fresh server streams `bytes` to us; returns the time from the request to its answer.
fn stream(sandbox: &Sandbox, kind: Kind, program: &Path, bytes: u64) -> Result<Stream, String> {
    let launch = sandbox.launch(kind, program)?;
    let stderr = File::create(&launch.stderr_file).map_err(|e| e.to_string())?;
    let mut child = Command::new(&launch.program)
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot spawn {}: {e}", launch.program.display()))?;
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|e| format!("pidfd_open: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (done, finished) = channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(4 << 20, stdout);
        let mut line = Vec::with_capacity(1 << 20);
        let (mut total, mut deltas) = (0u64, 0usize);
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.starts_with(b"{\"method\":\"command/exec/outputDelta\"") {
                total += delta_bytes(&line).unwrap_or(0);
                deltas += 1;
            } else if let Ok(message) = serde_json::from_slice::<Value>(&line)
                && message["id"] == 3
            {
                let _ = done.send((Instant::now(), message, total, deltas));
                return;
            }
        }
    });
    let params = json!({
        "command": ["head", "-c", bytes.to_string(), "/dev/zero"],
        "processId": "stream",
        "streamStdoutStderr": true,
        "disableOutputCap": true,
        "disableTimeout": true,
    });
    let mut write = |message: Value| -> Result<(), String> {
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).map_err(|e| e.to_string())
    };
    write(
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "bench", "title": null, "version": "0.0.1"}}}),
    )?;
    write(json!({"method": "initialized"}))?;
    // A short command first, so that start-up is not part of the stream.
    write(json!({"id": 2, "method": "command/exec", "params": {"command": ["true"]}}))?;
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    write(json!({"id": 3, "method": "command/exec", "params": params}))?;
    let outcome = finished.recv_timeout(STREAM_TIMEOUT);
    drop(stdin);
    let exited = wait_exit(&mut child, &pidfd);
    let _ = reader.join();
    let (at, answer, total, deltas) =
        outcome.map_err(|_| format!("no answer to the stream within {STREAM_TIMEOUT:?}"))?;
    if answer["result"]["exitCode"] != 0 || total != bytes {
        return Err(format!("stream: {total} of {bytes} bytes, answer {answer}"));
    }
    if !exited {
        return Err("the server did not exit when its stdin closed (killed)".to_owned());
    }
    Ok(Stream {
        elapsed: at.saturating_duration_since(sent),
        deltas,
    })
}

/// Waits (bounded) for the server to exit; kills it through its pidfd otherwise.
fn wait_exit(child: &mut std::process::Child, pidfd: &std::os::fd::OwnedFd) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL);
    let _ = child.wait();
    false
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"))
}

fn megabytes_per_second(bytes: u64, stream: &Stream) -> f64 {
    bytes as f64 / 1e6 / stream.elapsed.as_secs_f64()
}

/// One column per server: the values of each row.
fn column(results: &Result<Results, String>, bytes: u64) -> Vec<String> {
    let Ok(r) = results else {
        return vec!["–".to_owned(); 8];
    };
    let (default, full) = (&r.default_sandbox, &r.full_access);
    vec![
        ms(default.median()),
        ms(default.percentile(99.0)),
        ms(full.median()),
        ms(full.percentile(99.0)),
        format!("{:.0}", megabytes_per_second(bytes, &r.stream)),
        format!("{:.2}", r.stream.elapsed.as_secs_f64()),
        r.stream.deltas.to_string(),
        format!("{}", default.len()),
    ]
}

/// The figures `BENCHMARKS.md` reports (see `support::figures`).
fn emit_figures(plan: Plan, ours: &Result<Results, String>, codex: &Result<Results, String>) {
    type Read = fn(&Results, u64) -> Option<f64>;
    let rows: [(&str, Read); 5] = [
        ("exec_rtt_p50", |r, _| r.default_sandbox.median()),
        ("exec_rtt_p99", |r, _| r.default_sandbox.percentile(99.0)),
        ("exec_rtt_full_p50", |r, _| r.full_access.median()),
        ("exec_rtt_full_p99", |r, _| r.full_access.percentile(99.0)),
        ("exec_stream_mbps", |r, bytes| {
            Some(megabytes_per_second(bytes, &r.stream))
        }),
    ];
    let side = |results: &Result<Results, String>, read: Read| match results {
        Ok(results) => figures::some(read(results, plan.stream_bytes), "no samples"),
        Err(err) => figures::none(err),
    };
    for (id, read) in rows {
        figures::record(id, side(ours, read), side(codex, read));
    }
}

fn render(plan: Plan, ours: &Result<Results, String>, codex: &Result<Results, String>) -> String {
    let mb = plan.stream_bytes / 1_000_000;
    let metrics = [
        "command/exec [\"true\"], default sandbox, p50 (ms)".to_owned(),
        "command/exec [\"true\"], default sandbox, p99 (ms)".to_owned(),
        "command/exec [\"true\"], dangerFullAccess, p50 (ms)".to_owned(),
        "command/exec [\"true\"], dangerFullAccess, p99 (ms)".to_owned(),
        format!("stream {mb} MB of stdout, throughput (MB/s)"),
        format!("stream {mb} MB of stdout, request → answer (s)"),
        format!("stream {mb} MB of stdout, outputDelta notifications"),
        "round trips timed per sandbox".to_owned(),
    ];
    let codex_p50 = codex.as_ref().ok().and_then(|r| r.default_sandbox.median());
    let targets = [
        codex_p50.map_or_else(
            || "≤ Codex / 5".to_owned(),
            |p| format!("≤ {:.2} (Codex / 5)", p / 5.0),
        ),
        String::new(),
        String::new(),
        String::new(),
        "≥ 300".to_owned(),
        String::new(),
        String::new(),
        String::new(),
    ];
    let (a, c) = (
        column(ours, plan.stream_bytes),
        column(codex, plan.stream_bytes),
    );
    let mut out = String::from(
        "| metric | agent-host | codex app-server 0.169.0 | target |\n|---|---|---|---|\n",
    );
    for i in 0..metrics.len() {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            metrics[i], a[i], c[i], targets[i]
        ));
    }
    if let (Some(ours), Some(theirs)) = (
        ours.as_ref().ok().and_then(|r| r.default_sandbox.median()),
        codex_p50,
    ) {
        out.push_str(&format!(
            "\nRound trip, default sandbox: agent-host is {:.1}× faster than Codex (p50).\n",
            theirs / ours
        ));
    }
    for (name, result) in [("agent-host", ours), ("codex", codex)] {
        if let Err(err) = result {
            out.push_str(&format!("\n{name}: {err}\n"));
        }
    }
    out
}

fn main() -> ExitCode {
    let plan = match Plan::from_args() {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("command_exec_vs_codex: {err}");
            return ExitCode::FAILURE;
        }
    };
    let agent_host: PathBuf = setup::agent_host_binary();
    let load_before = setup::load_average();
    let ours = measure(Kind::AgentHost, &agent_host, plan);
    let codex = if plan.codex {
        setup::codex_binary().and_then(|codex| measure(Kind::Codex, &codex, plan))
    } else {
        Err("not measured (--no-codex, or a smoke run)".to_owned())
    };
    let head = if plan.smoke {
        "SMOKE RUN (no --bench): judges no speed\n\n"
    } else {
        ""
    };
    println!(
        "{head}command/exec, agent-host vs codex app-server ({}; {}; load average {} before, {} after)\n",
        setup::today_utc(),
        setup::machine(),
        load_before,
        setup::load_average()
    );
    println!("{}", render(plan, &ours, &codex));
    emit_figures(plan, &ours, &codex);
    if ours.is_err() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
