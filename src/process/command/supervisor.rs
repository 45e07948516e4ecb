//! The supervisor of one command (`agent-host command-supervisor --control-fd N`).
//!
//! Two threads and no runtime. The main thread reads the spec, becomes the child subreaper,
//! starts the command, lets go of the command's stdio, and then reaps: first until the command
//! itself exits, then whatever it left behind (killed, since a command's processes end with
//! it), until it has no child left. Having no child left proves that the tree is empty: every
//! descendant has an ancestor chain of live processes up to us, and orphans are re-parented to
//! us. Then it writes the one [`Report`] and exits.
//!
//! The control thread reads the socket: `terminate`, the timeout, or EOF (the server is gone)
//! all kill the tree: SIGKILL to every live descendant, each through a verified pidfd, again
//! until none is alive (new forks included). It never reaps; the main thread does.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus, getpid, wait};

use super::{CommandSpec, EXIT_TIMED_OUT, Report, TERMINATE};
use crate::process::sandbox::Confinement;
use crate::process::tree::{self, Scope};
use crate::process::{EnvPolicy, SessionPolicy, SpawnSpec};

/// How long a kill keeps signalling a tree that will not die (processes in uninterruptible
/// sleep) before it gives up.
const KILL_BOUND: Duration = Duration::from_secs(5);

/// Runs one command to its end; the descriptor `control_fd` is our end of the control socket.
pub fn run(control_fd: RawFd) -> io::Result<()> {
    // SAFETY: the server passed this descriptor to us, and nothing else here owns it.
    let control = unsafe { OwnedFd::from_raw_fd(control_fd) };
    rustix::io::fcntl_setfd(&control, rustix::io::FdFlags::CLOEXEC)?;
    let socket = UnixStream::from(control);
    rustix::process::set_child_subreaper(Some(getpid()))?;
    let mut reader = BufReader::new(socket.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        // The server went away before it said what to run.
        return Ok(());
    }
    let spec: CommandSpec = serde_json::from_str(&line).map_err(io::Error::other)?;
    let leader = match start(&spec) {
        Ok(child) => child,
        Err(message) => return report(&socket, &Report::SpawnFailed { message }),
    };
    release_stdio()?;
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = spec
        .timeout_ms
        .map(|ms| Instant::now() + Duration::from_millis(ms));
    let flag = Arc::clone(&timed_out);
    std::thread::Builder::new()
        .name("command-control".into())
        .spawn(move || watch(reader, deadline, &flag))?;
    let leader = Pid::from_raw(leader.id() as i32).ok_or_else(|| io::Error::other("pid 0"))?;
    let status = wait_for(leader)?;
    sweep_leftovers();
    let exit_code = if timed_out.load(Ordering::SeqCst) {
        EXIT_TIMED_OUT
    } else {
        exit_code(status)
    };
    report(&socket, &Report::Exited { exit_code })
}

/// Starts the command, confined; the error is the OS error's message.
fn start(spec: &CommandSpec) -> Result<Child, String> {
    let confinement = Confinement::prepare(&spec.sandbox)
        .map_err(|err| format!("cannot confine the command: {err}"))?;
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| "the command is empty".to_owned())?;
    let args: Vec<_> = args.iter().map(Into::into).collect();
    let session = if spec.terminal {
        SessionPolicy::NewSessionWithTerminal
    } else {
        SessionPolicy::NewSession
    };
    let env = EnvPolicy::Inherit {
        set: spec
            .env_set
            .iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect(),
        remove: spec.env_remove.iter().map(Into::into).collect(),
    };
    crate::process::spawn_confined(
        SpawnSpec {
            program: Path::new(program),
            args: &args,
            cwd: &spec.cwd,
            env,
            stdin: Stdio::inherit(),
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
            session,
            inherit_fds: &[],
        },
        &confinement,
    )
    .map_err(|err| err.to_string())
}

/// Points our stdin, stdout and stderr at `/dev/null`, so that the command's pipes (or
/// terminal) close as soon as the command's processes are gone.
fn release_stdio() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for target in 0..=2 {
        // SAFETY: dup2 onto our own standard descriptors, which nothing else holds.
        if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), target) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Reaps until the leader exits; orphans that exit before it are reaped on the way.
fn wait_for(leader: Pid) -> io::Result<WaitStatus> {
    loop {
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == leader => return Ok(status),
            Ok(_) | Err(Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
}

/// Reaps and kills until we have no child left, bounded by [`KILL_BOUND`].
fn sweep_leftovers() {
    let bound = Instant::now() + KILL_BOUND;
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) | Err(Errno::INTR) => continue,
            Ok(None) => {}
            Err(_) => return,
        }
        // Some child still runs: what the command left behind.
        signal_tree();
        if Instant::now() >= bound {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Our descendants: the command and everything it started.
fn scope() -> Scope {
    let me = getpid().as_raw_nonzero().get();
    Scope {
        roots: vec![me],
        exclude: vec![me],
        ..Scope::default()
    }
}

/// SIGKILL to every live descendant; how many there were.
fn signal_tree() -> usize {
    match tree::live_members(&scope()) {
        Ok(live) => {
            tree::signal_members(&live, Signal::KILL);
            live.len()
        }
        Err(_) => 0,
    }
}

/// Kills the tree until nothing of it is alive (bounded).
fn kill_tree() {
    let bound = Instant::now() + KILL_BOUND;
    while signal_tree() > 0 && Instant::now() < bound {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The control thread: terminate requests, the timeout and the server's end.
fn watch(mut reader: BufReader<UnixStream>, deadline: Option<Instant>, timed_out: &AtomicBool) {
    let mut line = String::new();
    loop {
        let wait = match deadline {
            Some(at) if !timed_out.load(Ordering::SeqCst) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out.store(true, Ordering::SeqCst);
                    kill_tree();
                    continue;
                }
                Some(left)
            }
            _ => None,
        };
        if reader.get_ref().set_read_timeout(wait).is_err() {
            kill_tree();
            return;
        }
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => {
                // The server is gone: the command goes with it.
                kill_tree();
                return;
            }
            Ok(_) if line.trim() == TERMINATE => kill_tree(),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                kill_tree();
                return;
            }
        }
    }
}

/// The exit code as a shell reports it: the status, or `128 + signal`.
fn exit_code(status: WaitStatus) -> i32 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => -1,
    }
}

fn report(socket: &UnixStream, report: &Report) -> io::Result<()> {
    let mut line = serde_json::to_vec(report).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut socket = socket;
    // The server may be gone; then nobody waits for the report.
    match socket.write_all(&line) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(err),
    }
}
