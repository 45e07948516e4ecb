//! A server under measurement: a child process with piped stdin/stdout, read by a thread that
//! stamps every line with the instant it arrived, so channel hand-off is not part of a timing.
//!
//! Every wait has a deadline. The child is signalled through a pidfd opened at spawn (before
//! anything can reap it), and dropping a `Server` kills and reaps the child if it still runs.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any one request may take before the run is abandoned.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server may take to exit after its stdin is closed before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// What to run: program, arguments, working directory and the complete environment (the
/// child inherits nothing), plus the file that receives its stderr.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(String, OsString)>,
    pub stderr_file: PathBuf,
}

/// One line of server output and when it was read.
struct Stamped {
    at: Instant,
    text: String,
}

/// A running server process.
pub struct Server {
    child: Child,
    pidfd: OwnedFd,
    stdin: Option<ChildStdin>,
    lines: Receiver<Stamped>,
    reader: Option<JoinHandle<()>>,
    stderr_file: PathBuf,
}

/// A request's answer and how long it took from the write to the arrival of the answer line.
pub struct Answer {
    pub message: Value,
    pub elapsed: Duration,
}

impl Server {
    /// Starts the process. The caller takes the instant before calling this, so the spawn
    /// itself is part of a spawn → response measurement.
    pub fn spawn(launch: &Launch) -> Result<Server, String> {
        let stderr = File::create(&launch.stderr_file)
            .map_err(|e| format!("cannot create {}: {e}", launch.stderr_file.display()))?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .current_dir(&launch.cwd)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", launch.program.display()))?;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_child(&child),
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(|e| format!("pidfd_open: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, lines) = channel();
        let reader = thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = String::new();
            loop {
                buf.clear();
                match reader.read_line(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = Stamped {
                    at: Instant::now(),
                    text: buf.trim_end_matches('\n').to_owned(),
                };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Server {
            child,
            pidfd,
            stdin,
            lines,
            reader: Some(reader),
            stderr_file: launch.stderr_file.clone(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes one message as a JSON line.
    pub fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        let mut line = message.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| self.failure(&format!("write: {e}")))
    }

    /// Sends a request and waits for the response with the same id (notifications and other
    /// responses are skipped). An error response is returned as a message, not as `Err`.
    pub fn request(&mut self, id: i64, method: &str, params: Value) -> Result<Answer, String> {
        let sent = Instant::now();
        self.send(&json!({"id": id, "method": method, "params": params}))?;
        let (message, at) = self.wait_for_id(id)?;
        Ok(Answer {
            message,
            elapsed: at.saturating_duration_since(sent),
        })
    }

    /// Like [`Server::request`], but fails on an error response and returns the `result`.
    pub fn call(&mut self, id: i64, method: &str, params: Value) -> Result<Answer, String> {
        let answer = self.request(id, method, params)?;
        match answer.message.get("result") {
            Some(result) => Ok(Answer {
                message: result.clone(),
                elapsed: answer.elapsed,
            }),
            None => Err(self.failure(&format!("{method} failed: {}", answer.message))),
        }
    }

    /// Waits for the response to `id` and returns it with the instant its line was read.
    pub fn wait_for_id(&mut self, id: i64) -> Result<(Value, Instant), String> {
        let what = format!("the response to id {id}");
        self.wait_for(&what, REQUEST_TIMEOUT, |message, _| {
            let is_response = message.get("result").is_some() || message.get("error").is_some();
            is_response && message.get("id") == Some(&json!(id))
        })
    }

    /// Reads messages until `wanted` holds for one (it sees every message and the instant
    /// its line was read); returns that one with its instant. Fails after `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut wanted: impl FnMut(&Value, Instant) -> bool,
    ) -> Result<(Value, Instant), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.failure(&format!("no {what} within {timeout:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failure(&format!("stdout closed before {what}")));
                }
            };
            let Ok(message) = serde_json::from_str::<Value>(&line.text) else {
                continue;
            };
            if wanted(&message, line.at) {
                return Ok((message, line.at));
            }
        }
    }

    /// Closes stdin, waits (bounded) for the exit, kills the process if it is still there, and
    /// reaps it. Returns whether it exited by itself.
    pub fn shutdown(mut self) -> bool {
        self.stop()
    }

    /// Closes the server's stdin (its end of input); idempotent.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    fn stop(&mut self) -> bool {
        self.close_stdin();
        let deadline = Instant::now() + EXIT_GRACE;
        let mut exited = false;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => {
                    exited = true;
                    break;
                }
                Ok(None) => wait_readable(&self.pidfd, deadline),
                Err(_) => break,
            }
        }
        if !exited {
            // The pidfd names this child even if its pid were reused, so the signal cannot
            // reach another process.
            let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
            let _ = self.child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        exited
    }

    /// An error message with the tail of the server's stderr.
    fn failure(&self, what: &str) -> String {
        let stderr = std::fs::read_to_string(&self.stderr_file).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{what}\n  stderr ({}):\n    {}",
            self.stderr_file.display(),
            tail.join("\n    ")
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.stop();
        }
    }
}

/// Blocks until the pidfd is readable (the process exited) or the deadline passes.
fn wait_readable(pidfd: &OwnedFd, deadline: Instant) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let left = deadline.saturating_duration_since(Instant::now());
    let timeout = Timespec {
        tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(left.subsec_nanos()),
    };
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let _ = poll(&mut fds, Some(&timeout));
}

/// Resident memory of a process from `/proc/<pid>/status` (KiB), its thread count, and the CPU
/// time its live threads have used so far (`/proc/<pid>/task/*/schedstat`, nanoseconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot {
    pub vm_rss_kib: u64,
    pub rss_anon_kib: u64,
    pub threads: u64,
    pub cpu_ns: u64,
}

impl Snapshot {
    pub fn of(pid: u32) -> Result<Snapshot, String> {
        let path = format!("/proc/{pid}/status");
        let status =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let field = |name: &str| -> Result<u64, String> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{path} has no {name}"))
        };
        Ok(Snapshot {
            vm_rss_kib: field("VmRSS:")?,
            rss_anon_kib: field("RssAnon:")?,
            threads: field("Threads:")?,
            cpu_ns: cpu_ns(pid),
        })
    }
}

/// The on-CPU time of every live thread of `pid`, summed (the first field of each
/// `schedstat`). Threads that already exited are not counted.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
