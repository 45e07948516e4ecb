//! The per-turn runner: a detached supervisor of one backend process tree.
//!
//! `agent-host runner --turn-dir DIR` reads `spec.json`, becomes the child subreaper, starts
//! the backend in its own session, writes `process.json`, appends canonical records to
//! `events.jsonl`, serves the control socket, and at the very end writes `exit.json` and the
//! `turnEnded` record. It runs on plain threads, not tokio: it is the subreaper and reaps by
//! PID, which must not race a runtime's own child reaping, and its work is a handful of
//! blocking reads feeding one loop.
//!
//! Codemap: [`crate::spec`] (input, beside the runner so the backends can read it too),
//! [`supervisor`] (the loop and the end decision), [`ladder`] (the interrupt ladder and the
//! sweep, as one phase), [`control`] (the socket), [`log`] (the event log), [`launch`]
//! (starting a runner, for the server), [`client`] (following and controlling a runner, for
//! the server and `agent-host kill`).

pub mod approvals;
pub mod client;
pub mod control;
pub mod inbox;
pub mod ladder;
pub mod launch;
pub mod log;
pub mod spare;
pub mod supervisor;

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;

use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::atomic_file;
use crate::backend::{self, Adapter};
use crate::events::{
    BackendProcess, EndReason, EngineJob, ErrorInfo, Event, ExitRecord, Mode, ProcessRecord,
    RECORD_VERSION, SpareOrigin, now_ms,
};
use crate::process::tree::{self, Scope};
use crate::process::{self, EnvPolicy, SessionPolicy, SpawnSpec, identity};
use crate::spec;
use control::ControlInput;
use log::{Durability, EventLog};
use supervisor::{Backend, Input, Supervisor};

/// File names inside a turn directory (defined, with the rest of the layout, in
/// [`crate::store::turn_dir`]).
pub use crate::store::turn_dir::{
    EXIT_FILE, LOCK_FILE, PROCESS_FILE, RUNNER_LOG_FILE, SOCKET_FILE, STDERR_FILE, STDOUT_FILE,
};

/// The environment variable naming the inherited lifeline descriptor (foreground turns).
pub const LIFELINE_FD_ENV: &str = "AGENT_HOST_LIFELINE_FD";

/// The environment variable that carries the values of the provider's `env` to the runner, as
/// a JSON object: `spec.json` names the variables only, so no secret sits in a file.
pub const PROVIDER_ENV_ENV: &str = "AGENT_HOST_PROVIDER_ENV";

/// The environment through which an engine that has no variables of its own for it
/// (Kubernetes) tells the runner its job and node.
pub const ENGINE_JOB_ENV: &str = "AGENT_HOST_JOB_NAME";
pub const ENGINE_NODE_ENV: &str = "AGENT_HOST_NODE_NAME";

/// The longest socket path we bind (`sun_path` holds 108 bytes with its terminator).
const MAX_SOCKET_PATH: usize = 100;

/// Sends the runner's log to the turn's `runner.log` (stderr when that cannot be opened).
pub fn init_logging(turn_dir: &Path) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match atomic_file::open_private_append(&turn_dir.join(RUNNER_LOG_FILE)) {
        Ok(file) => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init();
        }
        Err(_) => crate::logging::init(),
    }
}

/// Runs the turn in `turn_dir` to its end: the whole life of a runner. A failure the runner
/// can record ends the turn `failed` and returns `Ok`; an error is one it could not record
/// (another runner holds the turn, or the turn's files cannot be written).
pub fn run(turn_dir: &Path) -> io::Result<()> {
    run_placed(turn_dir, None)
}

/// [`run`] as the main process of a job of `engine` (`slurm`): in the foreground, controlled
/// through the control inbox (no socket is served: the server may be on another node) and
/// the engine's signals, SIGUSR1 as the turn's interrupt; the process record names the job.
pub fn run_in_engine(turn_dir: &Path, engine: &str) -> io::Result<()> {
    run_placed(turn_dir, Some(engine))
}

