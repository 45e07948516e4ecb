//! Warm spares: a runner started before its turn exists, whose backend already runs and has
//! been sent nothing, until the server gives it a turn or drops it (`docs/arch/runner.md`,
//! "Warm spares").
//!
//! The runner side ([`run`], `agent-host runner --spare DIR`) starts the backend, records the
//! identities in `spare.json`, says ahead what needs no prompt (`initialize`, and
//! `thread/start` when the server gave it the params: [`codex_turn::Warmup`]) and waits in
//! one `poll` over its adopt pipe, the lifeline, the backend's pidfd and stdout and a
//! `signalfd` of the stop signals. A turn directory on the adopt pipe makes it that turn's
//! runner, which reads first what the spare read of the backend's stdout; EOF on either pipe, a stop signal or the backend's exit ends
//! the spare and everything it started. The server side ([`Spare`]) starts one, gives it a
//! turn at most once, and discards it by dropping it (which closes the adopt pipe).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, pidfd_open};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::launch::{LaunchOptions, LaunchedRunner, Lifeline};
use super::{LIFELINE_FD_ENV, LOCK_FILE, RUNNER_LOG_FILE, STDERR_FILE, Taken, WarmBackend};
use crate::atomic_file;
use crate::backend;
use crate::backend::codex_turn::Warmup;
use crate::events::{RECORD_VERSION, SpareOrigin, check_version, now_ms};
use crate::process::identity::{self, Identity};
use crate::process::tree::{self, Scope};
use crate::process::{self, SessionPolicy, SpawnSpec};
use crate::spec;

/// The directory of the spares in the state directory.
pub const SPARES_DIR: &str = "spares";
/// What a spare was started for, and then its processes.
pub const SPARE_FILE: &str = "spare.json";
/// The environment variable naming the inherited read end of the adopt pipe.
pub const SPARE_FD_ENV: &str = "AGENT_HOST_SPARE_FD";

/// How long a discarded spare's backend may take to exit on its stdin's EOF before it is
/// killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// The most a spare keeps of its backend's output before a turn takes it (a `codex
/// app-server` says a few lines while it waits); a backend that says more is discarded.
const MAX_HELD_OUTPUT: usize = 1024 * 1024;

/// `spare.json`: written by the server (what for), completed by the spare runner (its
/// processes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpareRecord {
    pub v: u32,
    /// The spare's id, the marker of its backend (`AGENT_HOST_TURN=<id>`).
    pub id: String,
    pub provider: spec::Provider,
    /// The backend's working directory.
    pub cwd: PathBuf,
    /// The params of the `thread/start` the spare sends ahead (those of the turn it was
    /// started after, when that turn started a new Codex thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_start: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// When Codex answered the spare's `initialize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialized_at_ms: Option<u64>,
    /// The Codex thread the spare's `thread/start` opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

/// Reads a spare's record.
pub fn read_record(dir: &Path) -> io::Result<SpareRecord> {
    let bytes = std::fs::read(dir.join(SPARE_FILE))?;
    let record: SpareRecord = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    check_version(record.v, SPARE_FILE).map_err(io::Error::other)?;
    Ok(record)
}

