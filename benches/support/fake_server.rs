//! The server of the fake-agent benches (`turn_events`, `turn_load`): `agent-host app-server`
//! over pipes with `fake-agent` as its `jsonl` provider, its stdout read by a thread that
//! stamps every line with `CLOCK_MONOTONIC` (the clock the fake agent's `stamp` step uses).
//! Every wait has a deadline; `stop` closes stdin, waits a bounded time, then kills by pid.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one request may take to be answered.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one whole turn may take.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the server gets to exit after its stdin closes, before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// `CLOCK_MONOTONIC` in nanoseconds, the clock the fake agent stamps with.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec that we own; CLOCK_MONOTONIC always exists.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
    }
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// One line of server output and when it was read.
pub struct Stamped {
    pub at_ns: u64,
    pub line: Vec<u8>,
}

/// The server under test, with its stdout read by a stamping thread.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Stamped>,
    pub thread_id: String,
    next_id: i64,
    stderr_path: PathBuf,
}

impl Server {
    pub fn start(root: &Path, scripts: &[(&str, String)]) -> Result<Server, String> {
        let io_err = |what: &str| {
            let what = what.to_owned();
            move |err: std::io::Error| format!("{what}: {err}")
        };
        let script_dir = root.join("scripts");
        let work = root.join("work");
        let home = root.join("home");
        for dir in [&script_dir, &work, &home, &root.join("state")] {
            std::fs::create_dir_all(dir).map_err(io_err("create the scratch tree"))?;
        }
        for (name, text) in scripts {
            std::fs::write(script_dir.join(format!("{name}.txt")), text)
                .map_err(io_err("write a script"))?;
        }
        let config = format!(
            r#"default_provider = "fake"
[providers.fake]
kind = "jsonl"
command = {command:?}
args = ["{{prompt}}"]
[providers.fake.env]
FAKE_AGENT_SCRIPT_DIR = {scripts:?}
"#,
            command = env!("CARGO_BIN_EXE_fake-agent"),
            scripts = script_dir.display().to_string(),
        );
        let config_path = root.join("bench.toml");
        std::fs::write(&config_path, config).map_err(io_err("write the config"))?;
        let stderr_path = root.join("server.stderr");
        let stderr = File::create(&stderr_path).map_err(io_err("create server.stderr"))?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_agent-host"))
            .arg("app-server")
            .arg("--state-dir")
            .arg(root.join("state"))
            .arg("--config")
            .arg(&config_path)
            .current_dir(&work)
            .env("HOME", &home)
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env_remove("AGENT_HOST_HOME")
            .env_remove("AGENT_HOST_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(io_err("start agent-host"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::with_capacity(256 * 1024, stdout);
            loop {
                let mut line = Vec::with_capacity(512);
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let at_ns = monotonic_ns();
                if tx.send(Stamped { at_ns, line }).is_err() {
                    return;
                }
            }
        });
        Ok(Server {
            child,
            stdin,
            lines,
            thread_id: String::new(),
            next_id: 1,
            stderr_path,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin is closed")?;
        let mut line = message.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|err| format!("writing to the server failed: {err}"))
    }

    /// The next line, or an error naming what was awaited.
    pub fn next_line(&mut self, deadline: Instant, awaiting: &str) -> Result<Stamped, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "timed out waiting for {awaiting}{}",
                self.stderr_tail()
            )),
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "the server closed stdout while waiting for {awaiting}{}",
                self.stderr_tail()
            )),
        }
    }

    /// Sends a request; returns its response and the lines read before it.
    pub fn request(&mut self, method: &str, params: Value) -> Result<(Stamped, Value), String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"id": id, "method": method, "params": params}))?;
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            let stamped = self.next_line(deadline, method)?;
            let Ok(value) = serde_json::from_slice::<Value>(&stamped.line) else {
                continue;
            };
            if value.get("id") == Some(&json!(id)) {
                if let Some(error) = value.get("error") {
                    return Err(format!("{method} failed: {error}"));
                }
                return Ok((stamped, value));
            }
        }
    }

    pub fn initialize(&mut self) -> Result<(), String> {
        self.request(
            "initialize",
            json!({"clientInfo": {"name": "agent_host_bench", "title": null, "version": "0.0.1"}}),
        )?;
        self.send(&json!({"method": "initialized"}))?;
        let (_, started) = self.request("thread/start", json!({}))?;
        self.thread_id = started["result"]["thread"]["id"]
            .as_str()
            .ok_or_else(|| format!("thread/start gave no thread id: {started}"))?
            .to_owned();
        Ok(())
    }

    /// Runs one turn of script `name` and collects every line up to its `turn/completed`.
    pub fn run_turn(&mut self, name: &str) -> Result<TurnLines, String> {
        let cpu_before = self.cpu_ns();
        let sent_ns = monotonic_ns();
        let params = json!({
            "threadId": self.thread_id,
            "input": [{"type": "text", "text": format!("script:{name}")}],
        });
        let (response, value) = self.request("turn/start", params)?;
        let turn_id = value["result"]["turn"]["id"]
            .as_str()
            .ok_or_else(|| format!("turn/start gave no turn id: {value}"))?
            .to_owned();
        let deadline = Instant::now() + TURN_TIMEOUT;
        let mut lines = Vec::new();
        loop {
            let stamped = self.next_line(deadline, "turn/completed")?;
            // Only a line that can be `turn/completed` is parsed here, so that reading keeps
            // up with the server; the rest are parsed after the turn.
            let done = contains(&stamped.line, b"\"turn/completed\"")
                && serde_json::from_slice::<Value>(&stamped.line).is_ok_and(|v| {
                    v["method"] == "turn/completed" && v["params"]["turn"]["id"] == *turn_id
                });
            if done {
                let status = serde_json::from_slice::<Value>(&stamped.line)
                    .map(|v| v["params"]["turn"]["status"].clone())
                    .unwrap_or(Value::Null);
                if status != "completed" {
                    return Err(format!("turn {name} ended {status}"));
                }
                return Ok(TurnLines {
                    server_cpu_ns: self.cpu_ns().saturating_sub(cpu_before),
                    sent_ns,
                    response_ns: response.at_ns,
                    completed_ns: stamped.at_ns,
                    lines,
                });
            }
            lines.push(stamped);
        }
    }

    /// The server's CPU time so far (user + system, every thread), from `/proc/PID/stat`.
    pub fn cpu_ns(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        // SAFETY: sysconf only reads a system constant.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        ticks * 1_000_000_000 / per_second
    }

    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        if tail.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = tail.into_iter().rev().collect();
            format!("; server stderr:\n{}", lines.join("\n"))
        }
    }

    /// Closes stdin, waits (bounded) for the server to exit, else kills it by pid; reaps it.
    pub fn stop(mut self) {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) | Err(_) => break,
            }
        }
        eprintln!("turn_events: the server did not exit; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The lines of one turn between its `turn/start` response and its `turn/completed`.
pub struct TurnLines {
    /// CPU time the server spent during the turn.
    pub server_cpu_ns: u64,
    pub sent_ns: u64,
    pub response_ns: u64,
    pub completed_ns: u64,
    pub lines: Vec<Stamped>,
}