fn run_placed(turn_dir: &Path, engine: Option<&str>) -> io::Result<()> {
    let turn_dir = std::path::absolute(turn_dir)?;
    let Some(lock) = claim(&turn_dir)? else {
        tracing::warn!("the turn has already ended; nothing to do");
        return Ok(());
    };
    // Before any thread exists, so that every thread inherits the mask (`process::spawn`
    // gives the backend a clean one).
    let stop_signals = block_stop_signals(engine.is_some())?;
    let lifeline = take_inherited_fd(LIFELINE_FD_ENV);
    become_subreaper();
    let me = identity::current()?;
    let taken = Taken {
        lock,
        me,
        stop_signals,
        lifeline,
        engine: engine.map(engine_job),
    };
    run_taken(&turn_dir, taken, None)
}

/// A runner that holds its turn: the turn's lock, its own identity, its blocked stop
/// signals, its lifeline and the engine job it is the main process of (if any).
struct Taken {
    lock: std::fs::File,
    me: identity::Identity,
    stop_signals: libc::sigset_t,
    lifeline: Option<OwnedFd>,
    engine: Option<EngineJob>,
}

/// Runs a turn this runner holds to its end, on `warm` (a backend a spare started before the
/// turn existed) when it fits the turn, else on a backend started now.
fn run_taken(turn_dir: &Path, taken: Taken, warm: Option<WarmBackend>) -> io::Result<()> {
    let Taken {
        lock,
        me,
        stop_signals,
        lifeline,
        engine,
    } = taken;
    let mut log = EventLog::open(turn_dir)?;
    let mut record = ProcessRecord {
        v: RECORD_VERSION,
        runner: me,
        backend: None,
        socket: String::new(),
        mode: Mode::Background,
        started_at_ms: now_ms(),
        heartbeat_at_ms: now_ms(),
        descendants: Vec::new(),
        engine,
        spare: None,
    };
    let started = match start_backend(turn_dir, &mut record, warm)? {
        Ok(started) => started,
        Err(stop) => {
            atomic_file::write_json_atomic(&turn_dir.join(PROCESS_FILE), &record)?;
            if let Some(socket) = &stop.socket {
                let _ = std::fs::remove_file(socket);
            }
            return fail_before_start(turn_dir, &mut log, stop.reason, stop.message);
        }
    };
    let feeds = Feeds {
        stop_signals,
        lifeline,
    };
    let exit = supervise(turn_dir, record, log, started, feeds)?;
    tracing::info!(status = ?exit.status, reason = %exit.reason, "turn ended");
    drop(lock);
    Ok(())
}

/// The job this runner is the main process of, from the engine's environment.
fn engine_job(engine: &str) -> EngineJob {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (job_id, node) = match engine {
        "slurm" => (var("SLURM_JOB_ID"), var("SLURMD_NODENAME")),
        "kubernetes" => (var(ENGINE_JOB_ENV), var(ENGINE_NODE_ENV)),
        _ => (String::new(), String::new()),
    };
    let node = if node.is_empty() {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    } else {
        node
    };
    EngineJob {
        launcher: engine.to_owned(),
        job_id,
        node,
    }
}

/// What feeds the loop besides the backend: the blocked stop signals, the lifeline.
struct Feeds {
    stop_signals: libc::sigset_t,
    lifeline: Option<OwnedFd>,
}

/// Makes this process the child subreaper of everything it starts.
fn become_subreaper() {
    if let Err(err) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        tracing::warn!(%err, "cannot become the child subreaper; orphans will escape to init");
    }
}

/// A backend a warm spare started before its turn existed, with what it was started with.
struct WarmBackend {
    child: std::process::Child,
    /// What the spare read of the backend's stdout: the turn reads it first.
    stdout: Vec<u8>,
    /// What the spare sent the backend before the turn existed.
    sent: backend::codex_turn::SpareSent,
    command: backend::BackendCommand,
    cwd: PathBuf,
    provider_env: std::collections::BTreeMap<String, String>,
    origin: SpareOrigin,
}

impl WarmBackend {
    /// Whether the turn would start exactly this process: the same command line, kind
    /// variables, provider variables and working directory.
    fn fits(
        &self,
        spec: &spec::Spec,
        command: &backend::BackendCommand,
        provider_env: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        self.command == *command
            && self.cwd == spec.cwd
            && self.provider_env == *provider_env
            && command.stdin == backend::Stdin::Protocol
    }