/// What ended the wait of a spare.
enum Waited {
    /// The server gave it this turn.
    Turn(PathBuf),
    /// The spare is not needed (or cannot serve) any more: why.
    Discard(&'static str),
}

/// The whole life of a spare runner: start the backend, wait, then run the turn it is given
/// (returned, to start its notice) or stop everything it started.
pub fn run(spare_dir: &Path) -> io::Result<Option<PathBuf>> {
    let spare_dir = std::path::absolute(spare_dir)?;
    // The spare's lock, for the runner's life.
    let lock = super::lock_dir(&spare_dir)?;
    // Before any thread exists (see `super::run`).
    let stop_signals = super::block_stop_signals(false)?;
    let lifeline = super::take_inherited_fd(LIFELINE_FD_ENV);
    let adopt = super::take_inherited_fd(SPARE_FD_ENV);
    super::become_subreaper();
    let me = identity::current()?;
    let mut record = read_record(&spare_dir)?;
    let provider_env = super::provider_env(&record.provider).map_err(io::Error::other)?;
    let command = backend::spare_command(&record.provider).map_err(io::Error::other)?;
    let stderr = atomic_file::open_private_append(&spare_dir.join(STDERR_FILE))?;
    let env = super::backend_env(
        &command,
        &provider_env,
        Vec::new(),
        &record.id,
        record.provider.env_inherit.as_deref(),
    );
    let mut child = super::spawn_backend(&command, &record.cwd, env, stderr)?;
    let started_at_ms = now_ms();
    let pid = child.id() as i32;
    tracing::info!(pid, spare = %record.id, "spare backend started");
    record.runner = Some(me.clone());
    record.backend = identity::of_pid(pid).ok();
    record.started_at_ms = Some(started_at_ms);
    let (waited, talk) = record_and_wait(
        &spare_dir,
        &mut record,
        &mut child,
        (adopt.as_ref(), lifeline.as_ref()),
        &stop_signals,
    );
    let turn_dir = match waited {
        Ok(Waited::Turn(turn_dir)) => turn_dir,
        Ok(Waited::Discard(why)) => {
            tracing::info!(spare = %record.id, "spare discarded: {why}");
            stop(child, &me, &record.id);
            remove(&spare_dir);
            return Ok(None);
        }
        Err(err) => {
            tracing::warn!(spare = %record.id, %err, "spare failed");
            stop(child, &me, &record.id);
            remove(&spare_dir);
            return Err(err);
        }
    };
    let Some(turn_lock) = super::claim(&turn_dir)? else {
        tracing::warn!(turn = %turn_dir.display(), "the turn has already ended; spare discarded");
        stop(child, &me, &record.id);
        remove(&spare_dir);
        return Ok(None);
    };
    tracing::info!(spare = %record.id, turn = %turn_dir.display(), "spare adopted");
    move_logs(&spare_dir, &turn_dir);
    remove(&spare_dir);
    drop(lock);
    let warm = WarmBackend {
        child,
        sent: talk.warmup.sent().clone(),
        stdout: talk.read,
        command,
        cwd: record.cwd,
        provider_env,
        origin: SpareOrigin {
            id: record.id,
            started_at_ms,
            initialized_at_ms: record.initialized_at_ms,
        },
    };
    let taken = Taken {
        lock: turn_lock,
        me,
        stop_signals,
        lifeline,
        engine: None,
    };
    super::run_taken(&turn_dir, taken, Some(warm))?;
    Ok(Some(turn_dir))
}

/// Records the spare's processes in `spare.json`, then talks to the backend and waits for a
/// turn ([`wait_for_turn`] on the `(adopt, lifeline)` pipes), keeping `spare.json` up to
/// date with the warm-up; returns how the wait ended and what was said.
fn record_and_wait(
    spare_dir: &Path,
    record: &mut SpareRecord,
    child: &mut std::process::Child,
    (adopt, lifeline): (Option<&OwnedFd>, Option<&OwnedFd>),
    stop_signals: &libc::sigset_t,
) -> (io::Result<Waited>, Talk) {
    let mut talk = Talk {
        warmup: Warmup::new(record.thread_start.clone()),
        read: Vec::new(),
        scanned: 0,
    };
    let written = atomic_file::write_json_atomic(&spare_dir.join(SPARE_FILE), &*record);
    let waited = written.and_then(|()| {
        let pid = Pid::from_raw(child.id() as i32).ok_or_else(|| io::Error::other("pid 0"))?;
        let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
        let fds = WaitFds {
            adopt,
            lifeline,
            pidfd: &pidfd,
            stop_signals,
        };
        wait_for_turn(&fds, child, &mut talk, &mut |warmup: &Warmup| {
            if record.initialized_at_ms.is_none() && warmup.initialized() {
                record.initialized_at_ms = Some(now_ms());
            }
            record.thread = warmup.thread().map(str::to_owned);
            atomic_file::write_json_atomic(&spare_dir.join(SPARE_FILE), &*record)
        })
    });
    (waited, talk)
}

/// The descriptors a spare waits on besides its backend's stdout.
struct WaitFds<'a> {
    adopt: Option<&'a OwnedFd>,
    lifeline: Option<&'a OwnedFd>,
    pidfd: &'a OwnedFd,
    stop_signals: &'a libc::sigset_t,
}

/// A spare's conversation with its backend while it waits: what it says, and everything it
/// read (handed to the turn, which reads it first).
struct Talk {
    warmup: Warmup,
    read: Vec<u8>,
    /// How much of `read` is split into lines already.
    scanned: usize,
}

impl Talk {
    /// Writes the warm-up's pending lines to the backend's stdin.
    fn write(&mut self, child: &mut std::process::Child) -> io::Result<()> {
        let Some(stdin) = child.stdin.as_mut() else {
            return Err(io::Error::other("the backend has no stdin"));
        };
        for mut line in self.warmup.take_input() {
            line.push('\n');
            stdin.write_all(line.as_bytes())?;
        }
        stdin.flush()
    }

