//! Starting a runner, for the server.
//!
//! The runner is our own binary (`runner --turn-dir DIR`) in a new session, with stdin
//! `/dev/null` and stdout/stderr appended to `runner.log` in the turn directory (never the
//! server's protocol descriptors), so it survives the server's SIGKILL. The server does not
//! double-fork: a small reaper thread per runner waits for it, so the server never keeps a
//! zombie, and if the server dies first the runner is reparented and reaped by init.
//!
//! A foreground runner gets the read end of a [`Lifeline`] pipe (named by
//! `AGENT_HOST_LIFELINE_FD`); the server holds the write end with close-on-exec. When every
//! write end is closed (the server dropped the lifeline, exited or was killed) the runner
//! interrupts the turn with reason `clientLost`.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::events::{Mode, ProcessRecord, check_version};
use crate::process::{self, EnvPolicy, SessionPolicy, SpawnSpec, identity::Identity};
use crate::runner::{LIFELINE_FD_ENV, PROCESS_FILE, PROVIDER_ENV_ENV, RUNNER_LOG_FILE};
use crate::spec;

/// How long [`launch`] waits for the runner to report ready by default.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's end of the lifeline of its foreground runners. Dropping it (or the server's
/// death) breaks the lifeline of every runner launched with it.
#[derive(Debug)]
pub struct Lifeline {
    read: OwnedFd,
    write: OwnedFd,
}

impl Lifeline {
    /// A new lifeline pipe; both ends are close-on-exec in this process.
    pub fn new() -> io::Result<Lifeline> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        Ok(Lifeline { read, write })
    }

    /// The read end, which foreground runners and spares inherit.
    pub fn read_end(&self) -> std::os::fd::BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Hands the write end to the caller (tests pass it to a stand-in "server" process).
    pub fn into_write_end(self) -> OwnedFd {
        self.write
    }
}

/// How to start runners.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// The `agent-host` executable.
    pub exe: PathBuf,
    pub ready_timeout: Duration,
}

impl LaunchOptions {
    /// This executable, with the default timeout.
    pub fn current() -> io::Result<LaunchOptions> {
        Ok(LaunchOptions {
            exe: std::env::current_exe()?,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        })
    }
}

/// A runner that reported ready (it wrote `process.json`; a turn whose backend could not
/// start has then already ended, with `exit.json`).
#[derive(Debug, Clone)]
pub struct LaunchedRunner {
    pub runner: Identity,
    /// The process record as first written (`backend` is `None` when the backend could not
    /// be started; the turn has then already ended).
    pub process: ProcessRecord,
}

/// Starts the runner of `turn_dir` with this executable and waits until it is ready.
pub fn launch(
    turn_dir: &Path,
    mode: Mode,
    lifeline: Option<&Lifeline>,
    env: &BTreeMap<String, String>,
) -> io::Result<LaunchedRunner> {
    launch_with(&LaunchOptions::current()?, turn_dir, mode, lifeline, env)
}

/// [`launch`] with an explicit executable and timeout. `env` holds the values of the
/// variables that `spec.json` names in `provider.env`; they reach the runner in its
/// environment ([`PROVIDER_ENV_ENV`]), which only its owner can read.
pub fn launch_with(
    options: &LaunchOptions,
    turn_dir: &Path,
    mode: Mode,
    lifeline: Option<&Lifeline>,
    env: &BTreeMap<String, String>,
) -> io::Result<LaunchedRunner> {
    let turn_dir = std::path::absolute(turn_dir)?;
    let spec = spec::read(&turn_dir)?;
    if spec.mode != mode {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "launch asked for {mode:?} but spec.json says {:?}",
                spec.mode
            ),
        ));
    }
    let lifeline_fd = match (mode, lifeline) {
        (Mode::Foreground, Some(lifeline)) => Some(lifeline.read.as_fd()),
        (Mode::Foreground, None) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a foreground turn needs a lifeline",
            ));
        }
        (Mode::Background, _) => None,
    };
    let log = crate::atomic_file::open_private_append(&turn_dir.join(RUNNER_LOG_FILE))?;
    let args = [
        "runner".into(),
        "--turn-dir".into(),
        turn_dir.clone().into_os_string(),
    ];
    let mut child = process::spawn(SpawnSpec {
        program: &options.exe,
        args: &args,
        cwd: &turn_dir,
        env: runner_env(lifeline_fd.map(|fd| fd.as_raw_fd()), env)?,
        stdin: Stdio::null(),
        stdout: Stdio::from(log.try_clone()?),
        stderr: Stdio::from(log),
        session: SessionPolicy::NewSession,
        inherit_fds: lifeline_fd.as_slice(),
    })?;
    let process = wait_ready(&mut child, &turn_dir, options.ready_timeout)?;
    // The reaper: the runner is our child until it exits; someone must wait for it.
    std::thread::Builder::new()
        .name("runner-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        })?;
    Ok(LaunchedRunner {
        runner: process.runner.clone(),
        process,
    })
}

/// The runner's environment: the lifeline's descriptor number (foreground), and the values
/// of the provider's `env` as JSON ([`PROVIDER_ENV_ENV`]); neither inherited otherwise.
pub(super) fn runner_env(
    lifeline: Option<std::os::fd::RawFd>,
    env: &BTreeMap<String, String>,
) -> io::Result<EnvPolicy> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    match lifeline {
        Some(fd) => set.push((LIFELINE_FD_ENV.into(), fd.to_string().into())),
        None => remove.push(LIFELINE_FD_ENV.into()),
    }
    if env.is_empty() {
        remove.push(PROVIDER_ENV_ENV.into());
    } else {
        let json = serde_json::to_string(env).map_err(io::Error::other)?;
        set.push((PROVIDER_ENV_ENV.into(), json.into()));
    }
    Ok(EnvPolicy::Inherit { set, remove })
}

/// Waits (polling, bounded by `timeout`) until the runner reports ready by writing its
/// process record; a runner that exits first, or is not ready in time (then killed), is an
/// error.
pub(super) fn wait_ready(
    child: &mut std::process::Child,
    turn_dir: &Path,
    timeout: Duration,
) -> io::Result<ProcessRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(process) = read_process_record(turn_dir) {
            return Ok(process);
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "the runner exited ({status}) before it was ready; see {}",
                turn_dir.join(RUNNER_LOG_FILE).display()
            )));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the runner was not ready within {timeout:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Reads `process.json` if it exists and parses.
pub fn read_process_record(turn_dir: &Path) -> Option<ProcessRecord> {
    let bytes = std::fs::read(turn_dir.join(PROCESS_FILE)).ok()?;
    let record: ProcessRecord = serde_json::from_slice(&bytes).ok()?;
    check_version(record.v, "process.json").ok()?;
    Some(record)
}