    /// Stops a warm backend the turn cannot use (it has seen nothing; the turn's final sweep
    /// takes whatever it started).
    fn discard(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Takes the turn: one runner per turn, by a lock held for the runner's life (closed on
/// exec, so the backend does not inherit it). `None` when the turn has already ended.
fn claim(turn_dir: &Path) -> io::Result<Option<std::fs::File>> {
    let lock = lock_dir(turn_dir)?;
    Ok((!turn_dir.join(EXIT_FILE).exists()).then_some(lock))
}

/// Takes the runner's lock of `dir` (a turn's or a warm spare's), held while the returned
/// file is open; `AlreadyExists` when another runner holds it.
fn lock_dir(dir: &Path) -> io::Result<std::fs::File> {
    let lock = atomic_file::open_private_append(&dir.join(LOCK_FILE))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("another runner holds {}", dir.display()),
            )
        },
    )?;
    Ok(lock)
}

/// Why the turn ends before its backend runs; the control socket to remove, if bound.
struct EarlyEnd {
    reason: EndReason,
    message: String,
    socket: Option<PathBuf>,
}

/// What runs once the backend has started.
struct Started {
    spec: spec::Spec,
    socket_path: PathBuf,
    listener: UnixListener,
    command_stdin: backend::Stdin,
    /// The backend's command line, program first, for its process record.
    argv: Vec<String>,
    adapter: Adapter,
    child: std::process::Child,
    /// What a warm spare already read of the backend's stdout.
    stdout_prefix: Vec<u8>,
}

/// Reads the spec, binds the control socket, builds the backend's command line and starts
/// it, or takes `warm` when it fits. `Ok(Err(_))`: the turn ends `failed` for a reason the
/// runner records; `Err`: the turn's files cannot be written.
fn start_backend(
    turn_dir: &Path,
    record: &mut ProcessRecord,
    warm: Option<WarmBackend>,
) -> io::Result<Result<Started, EarlyEnd>> {
    let prepared = match prepare(turn_dir, record) {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(early)) => {
            if let Some(warm) = warm {
                warm.discard();
            }
            return Ok(Err(early));
        }
        Err(err) => {
            if let Some(warm) = warm {
                warm.discard();
            }
            return Err(err);
        }
    };
    let Prepared {
        spec,
        socket_path,
        listener,
        command,
        mut adapter,
        provider_env,
    } = prepared;
    let mut stdout_prefix = Vec::new();
    let child = match warm {
        Some(warm) if warm.fits(&spec, &command, &provider_env) => {
            tracing::info!(pid = warm.child.id(), spare = %warm.origin.id, sent = ?warm.sent, "backend taken from a warm spare");
            record.spare = Some(warm.origin);
            adapter = adapter.after_spare(&spec, &warm.sent);
            stdout_prefix = warm.stdout;
            Ok(warm.child)
        }
        unfit => {
            if let Some(warm) = unfit {
                tracing::info!(spare = %warm.origin.id, "the warm spare does not fit the turn; starting a fresh backend");
                warm.discard();
            }
            let stderr = atomic_file::open_private_append(&turn_dir.join(STDERR_FILE))?;
            let env = backend_env(
                &command,
                &provider_env,
                backend::permissions::env(&spec),
                &spec.turn_id,
                spec.provider.env_inherit.as_deref(),
            );
            spawn_backend(&command, &spec.cwd, env, stderr)
        }
    };
    let child = match child {
        Ok(child) => child,
        Err(err) => {
            let message = spawn_error(&command.program, &spec.provider.name, &spec.cwd, &err);
            return Ok(Err(EarlyEnd {
                reason: EndReason::SpawnFailed,
                message,
                socket: Some(socket_path),
            }));
        }
    };
    tracing::info!(pid = child.id(), program = %command.program.display(), "backend started");
    Ok(Ok(Started {
        spec,
        socket_path,
        listener,
        argv: std::iter::once(command.program.as_os_str())
            .chain(command.args.iter().map(OsString::as_os_str))
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect(),
        command_stdin: command.stdin,
        adapter,
        child,
        stdout_prefix,
    }))
}

