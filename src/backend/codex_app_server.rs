//! A short session with a `codex` backend's own app-server (`COMMAND app-server`), through
//! which `model/list` and `account/read` ask a provider of kind `codex` what only Codex
//! knows: its model catalog and its login.
//!
//! The backend runs with the provider's environment (and `env_inherit`) in a session of its own, gets
//! `initialize`, the caller's requests one at a time, then EOF, and exits. One deadline bounds
//! the whole session; a backend that misses it is killed. The child's environment carries
//! [`ASKED_ENV`]: an agent-host that finds it set answers from its own lists instead of
//! asking a backend in turn, so a `codex` on `PATH` that is agent-host itself cannot start a
//! chain of servers asking each other.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::time::{Instant, timeout_at};

use crate::process::{self, EnvPolicy, SessionPolicy, SpawnSpec};

/// Set in the environment of the app-server asked; see the module documentation.
pub const ASKED_ENV: &str = "AGENT_HOST_ASKING_BACKEND";

/// The longest line read from the backend.
const MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

/// How long the backend gets to exit after EOF before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The first request of every session with an app-server, and the notification after its
/// answer.
pub const INITIALIZE: &str = "initialize";
pub const INITIALIZED: &str = "initialized";

/// The params of `initialize`: who we are (no experimental API: only what the stable schema
/// has, which the pin test checks).
pub fn initialize_params() -> Value {
    let client = json!({"name": "agent-host", "title": null, "version": env!("CARGO_PKG_VERSION")});
    json!({"clientInfo": client})
}

/// The backend to ask: the provider's program and environment, and where it runs.
#[derive(Debug, Clone, Copy)]
pub struct Backend<'a> {
    pub program: &'a Path,
    pub env: &'a BTreeMap<String, String>,
    /// The provider's `env_inherit`: `None`, our whole environment.
    pub env_inherit: Option<&'a [String]>,
    pub cwd: &'a Path,
}

/// Starts the backend's app-server, initializes it, lets `talk` send its requests, and ends
/// the backend; everything within `within`. An error says what went wrong, for a log line.
pub async fn ask<T>(
    backend: Backend<'_>,
    within: Duration,
    talk: impl AsyncFnOnce(&mut Session) -> Result<T, String>,
) -> Result<T, String> {
    let mut session = Session::start(backend, Instant::now() + within)?;
    let initialized = session.initialize().await;
    let result = match initialized {
        Ok(()) => talk(&mut session).await,
        Err(err) => Err(err),
    };
    session.close().await;
    result
}

/// A running app-server and the pipes to it.
pub struct Session {
    /// `None` once a task waits for it.
    child: Option<Child>,
    /// The child's pidfd, to kill it while another thread waits for it.
    pidfd: OwnedFd,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
    deadline: Instant,
}

impl Session {
    fn start(backend: Backend<'_>, deadline: Instant) -> Result<Session, String> {
        let set = backend
            .env
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value)))
            .chain([(OsString::from(ASKED_ENV), OsString::from("1"))])
            .collect();
        let mut child = process::spawn(SpawnSpec {
            program: backend.program,
            args: &[OsString::from("app-server")],
            cwd: backend.cwd,
            env: EnvPolicy::inherit_from(backend.env_inherit, set, Vec::new()),
            stdin: Stdio::piped(),
            stdout: Stdio::piped(),
            stderr: Stdio::null(),
            session: SessionPolicy::NewSession,
            inherit_fds: &[],
        })
        .map_err(|err| format!("cannot run {} app-server: {err}", backend.program.display()))?;
        match Session::pipes(&mut child) {
            Ok((pidfd, stdin, stdout)) => Ok(Session {
                child: Some(child),
                pidfd,
                stdin: Some(stdin),
                stdout: BufReader::new(stdout),
                next_id: 0,
                deadline,
            }),
            Err(err) => {
                // Never waited for: the pid is still the child's.
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("cannot talk to the backend: {err}"))
            }
        }
    }

    /// The child's pidfd, and its pipes as tokio types.
    fn pipes(child: &mut Child) -> std::io::Result<(OwnedFd, ChildStdin, ChildStdout)> {
        let pidfd = pidfd_open(Pid::from_child(child), PidfdFlags::empty())?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the pipes were not made"));
        };
        Ok((
            pidfd,
            ChildStdin::from_std(stdin)?,
            ChildStdout::from_std(stdout)?,
        ))
    }

    async fn initialize(&mut self) -> Result<(), String> {
        self.request(INITIALIZE, initialize_params()).await?;
        self.write(&json!({"method": INITIALIZED})).await
    }

    /// Sends one request and waits for its response: the result, or the error's message.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&json!({"id": id, "method": method, "params": params}))
            .await?;
        loop {
            let line = self.read_line().await?;
            let Ok(message) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if message.get("method").is_some() || message.get("id") != Some(&json!(id)) {
                continue;
            }
            if let Some(result) = message.get("result") {
                return Ok(result.clone());
            }
            let error = message["error"]["message"].as_str().unwrap_or("no result");
            return Err(format!("{method}: {error}"));
        }
    }

    async fn write(&mut self, message: &Value) -> Result<(), String> {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        let stdin = self.stdin.as_mut().ok_or("stdin is closed")?;
        let write = async {
            stdin.write_all(&line).await?;
            stdin.flush().await
        };
        match timeout_at(self.deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("cannot write to the backend: {err}")),
            Err(_) => Err("the backend did not read its input in time".to_owned()),
        }
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, String> {
        let mut line = Vec::new();
        let mut limited = (&mut self.stdout).take(MAX_LINE_BYTES);
        match timeout_at(self.deadline, limited.read_until(b'\n', &mut line)).await {
            Ok(Ok(0)) => Err("the backend exited without answering".to_owned()),
            Ok(Ok(_)) if line.ends_with(b"\n") => Ok(line),
            Ok(Ok(_)) => Err("the backend wrote a line that is too long, or none".to_owned()),
            Ok(Err(err)) => Err(format!("cannot read from the backend: {err}")),
            Err(_) => Err("the backend did not answer in time".to_owned()),
        }
    }

    /// EOF, then the exit within [`EXIT_GRACE`] (at most the deadline), else SIGKILL
    /// through the pidfd, which names this very process even once it is gone. A blocking
    /// task waits for the child and reaps it either way.
    async fn close(&mut self) {
        self.stdin = None;
        let Some(mut child) = self.child.take() else {
            return;
        };
        let reaped = tokio::task::spawn_blocking(move || child.wait());
        let grace = (Instant::now() + EXIT_GRACE).min(self.deadline);
        if timeout_at(grace, reaped).await.is_err() {
            let _ = pidfd_send_signal(&self.pidfd, Signal::KILL);
        }
    }
}

impl Drop for Session {
    /// A session dropped before [`Session::close`] (its future cancelled) kills its backend;
    /// the zombie is left to this process's end.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
        }
    }
}
