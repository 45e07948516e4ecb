//! The only module that creates processes, and the tools to find and stop them again.
//!
//! [`spawn`] demands an explicit working directory, environment policy, stdio and session
//! policy; `clippy.toml` bans `Command::new` everywhere else. [`identity`] names processes so
//! that a reused PID is never signalled; [`tree`] finds every process of a turn and stops it.
//! [`command`] runs one standalone command (`command/exec`) under a supervisor of its own,
//! confined by [`sandbox`], with a terminal from [`pty`] when asked.

pub mod capture;
pub mod command;
pub mod identity;
pub mod pty;
pub mod sandbox;
pub mod tree;

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Which environment the new process gets.
#[derive(Debug, Clone)]
pub enum EnvPolicy {
    /// Our environment, minus `remove`, plus `set` (later entries win).
    Inherit {
        set: Vec<(OsString, OsString)>,
        remove: Vec<OsString>,
    },
    /// Only `set`.
    Clean { set: Vec<(OsString, OsString)> },
    /// Only our variables named in `inherit` (those we have), plus `set` (later entries win):
    /// a provider's `env_inherit`.
    Only {
        inherit: Vec<OsString>,
        set: Vec<(OsString, OsString)>,
    },
}

impl EnvPolicy {
    /// Our environment minus `remove`, plus `set`, when `inherit` is `None`; else only our
    /// variables that `inherit` names, plus `set`. `remove` wins over `inherit`.
    pub fn inherit_from(
        inherit: Option<&[String]>,
        set: Vec<(OsString, OsString)>,
        remove: Vec<OsString>,
    ) -> EnvPolicy {
        match inherit {
            None => EnvPolicy::Inherit { set, remove },
            Some(names) => EnvPolicy::Only {
                inherit: names
                    .iter()
                    .map(OsString::from)
                    .filter(|name| !remove.contains(name))
                    .collect(),
                set,
            },
        }
    }
}

/// Where the new process lives in the session and group hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPolicy {
    /// `setsid()`: a new session and process group led by the child; no controlling terminal.
    NewSession,
    /// `setsid()`, then the child's stdin (a terminal) becomes its controlling terminal.
    NewSessionWithTerminal,
    /// Stay in our session and group.
    Inherit,
}

/// Everything needed to start a process; nothing is implied.
pub struct SpawnSpec<'a> {
    pub program: &'a Path,
    pub args: &'a [OsString],
    pub cwd: &'a Path,
    pub env: EnvPolicy,
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    pub session: SessionPolicy,
    /// Descriptors the child inherits under the same numbers (their close-on-exec flags are
    /// cleared in the child only).
    pub inherit_fds: &'a [BorrowedFd<'a>],
}

/// Starts a process with an empty signal mask. This is the one constructor of `Command` in
/// the crate.
pub fn spawn(spec: SpawnSpec<'_>) -> io::Result<Child> {
    spawn_inner(spec, &sandbox::Confinement::none(), None)
}

/// [`spawn`], and the child confines itself by `confinement` just before `exec`: the program
/// runs confined from its first instruction.
pub fn spawn_confined(
    spec: SpawnSpec<'_>,
    confinement: &sandbox::Confinement,
) -> io::Result<Child> {
    spawn_inner(spec, confinement, None)
}

/// [`spawn`], and the new process writes one byte to `witness` just before it executes the
/// program: a file that grew proves, even to a process that looks after the spawner died,
/// that the program was started (between fork and exec nothing else can have written it).
pub fn spawn_witnessed(spec: SpawnSpec<'_>, witness: BorrowedFd<'_>) -> io::Result<Child> {
    spawn_inner(
        spec,
        &sandbox::Confinement::none(),
        Some(witness.as_raw_fd()),
    )
}

#[allow(clippy::disallowed_methods)]
fn spawn_inner(
    spec: SpawnSpec<'_>,
    confinement: &sandbox::Confinement,
    witness: Option<std::os::fd::RawFd>,
) -> io::Result<Child> {
    let mut command = Command::new(spec.program);
    command
        .args(spec.args)
        .current_dir(spec.cwd)
        .stdin(spec.stdin)
        .stdout(spec.stdout)
        .stderr(spec.stderr);
    match spec.env {
        EnvPolicy::Inherit { set, remove } => {
            for key in remove {
                command.env_remove(key);
            }
            command.envs(set);
        }
        EnvPolicy::Clean { set } => {
            command.env_clear().envs(set);
        }
        EnvPolicy::Only { inherit, set } => {
            command.env_clear();
            for name in inherit {
                if let Some(value) = std::env::var_os(&name) {
                    command.env(name, value);
                }
            }
            command.envs(set);
        }
    }
    let session = spec.session;
    let confinement = confinement.raw();
    let inherit_fds: Vec<std::os::fd::RawFd> =
        spec.inherit_fds.iter().map(|fd| fd.as_raw_fd()).collect();
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls (sigprocmask, setsid, ioctl, fcntl, prctl, write, and
    // those of `Confinement::apply`); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // A clean signal mask: the runner blocks its stop signals to `sigwait` for them,
            // and a backend must still receive SIGINT and SIGTERM.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            match session {
                SessionPolicy::NewSession => {
                    rustix::process::setsid()?;
                }
                SessionPolicy::NewSessionWithTerminal => {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(BorrowedFd::borrow_raw(0))?;
                }
                SessionPolicy::Inherit => {}
            }
            for &raw in &inherit_fds {
                // SAFETY: the parent keeps the descriptors open across the spawn.
                let fd = BorrowedFd::borrow_raw(raw);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
            }
            confinement.apply()?;
            if let Some(raw) = witness {
                // SAFETY: the parent keeps the descriptor open across the spawn.
                let fd = BorrowedFd::borrow_raw(raw);
                rustix::io::write(fd, b"x")?;
            }
            Ok(())
        });
    }
    command.spawn()
}