/// What the backend is started from: the spec, the bound socket, the command line, the
/// adapter and the provider's variables.
struct Prepared {
    spec: spec::Spec,
    socket_path: PathBuf,
    listener: UnixListener,
    command: backend::BackendCommand,
    adapter: Adapter,
    provider_env: std::collections::BTreeMap<String, String>,
}

/// Reads the spec, binds the control socket and builds the backend's command line.
fn prepare(turn_dir: &Path, record: &mut ProcessRecord) -> io::Result<Result<Prepared, EarlyEnd>> {
    let early = |reason, message, socket: Option<&Path>| {
        Ok(Err(EarlyEnd {
            reason,
            message,
            socket: socket.map(Path::to_path_buf),
        }))
    };
    let spec = match spec::read(turn_dir) {
        Ok(spec) => spec,
        Err(err) => {
            let message = format!("cannot read the turn spec: {err}");
            return early(EndReason::BadSpec, message, None);
        }
    };
    record.mode = spec.mode;
    // A runner an engine placed reads its control inbox (the server may be on another
    // node), and serves its socket too, for `runner ctl` run on its own node (on Kubernetes,
    // through `pods/exec`).
    if record.engine.is_some()
        && let Err(err) = inbox::create(turn_dir)
    {
        let message = format!("cannot create the control inbox: {err}");
        return early(EndReason::RunnerError, message, None);
    }
    let bound = socket_path(turn_dir, &spec.turn_id)
        .and_then(|path| bind_private(&path).map(|listener| (path, listener)));
    let (socket_path, listener) = match bound {
        Ok(bound) => bound,
        Err(err) => {
            let message = format!("cannot serve the control socket: {err}");
            return early(EndReason::RunnerError, message, None);
        }
    };
    record.socket = socket_path.to_string_lossy().into_owned();
    let prepared = backend::command_for(&spec)
        .and_then(|command| Adapter::new(&spec).map(|adapter| (command, adapter)))
        .and_then(|(command, adapter)| Ok((command, adapter, provider_env(&spec.provider)?)));
    let (command, adapter, provider_env) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return early(EndReason::SpawnFailed, message, Some(&socket_path)),
    };
    Ok(Ok(Prepared {
        spec,
        socket_path,
        listener,
        command,
        adapter,
        provider_env,
    }))
}

/// The backend's environment: the kind's own variables first, those of the provider's `env`
/// after them (they win), then `settings` (the turn's approval policy and sandbox, which the
/// provider's `env` cannot change) and the marker last: every process started with it is the
/// turn's (or the warm spare's that becomes the turn's).
fn backend_env(
    command: &backend::BackendCommand,
    provider_env: &std::collections::BTreeMap<String, String>,
    settings: Vec<(OsString, OsString)>,
    marker: &str,
    env_inherit: Option<&[String]>,
) -> EnvPolicy {
    // With the provider's `env_inherit`, only the variables named there are inherited; the
    // runner's own channels never reach the backend, even when the list names them.
    EnvPolicy::inherit_from(
        env_inherit,
        command
            .env
            .iter()
            .filter(|(k, _)| !k.to_str().is_some_and(|k| provider_env.contains_key(k)))
            .cloned()
            .chain(
                provider_env
                    .iter()
                    .map(|(k, v)| (OsString::from(k), OsString::from(v))),
            )
            .chain(settings)
            .chain([(
                OsString::from(tree::TURN_MARKER_ENV),
                OsString::from(marker),
            )])
            .collect(),
        vec![
            OsString::from(LIFELINE_FD_ENV),
            OsString::from(PROVIDER_ENV_ENV),
            OsString::from(spare::SPARE_FD_ENV),
        ],
    )
}

