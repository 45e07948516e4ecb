//! One standalone command (`command/exec`) under a supervisor process of its own.
//!
//! The server [`launch`]es `agent-host command-supervisor --control-fd N` for every command.
//! The supervisor ([`supervisor`]) makes itself the child subreaper, starts the command in a
//! session of its own (confined by [`super::sandbox`]), and is, while it lives, the ancestor of
//! every process the command starts: orphans, double-forked and `setsid`-ed processes come
//! back to it. So "the command's processes" are exactly the supervisor's descendants, found by
//! a `/proc` scan ([`super::tree::members`]) without any marker or group id; a terminate, a
//! timeout, the command's own exit (for what it left behind) and the loss of the server all
//! end them the same way: SIGKILL to every descendant, each through a verified pidfd, until
//! none is left.
//!
//! The command's stdio never passes through the supervisor: the server makes the pipes (or
//! the pseudo-terminal) and the supervisor hands its stdin, stdout and stderr to the command
//! unchanged, then lets go of them. The control channel is one Unix socket pair:
//!
//! - server → supervisor: the [`CommandSpec`] as one JSON line, then `terminate` lines;
//! - supervisor → server: one [`Report`] as a JSON line, then EOF when it exits;
//! - EOF from the server (it exited, however it died) makes the supervisor kill the command
//!   and everything it started: the socket is the lifeline.

pub mod supervisor;

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};
use rustix::pipe::{PipeFlags, fcntl_setpipe_size, pipe_with};
use serde::{Deserialize, Serialize};

use super::pty::{self, Size};
use super::sandbox::Policy;
use super::{EnvPolicy, SessionPolicy, SpawnSpec};

/// The hidden subcommand that runs [`supervisor::run`].
pub const SUBCOMMAND: &str = "command-supervisor";

/// The line the server writes to stop the command.
pub const TERMINATE: &str = "terminate";

/// The exit code of a command stopped by its timeout (Codex's, that of `timeout(1)`).
pub const EXIT_TIMED_OUT: i32 = 124;

/// What the supervisor runs, sent as the first line on the control socket (not on the command
/// line: the environment may hold secrets, and `/proc/PID/cmdline` is world-readable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandSpec {
    /// The argv; the program is looked up on the `PATH` the command gets.
    pub argv: Vec<String>,
    /// An absolute directory.
    pub cwd: PathBuf,
    /// Variables set on top of the supervisor's (the server's) environment.
    pub env_set: Vec<(String, String)>,
    /// Variables removed from it.
    pub env_remove: Vec<String>,
    /// Whether the command's stdin is a terminal that becomes its controlling terminal.
    pub terminal: bool,
    /// `None`: no timeout.
    pub timeout_ms: Option<u64>,
    pub sandbox: Policy,
}

/// What the supervisor tells the server, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "report")]
pub enum Report {
    /// The command could not be started (the message of the OS error, as Codex words it after
    /// `failed to spawn command: `).
    SpawnFailed { message: String },
    /// The command and every process it started are gone: its exit status, `128 + signal`
    /// when a signal killed it, [`EXIT_TIMED_OUT`] when its timeout killed it.
    Exited { exit_code: i32 },
}

/// Where the command's stdin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// `/dev/null`.
    Null,
    /// A pipe the server writes.
    Pipe,
    /// A pseudo-terminal of this size for stdin, stdout and stderr alike.
    Terminal(Size),
}

/// A launched supervisor and the server's ends of everything.
#[derive(Debug)]
pub struct Launched {
    pub supervisor: Child,
    /// The server's end of the control socket (close-on-exec).
    pub control: OwnedFd,
    /// Where to write stdin: the pipe, or the terminal's master.
    pub stdin: Option<OwnedFd>,
    /// Where to read stdout: the pipe, or the terminal's master (stdout and stderr merged).
    pub stdout: OwnedFd,
    /// Where to read stderr; `None` with a terminal.
    pub stderr: Option<OwnedFd>,
    /// The terminal's master, for resizing.
    pub terminal: Option<OwnedFd>,
}

/// A pipe's capacity for the command's output: fewer wake-ups per byte when it streams.
const OUTPUT_PIPE_BYTES: usize = 1024 * 1024;

/// Starts the supervisor of one command (the executable `exe`, this binary). Returns at once:
/// the spec still has to be written to `control` (see the module documentation).
pub fn launch(exe: &Path, input: Input) -> io::Result<Launched> {
    let (control, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let (stdio, mut ours) = command_stdio(input)?;
    let args: [OsString; 3] = [
        SUBCOMMAND.into(),
        "--control-fd".into(),
        theirs.as_raw_fd().to_string().into(),
    ];
    let supervisor = super::spawn(SpawnSpec {
        program: exe,
        args: &args,
        cwd: Path::new("/"),
        env: EnvPolicy::Inherit {
            set: Vec::new(),
            remove: Vec::new(),
        },
        stdin: stdio.stdin,
        stdout: stdio.stdout,
        stderr: stdio.stderr,
        session: SessionPolicy::NewSession,
        inherit_fds: &[theirs.as_fd()],
    })?;
    drop(theirs);
    ours.supervisor = Some(supervisor);
    ours.control = Some(control);
    ours.into_launched()
}

/// The supervisor's stdio (handed on to the command).
struct ChildStdio {
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
}

/// Everything [`Launched`] holds, gathered step by step.
#[derive(Default)]
struct Ours {
    supervisor: Option<Child>,
    control: Option<OwnedFd>,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    terminal: Option<OwnedFd>,
}

impl Ours {
    fn into_launched(self) -> io::Result<Launched> {
        let missing = || io::Error::other("command launch incomplete");
        Ok(Launched {
            supervisor: self.supervisor.ok_or_else(missing)?,
            control: self.control.ok_or_else(missing)?,
            stdin: self.stdin,
            stdout: self.stdout.ok_or_else(missing)?,
            stderr: self.stderr,
            terminal: self.terminal,
        })
    }
}

fn command_stdio(input: Input) -> io::Result<(ChildStdio, Ours)> {
    let mut ours = Ours::default();
    if let Input::Terminal(size) = input {
        let terminal = pty::open(size)?;
        ours.stdin = Some(terminal.master.try_clone()?);
        ours.stdout = Some(terminal.master.try_clone()?);
        ours.terminal = Some(terminal.master);
        let stdio = ChildStdio {
            stdin: Stdio::from(terminal.slave.try_clone()?),
            stdout: Stdio::from(terminal.slave.try_clone()?),
            stderr: Stdio::from(terminal.slave),
        };
        return Ok((stdio, ours));
    }
    let stdin = match input {
        Input::Pipe => {
            let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
            ours.stdin = Some(write);
            Stdio::from(read)
        }
        Input::Null | Input::Terminal(_) => Stdio::null(),
    };
    let (stdout_read, stdout_write) = output_pipe()?;
    let (stderr_read, stderr_write) = output_pipe()?;
    ours.stdout = Some(stdout_read);
    ours.stderr = Some(stderr_read);
    let stdio = ChildStdio {
        stdin,
        stdout: Stdio::from(stdout_write),
        stderr: Stdio::from(stderr_write),
    };
    Ok((stdio, ours))
}

fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    // A larger pipe is only an optimisation: the system's limit may refuse it.
    let _ = fcntl_setpipe_size(&read, OUTPUT_PIPE_BYTES);
    Ok((read, write))
}