    /// Reads what the backend's stdout holds (the poll said it is readable) and answers it;
    /// `Ok(false)` at EOF.
    fn read(&mut self, child: &mut std::process::Child) -> io::Result<bool> {
        let Some(stdout) = child.stdout.as_ref() else {
            return Ok(false);
        };
        let mut buf = [0u8; 16 * 1024];
        let n = match rustix::io::read(stdout, &mut buf) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => return Ok(true),
            Err(err) => return Err(err.into()),
        };
        if n == 0 {
            return Ok(false);
        }
        self.read.extend_from_slice(&buf[..n]);
        while let Some(end) = self.read[self.scanned..].iter().position(|&b| b == b'\n') {
            let line = self.scanned..self.scanned + end;
            self.warmup.on_line(&self.read[line]);
            self.scanned += end + 1;
        }
        self.write(child)?;
        Ok(true)
    }
}

/// Waits until the server gives the spare a turn, or until anything else happens: the adopt
/// pipe or the lifeline reaches EOF (the server dropped the spare, or is gone), the backend
/// exits or refuses the warm-up, or a stop signal arrives (the signals stay blocked: an
/// adopted runner's `sigwait` takes those that come later). Meanwhile it talks to the
/// backend (`talk`), and calls `progress` when the warm-up got further.
fn wait_for_turn(
    fds: &WaitFds<'_>,
    child: &mut std::process::Child,
    talk: &mut Talk,
    progress: &mut dyn FnMut(&Warmup) -> io::Result<()>,
) -> io::Result<Waited> {
    let (Some(adopt), Some(lifeline)) = (fds.adopt, fds.lifeline) else {
        return Ok(Waited::Discard(
            "started without its adopt pipe and lifeline",
        ));
    };
    let signals = signalfd(fds.stop_signals)?;
    if talk.write(child).is_err() {
        return Ok(Waited::Discard("its backend does not read its stdin"));
    }
    let mut line = Vec::new();
    let mut stdout_open = true;
    loop {
        let ready: Vec<bool> = {
            let stdout = child
                .stdout
                .as_ref()
                .map(|stdout| stdout.as_fd())
                .filter(|_| stdout_open);
            let mut polled = vec![
                PollFd::new(adopt, PollFlags::IN),
                PollFd::new(lifeline, PollFlags::IN),
                PollFd::new(fds.pidfd, PollFlags::IN),
                PollFd::new(&signals, PollFlags::IN),
            ];
            if let Some(stdout) = &stdout {
                polled.push(PollFd::new(stdout, PollFlags::IN));
            }
            match rustix::event::poll(&mut polled, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(err) => return Err(err.into()),
            }
            polled.iter().map(|fd| !fd.revents().is_empty()).collect()
        };
        if ready[3] {
            return Ok(Waited::Discard("a stop signal"));
        }
        if ready[2] {
            return Ok(Waited::Discard("its backend exited"));
        }
        if ready[1] {
            return Ok(Waited::Discard("the server is gone (lifeline)"));
        }
        if ready.get(4) == Some(&true) {
            let before = (talk.warmup.initialized(), talk.warmup.thread().is_some());
            match talk.read(child) {
                Ok(true) => {}
                // The backend closed its stdout: its exit follows.
                Ok(false) => stdout_open = false,
                Err(_) => return Ok(Waited::Discard("its backend does not read its stdin")),
            }
            if talk.warmup.refused().is_some() {
                return Ok(Waited::Discard("its backend refused the warm-up"));
            }
            if talk.read.len() > MAX_HELD_OUTPUT {
                return Ok(Waited::Discard("its backend says too much while it waits"));
            }
            if before != (talk.warmup.initialized(), talk.warmup.thread().is_some()) {
                progress(&talk.warmup)?;
            }
        }
        if ready[0] {
            let mut buf = [0u8; 4096];
            match rustix::io::read(adopt, &mut buf) {
                Ok(0) => return Ok(Waited::Discard("the server dropped it")),
                Ok(n) => line.extend_from_slice(&buf[..n]),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(err) => return Err(err.into()),
            }
            if let Some(end) = line.iter().position(|&b| b == b'\n') {
                let path = PathBuf::from(std::ffi::OsStr::from_bytes(&line[..end]));
                if !path.is_absolute() {
                    return Ok(Waited::Discard(
                        "the adopt pipe named no absolute turn directory",
                    ));
                }
                return Ok(Waited::Turn(path));
            }
        }
    }
}