/// Starts the backend in a session of its own.
fn spawn_backend(
    command: &backend::BackendCommand,
    cwd: &Path,
    env: EnvPolicy,
    stderr: std::fs::File,
) -> io::Result<std::process::Child> {
    process::spawn(SpawnSpec {
        program: &command.program,
        args: &command.args,
        cwd,
        env,
        stdin: match &command.stdin {
            backend::Stdin::Null => Stdio::null(),
            backend::Stdin::Prompt(_)
            | backend::Stdin::ApprovalAnswers
            | backend::Stdin::UserMessages { .. }
            | backend::Stdin::Protocol => Stdio::piped(),
        },
        stdout: Stdio::piped(),
        stderr: Stdio::from(stderr),
        session: SessionPolicy::NewSession,
        inherit_fds: &[],
    })
}

/// Polls the control inbox of a runner an engine placed (`engine`), into the loop.
fn start_inbox(
    turn_dir: &Path,
    engine: Option<&EngineJob>,
    to_loop: &mpsc::Sender<Input>,
) -> io::Result<()> {
    if engine.is_none() {
        return Ok(());
    }
    let tx = to_loop.clone();
    let path = turn_dir.join(inbox::INBOX_FILE);
    spawn_thread("inbox", move || inbox::poll(&path, &tx)).map(|_| ())
}

/// Records the started backend in `process.json` and as `runnerStarted` in the event log.
fn record_backend(
    turn_dir: &Path,
    record: &mut ProcessRecord,
    log: &mut EventLog,
    pid: i32,
    argv: Vec<String>,
) -> io::Result<()> {
    record.backend = Some(BackendProcess {
        identity: identity::of_pid(pid)?,
        pgid: pid,
        argv,
    });
    atomic_file::write_json_atomic(&turn_dir.join(PROCESS_FILE), &*record)?;
    log.append(
        Event::RunnerStarted {
            runner_pid: record.runner.pid,
            backend_pid: pid,
            backend_pgid: pid,
        },
        Durability::Flushed,
    )?;
    Ok(())
}

/// Records the started backend (`process.json`, `runnerStarted`), starts the threads that
/// feed the loop, and runs the supervisor to the turn's end.
fn supervise(
    turn_dir: &Path,
    mut record: ProcessRecord,
    mut log: EventLog,
    started: Started,
    feeds: Feeds,
) -> io::Result<ExitRecord> {
    let Feeds {
        stop_signals,
        lifeline,
    } = feeds;
    let engine = record.engine.is_some();
    let Started {
        spec,
        socket_path,
        listener,
        command_stdin,
        argv,
        adapter,
        mut child,
        stdout_prefix,
    } = started;
    let pid = child.id() as i32;
    // The child is unreaped until its waiter says so, so this pidfd names it for sure.
    let pidfd = pidfd_open(
        Pid::from_raw(pid).ok_or_else(|| io::Error::other("pid 0"))?,
        PidfdFlags::empty(),
    )?;
    record_backend(turn_dir, &mut record, &mut log, pid, argv)?;
    let (to_loop, inputs) = mpsc::channel::<Input>();
    let (answers, messages) = connect_stdin(&mut child, command_stdin)?;
    start_feeders(
        turn_dir,
        child,
        stdout_prefix,
        &to_loop,
        stop_signals,
        listener,
    )?;
    start_inbox(turn_dir, record.engine.as_ref(), &to_loop)?;
    let client_link = watch_client(spec.mode, lifeline, &to_loop)?;
    let scope = turn_scope(&record, &spec.turn_id);
    let backend = Backend {
        pid,
        pidfd,
        adapter,
    };
    let supervisor = Supervisor::new(
        turn_dir.to_path_buf(),
        log,
        record,
        backend,
        scope,
        backend::grace(&spec),
        socket_path,
    )
    .with_approvals(approvals::Approvals::new(
        match (answers, &messages) {
            (Some(answers), _) => approvals::AnswerPipe::Stdin(answers),
            (None, Some(_)) => approvals::AnswerPipe::UserMessages,
            (None, None) => approvals::AnswerPipe::None,
        },
        spec::policy_decision(spec.approval_policy.as_ref()),
        client_link,
    ));
    let supervisor = match messages {
        Some((stdin, Some(prompt))) => supervisor.with_user_messages(stdin, &prompt),
        Some((stdin, None)) => supervisor.with_protocol_input(stdin),
        None => supervisor,
    };
    let supervisor = if engine {
        supervisor.in_engine()
    } else {
        supervisor
    };
    // Keep one sender so the channel never reports "disconnected" while timers run.
    let _keep = to_loop;
    supervisor.run(inputs)
}