/// A `signalfd` of the (blocked) stop signals: readable when one is pending.
fn signalfd(set: &libc::sigset_t) -> io::Result<OwnedFd> {
    // SAFETY: `set` is a valid, initialized signal set; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is new and ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Stops a spare's backend and everything it started: EOF on its stdin (a `codex
/// app-server` exits on it), then SIGKILL to every process of the spare after
/// [`EXIT_GRACE`], then the reap.
fn stop(mut child: std::process::Child, me: &Identity, id: &str) {
    drop(child.stdin.take());
    let deadline = Instant::now() + EXIT_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let scope = Scope {
        roots: vec![me.pid],
        marker: Some(id.to_owned()),
        not_before: Some(me.start_time),
        exclude: vec![me.pid],
        ..Scope::default()
    };
    match tree::kill_all(&scope, Some(child.id() as i32), Instant::now() + EXIT_GRACE) {
        Ok(left) if left.is_empty() => {}
        Ok(left) => tracing::error!(
            pids = ?left.iter().map(|stat| stat.pid).collect::<Vec<_>>(),
            "processes of the spare survived SIGKILL"
        ),
        Err(err) => tracing::error!(%err, "cannot scan the spare's processes"),
    }
    let _ = child.wait();
}

/// Moves the spare's logs into the turn directory: they are the turn's from now on.
fn move_logs(spare_dir: &Path, turn_dir: &Path) {
    for name in [RUNNER_LOG_FILE, STDERR_FILE] {
        if let Err(err) = std::fs::rename(spare_dir.join(name), turn_dir.join(name)) {
            tracing::warn!(%err, "cannot move the spare's {name} into the turn directory");
        }
    }
}

/// Removes a spare's directory.
fn remove(spare_dir: &Path) {
    if let Err(err) = std::fs::remove_dir_all(spare_dir) {
        tracing::warn!(%err, "cannot remove {}", spare_dir.display());
    }
}

/// Removes the directories of spares whose runner is gone (nobody holds their lock), killing
/// a recorded backend that still runs (by identity): for a server that starts after a spare
/// runner was killed.
pub fn sweep_dead(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir.join(SPARES_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let Ok(lock) = atomic_file::open_private_append(&dir.join(LOCK_FILE)) else {
            continue;
        };
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            continue;
        }
        // A spare the server has just made, whose runner has not taken its lock yet, is not
        // dead: only one older than a minute is swept.
        let young = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age < Duration::from_secs(60)));
        if young {
            continue;
        }
        if let Ok(SpareRecord {
            backend: Some(backend),
            ..
        }) = read_record(&dir)
        {
            let _ = identity::signal(&backend, rustix::process::Signal::KILL);
        }
        remove(&dir);
    }
}

/// A spare as the server holds it: the runner (its child, to reap) and the write end of its
/// adopt pipe. Dropping it discards the spare: the pipe closes and the spare stops.
#[derive(Debug)]
pub struct Spare {
    dir: PathBuf,
    runner: Option<std::process::Child>,
    adopt: Option<OwnedFd>,
}

/// Why a spare did not take a turn.
#[derive(Debug)]
pub enum NotAdopted {
    /// It ended before it took the turn (before or after it was given it), leaving no
    /// record in the turn directory: the turn must be started otherwise.
    Gone,
    /// It was given the turn and did not report ready.
    Failed(io::Error),
}

impl Spare {
    /// Starts a spare of `provider` for `cwd` under `state_dir`: a runner with `lifeline`
    /// (it dies with this server) and the provider's variables `env`, which sends
    /// `thread/start` with `thread_start` ahead, if given.
    pub fn launch(
        options: &LaunchOptions,
        state_dir: &Path,
        provider: &spec::Provider,
        cwd: &Path,
        thread_start: Option<Value>,
        env: &BTreeMap<String, String>,
        lifeline: &Lifeline,
    ) -> io::Result<Spare> {
        let spares = state_dir.join(SPARES_DIR);
        atomic_file::create_private_dir_nofollow(&spares)?;
        let id = uuid::Uuid::now_v7().to_string();
        let dir = spares.join(&id);
        atomic_file::create_private_dir_nofollow(&dir)?;
        let record = SpareRecord {
            v: RECORD_VERSION,
            id,
            provider: provider.clone(),
            cwd: cwd.to_path_buf(),
            thread_start,
            runner: None,
            backend: None,
            started_at_ms: None,
            initialized_at_ms: None,
            thread: None,
        };
        let launched = atomic_file::write_json_atomic(&dir.join(SPARE_FILE), &record)
            .and_then(|()| spawn_runner(options, &dir, env, lifeline));
        match launched {
            Ok((runner, adopt)) => Ok(Spare {
                dir,
                runner: Some(runner),
                adopt: Some(adopt),
            }),
            Err(err) => {
                remove(&dir);
                Err(err)
            }
        }
    }