/// Every process of the turn: the runner's descendants (it is their subreaper, so orphans,
/// double-forked or `setsid`-ed, come back to it), and whatever carries the turn's marker
/// that escaped all the same (no subreaper); nothing that started before the runner.
fn turn_scope(record: &ProcessRecord, turn_id: &str) -> Scope {
    Scope {
        roots: vec![record.runner.pid],
        // A backend taken from a warm spare carries the spare's id, not the turn's.
        marker: Some(match &record.spare {
            Some(spare) => spare.id.clone(),
            None => turn_id.to_owned(),
        }),
        not_before: Some(record.runner.start_time),
        exclude: vec![record.runner.pid],
        ..Scope::default()
    }
}

/// The senders of an open stdin: approval answers, or user messages (with the first one,
/// `None` for a backend's own protocol, whose lines the adapter makes).
type StdinFeeds = (
    Option<mpsc::Sender<String>>,
    Option<(mpsc::Sender<String>, Option<String>)>,
);

/// What the backend's stdin carries: the prompt (written by a thread of its own, then
/// closed), approval answers or user messages (an open pipe fed line by line by the loop,
/// which closes it by dropping the sender), or nothing.
fn connect_stdin(child: &mut std::process::Child, stdin: backend::Stdin) -> io::Result<StdinFeeds> {
    let open_stdin = |child: &mut std::process::Child| -> io::Result<_> {
        match child.stdin.take() {
            Some(stdin) => {
                let (tx, lines) = mpsc::channel::<String>();
                spawn_thread("backend-stdin", move || {
                    approvals::write_lines(stdin, lines)
                })?;
                Ok(Some(tx))
            }
            None => Ok(None),
        }
    };
    Ok(match stdin {
        backend::Stdin::Null => (None, None),
        backend::Stdin::Prompt(prompt) => {
            if let Some(mut stdin) = child.stdin.take() {
                spawn_thread("prompt-stdin", move || {
                    // The backend may exit without reading: a broken pipe is not our failure.
                    if let Err(err) = stdin.write_all(prompt.as_bytes()) {
                        tracing::debug!(%err, "prompt not fully written to stdin");
                    }
                })?;
            }
            (None, None)
        }
        backend::Stdin::ApprovalAnswers => (open_stdin(child)?, None),
        backend::Stdin::UserMessages { prompt } => {
            (None, open_stdin(child)?.map(|tx| (tx, Some(prompt))))
        }
        backend::Stdin::Protocol => (None, open_stdin(child)?.map(|tx| (tx, None))),
    })
}

/// The threads that feed the loop: the backend's stdout (after `stdout_prefix`, what a warm
/// spare read of it), its waiter, the stop signals and the control socket.
fn start_feeders(
    turn_dir: &Path,
    mut child: std::process::Child,
    stdout_prefix: Vec<u8>,
    to_loop: &mpsc::Sender<Input>,
    stop_signals: libc::sigset_t,
    listener: UnixListener,
) -> io::Result<()> {
    if let Some(stdout) = child.stdout.take() {
        let raw_path = turn_dir.join(STDOUT_FILE);
        let tx = to_loop.clone();
        spawn_thread("backend-stdout", move || {
            supervisor::read_stdout(io::Cursor::new(stdout_prefix).chain(stdout), &raw_path, tx)
        })?;
    } else {
        let _ = to_loop.send(Input::StdoutEof);
    }
    let tx = to_loop.clone();
    spawn_thread("backend-waiter", move || {
        let status = child.wait();
        let _ = tx.send(Input::LeaderExited(status));
    })?;
    let tx = to_loop.clone();
    spawn_thread("signals", move || wait_stop_signals(stop_signals, tx))?;
    let tx = to_loop.clone();
    let events_path = turn_dir.join(log::EVENTS_FILE);
    spawn_thread("control", move || {
        control::serve(
            listener,
            events_path,
            tx,
            Input::Control as fn(ControlInput) -> Input,
        )
    })
}

/// Who answers approvals: a foreground turn's client through its lifeline (watched: a
/// broken lifeline interrupts the turn), else whoever subscribes.
fn watch_client(
    mode: Mode,
    lifeline: Option<OwnedFd>,
    to_loop: &mpsc::Sender<Input>,
) -> io::Result<approvals::ClientLink> {
    match (mode, lifeline) {
        (Mode::Foreground, Some(fd)) => {
            let tx = to_loop.clone();
            spawn_thread("lifeline", move || watch_lifeline(fd, tx))?;
            Ok(approvals::ClientLink::Lifeline)
        }
        (Mode::Foreground, None) => {
            tracing::warn!(
                "foreground turn without a lifeline: it will not notice its client going away"
            );
            Ok(approvals::ClientLink::Subscribers)
        }
        (Mode::Background, _) => Ok(approvals::ClientLink::Subscribers),
    }
}

fn spawn_thread(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map(|_| ())
}

/// The values of the provider's `env`, named by the spec and passed in [`PROVIDER_ENV_ENV`].
fn provider_env(
    provider: &spec::Provider,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut passed: std::collections::BTreeMap<String, String> =
        match std::env::var(PROVIDER_ENV_ENV) {
            Ok(json) => serde_json::from_str(&json).map_err(|err| {
                format!("{PROVIDER_ENV_ENV} is not a JSON object of strings: {err}")
            })?,
            Err(_) => std::collections::BTreeMap::new(),
        };
    let missing: Vec<&str> = provider
        .env
        .iter()
        .filter(|name| !passed.contains_key(name.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the values of the environment variables {} of provider `{}` were not passed to \
             the runner (in {PROVIDER_ENV_ENV})",
            missing.join(", "),
            provider.name
        ));
    }
    passed.retain(|name, _| provider.env.contains(name));
    Ok(passed)
}

/// Ends a turn whose backend never started.
fn fail_before_start(
    turn_dir: &Path,
    log: &mut EventLog,
    reason: EndReason,
    message: String,
) -> io::Result<()> {
    tracing::error!(%message, "turn failed before the backend started");
    log.append(
        Event::Error {
            message: message.clone(),
            will_retry: false,
        },
        Durability::Flushed,
    )?;
    let record = ExitRecord::ended(reason, Some(ErrorInfo::new(message)), log.next_seq());
    supervisor::write_end(turn_dir, log, &record).map(|_| ())
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and the threads it starts): the runner
/// takes them with `sigwait` and treats them as an interrupt with reason `kill`, instead of
/// dying and leaving the turn without an exit record.
fn block_stop_signals(engine: bool) -> io::Result<libc::sigset_t> {
    // SAFETY: sigset manipulation on a local value, and a mask change of this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        if engine {
            // The engine's interrupt (`scancel --signal=USR1`).
            libc::sigaddset(&mut set, libc::SIGUSR1);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(set)
    }
}