    /// The spare's directory (gone once it was adopted or has stopped).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Gives the turn of `turn_dir` (its `spec.json` written) to the spare and waits, bounded
    /// by `ready_timeout`, until it reports ready as a launched runner does.
    pub fn adopt(
        mut self,
        turn_dir: &Path,
        ready_timeout: Duration,
    ) -> Result<LaunchedRunner, NotAdopted> {
        let turn_dir = std::path::absolute(turn_dir).map_err(NotAdopted::Failed)?;
        let (Some(mut runner), Some(adopt)) = (self.runner.take(), self.adopt.take()) else {
            return Err(NotAdopted::Gone);
        };
        if !matches!(runner.try_wait(), Ok(None)) {
            reap(runner);
            return Err(NotAdopted::Gone);
        }
        let mut line = turn_dir.into_os_string().into_vec();
        line.push(b'\n');
        let written = rustix::io::write(&adopt, &line);
        drop(adopt);
        if written != Ok(line.len()) {
            // The spare ended between the check and the write (EPIPE), or the line did not
            // go whole: it takes no turn.
            reap(runner);
            return Err(NotAdopted::Gone);
        }
        let turn_dir = PathBuf::from(std::ffi::OsString::from_vec(
            line[..line.len() - 1].to_vec(),
        ));
        let ready = super::launch::wait_ready(&mut runner, &turn_dir, ready_timeout);
        reap(runner);
        match ready {
            Ok(process) => Ok(LaunchedRunner {
                runner: process.runner.clone(),
                process,
            }),
            // The spare ended (or was stopped) before it recorded anything of the turn: the
            // turn is still to be started.
            Err(_) if !has_records(&turn_dir) => Err(NotAdopted::Gone),
            Err(err) => Err(NotAdopted::Failed(err)),
        }
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        // Closing the adopt pipe tells the spare it is discarded.
        drop(self.adopt.take());
        if let Some(runner) = self.runner.take() {
            reap(runner);
        }
    }
}

/// Whether a runner recorded the turn of `turn_dir` as started or ended.
fn has_records(turn_dir: &Path) -> bool {
    [super::PROCESS_FILE, super::EXIT_FILE]
        .iter()
        .any(|name| turn_dir.join(name).exists())
}

/// Waits for a runner on a thread of its own, so that the server keeps no zombie.
fn reap(mut runner: std::process::Child) {
    let spawned = std::thread::Builder::new()
        .name("spare-reaper".into())
        .spawn(move || {
            let _ = runner.wait();
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the spare's reaper");
    }
}

/// Starts `agent-host runner --spare DIR` in a session of its own, with the lifeline's and
/// a new adopt pipe's read ends; returns it and the adopt pipe's write end.
fn spawn_runner(
    options: &LaunchOptions,
    dir: &Path,
    env: &BTreeMap<String, String>,
    lifeline: &Lifeline,
) -> io::Result<(std::process::Child, OwnedFd)> {
    let (adopt_read, adopt_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let log = atomic_file::open_private_append(&dir.join(RUNNER_LOG_FILE))?;
    let args = [
        "runner".into(),
        "--spare".into(),
        dir.to_path_buf().into_os_string(),
    ];
    let lifeline_read = lifeline.read_end();
    let mut env_policy = super::launch::runner_env(Some(lifeline_read.as_raw_fd()), env)?;
    if let process::EnvPolicy::Inherit { set, .. } = &mut env_policy {
        set.push((
            SPARE_FD_ENV.into(),
            adopt_read.as_raw_fd().to_string().into(),
        ));
    }
    let runner = process::spawn(SpawnSpec {
        program: &options.exe,
        args: &args,
        cwd: dir,
        env: env_policy,
        stdin: Stdio::null(),
        stdout: Stdio::from(log.try_clone()?),
        stderr: Stdio::from(log),
        session: SessionPolicy::NewSession,
        inherit_fds: &[lifeline_read, adopt_read.as_fd()],
    })?;
    Ok((runner, adopt_write))
}