/// Waits for the blocked stop signals and forwards each to the loop.
fn wait_stop_signals(set: libc::sigset_t, to_loop: mpsc::Sender<Input>) {
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` is a valid, initialized signal set and `signal` a valid out pointer.
        let rc = unsafe { libc::sigwait(&set, &mut signal) };
        if rc != 0 {
            tracing::warn!(rc, "sigwait failed; stop signals are no longer watched");
            return;
        }
        if to_loop.send(Input::StopSignal(signal)).is_err() {
            return;
        }
    }
}

/// Takes the inherited descriptor (the lifeline, a spare's adopt pipe) that the environment
/// variable `name` names, marking it close-on-exec so that the backend never holds it.
fn take_inherited_fd(name: &str) -> Option<OwnedFd> {
    let raw: RawFd = std::env::var(name).ok()?.parse().ok()?;
    if raw < 3 {
        return None;
    }
    // SAFETY: the launcher passed this descriptor to us for our sole use; we check that it
    // is open before owning it.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    rustix::io::fcntl_getfd(borrowed).ok()?;
    rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC).ok()?;
    // SAFETY: as above; nothing else in this process owns the descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Blocks until every writer of the lifeline is gone (the server exited or was killed).
fn watch_lifeline(fd: OwnedFd, to_loop: mpsc::Sender<Input>) {
    let mut buf = [0u8; 64];
    loop {
        match rustix::io::read(fd.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    let _ = to_loop.send(Input::LifelineBroken);
}

/// The control socket path: in the turn directory when short enough, else a short path in
/// `$XDG_RUNTIME_DIR` or the temp directory (`sun_path` holds 108 bytes).
pub fn socket_path(turn_dir: &Path, turn_id: &str) -> io::Result<PathBuf> {
    let local = turn_dir.join(SOCKET_FILE);
    if local.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(local);
    }
    let name = match uuid::Uuid::parse_str(turn_id) {
        Ok(id) => short_socket_name(id),
        Err(_) => format!("runner-{}.sock", std::process::id()),
    };
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(SOCKET_DIR),
        Some(_) | None => std::env::temp_dir().join(private_temp_socket_dir()),
    };
    atomic_file::create_private_dir(&dir)?;
    // A shared temp directory may hold a directory of that name made by someone else.
    if !is_private_dir_of_ours(&dir) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a private directory of ours", dir.display()),
        ));
    }
    let path = dir.join(name);
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no socket path short enough for {}", turn_dir.display()),
        ));
    }
    Ok(path)
}

/// The directory of short-path sockets under `$XDG_RUNTIME_DIR`.
const SOCKET_DIR: &str = "agent-host";

/// The directory of short-path sockets in the shared temp directory.
fn private_temp_socket_dir() -> String {
    format!("agent-host-{}", rustix::process::getuid().as_raw())
}

/// A turn's socket name in a shared socket directory.
fn short_socket_name(turn_id: uuid::Uuid) -> String {
    format!("{}.sock", turn_id.simple())
}

/// True when `dir` is a real directory (not a link) owned by us and closed to others.
fn is_private_dir_of_ours(dir: &Path) -> bool {
    rustix::fs::lstat(dir).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Directory
            && stat.st_uid == rustix::process::getuid().as_raw()
            && stat.st_mode & 0o077 == 0
    })
}

/// True when `path` is a socket that the runner of `turn_id` in `turn_dir` may have bound:
/// the turn directory's `control.sock`, or the turn's name in a private socket directory of
/// ours; and it is a socket now (not a link, not a file).
pub fn is_socket_path_of(turn_dir: &Path, turn_id: &str, path: &Path) -> bool {
    let is_socket = std::fs::symlink_metadata(path)
        .is_ok_and(|meta| std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    if !is_socket {
        return false;
    }
    if path == turn_dir.join(SOCKET_FILE) {
        return true;
    }
    let (Ok(id), Some(dir), Some(name)) = (
        uuid::Uuid::parse_str(turn_id),
        path.parent(),
        path.file_name(),
    ) else {
        return false;
    };
    let dir_name = dir.file_name().and_then(|n| n.to_str());
    name.to_str() == Some(short_socket_name(id).as_str())
        && (dir_name == Some(SOCKET_DIR) || dir_name == Some(private_temp_socket_dir().as_str()))
        && is_private_dir_of_ours(dir)
}

/// Binds an owner-only Unix socket (the umask is narrowed around the bind; the runner has no
/// other threads yet).
fn bind_private(path: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    bound
}

/// Why the backend could not be started, in words that say what to do.
fn spawn_error(program: &Path, provider: &str, cwd: &Path, err: &io::Error) -> String {
    let program = program.display();
    match err.kind() {
        io::ErrorKind::NotFound if !cwd.is_dir() => format!(
            "cannot start {program}: the turn's working directory {} does not exist",
            cwd.display()
        ),
        io::ErrorKind::NotFound => format!(
            "cannot start {program}: not found (is it installed and on the server's PATH? \
             `command` of provider `{provider}` names the program; the built-in provider `demo` \
             needs no install)"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot start {program}: permission denied (is it executable?); `command` of \
             provider `{provider}` names the program"
        ),
        _ => format!("cannot start {program}: {err}"),
    }
}
