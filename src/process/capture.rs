//! Running a short-lived command to its end and keeping its output (git for `review/start`),
//! bounded in time and in memory.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::{EnvPolicy, SessionPolicy, SpawnSpec, spawn};

/// The bounds of one captured run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most bytes of stdout kept; the rest is read and counted.
    pub stdout_bytes: usize,
    /// The most bytes of stderr kept.
    pub stderr_bytes: usize,
    /// How long the command may run before it is killed.
    pub timeout: Duration,
}

/// What a command printed, and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    /// The first [`Limits::stdout_bytes`] bytes of stdout.
    pub stdout: Vec<u8>,
    /// How many bytes of stdout were read beyond those kept.
    pub stdout_omitted: usize,
    pub stderr: Vec<u8>,
}

/// Runs `program` with `args` in `cwd` (stdin empty, its own session untouched) and waits
/// for its end; a command still running after the timeout is killed and reported as
/// [`io::ErrorKind::TimedOut`].
pub fn run(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: EnvPolicy,
    limits: Limits,
) -> io::Result<Captured> {
    let mut child = spawn(SpawnSpec {
        program,
        args,
        cwd,
        env,
        stdin: Stdio::null(),
        stdout: Stdio::piped(),
        stderr: Stdio::piped(),
        session: SessionPolicy::Inherit,
        inherit_fds: &[],
    })?;
    // Opened while the child is unreaped, so it names the child and nothing else, even
    // after the waiter below has reaped it.
    let pidfd = pidfd_open(Pid::from_child(&child), PidfdFlags::empty()).ok();
    let stdout = child
        .stdout
        .take()
        .map(|out| read_bounded(out, limits.stdout_bytes));
    let stderr = child
        .stderr
        .take()
        .map(|err| read_bounded(err, limits.stderr_bytes));
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = match done_rx.recv_timeout(limits.timeout) {
        Ok(status) => status?,
        Err(_) => {
            if let Some(pidfd) = &pidfd {
                let _ = pidfd_send_signal(pidfd, Signal::KILL);
            }
            let _ = done_rx.recv();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("still running after {} s", limits.timeout.as_secs()),
            ));
        }
    };
    let (stdout, stdout_omitted) = joined(stdout)?;
    let (stderr, _) = joined(stderr)?;
    Ok(Captured {
        status,
        stdout,
        stdout_omitted,
        stderr,
    })
}

type Reader = std::thread::JoinHandle<io::Result<(Vec<u8>, usize)>>;

/// Reads `from` to its end on a thread of its own, keeping the first `keep` bytes and
/// counting the rest.
fn read_bounded(mut from: impl Read + Send + 'static, keep: usize) -> Reader {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut omitted = 0;
        let mut buffer = [0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) => return Ok((kept, omitted)),
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            let room = keep.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buffer[..room]);
            omitted += n - room;
        }
    })
}

fn joined(reader: Option<Reader>) -> io::Result<(Vec<u8>, usize)> {
    match reader {
        None => Ok((Vec::new(), 0)),
        Some(reader) => reader
            .join()
            .map_err(|_| io::Error::other("an output reader panicked"))?,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, limits: Limits) -> io::Result<Captured> {
        run(
            Path::new("/bin/sh"),
            &["-c".into(), script.into()],
            Path::new("/"),
            EnvPolicy::Inherit {
                set: Vec::new(),
                remove: Vec::new(),
            },
            limits,
        )
    }

    const LIMITS: Limits = Limits {
        stdout_bytes: 4,
        stderr_bytes: 100,
        timeout: Duration::from_secs(10),
    };

    #[test]
    fn keeps_the_first_bytes_and_counts_the_rest() {
        let done = sh("printf 0123456789; echo oops >&2; exit 3", LIMITS).unwrap();
        assert_eq!(done.stdout, b"0123");
        assert_eq!(done.stdout_omitted, 6);
        assert_eq!(done.stderr, b"oops\n");
        assert_eq!(done.status.code(), Some(3));
    }

    #[test]
    fn a_command_past_its_timeout_is_killed() {
        let limits = Limits {
            timeout: Duration::from_millis(200),
            ..LIMITS
        };
        let err = sh("exec sleep 30", limits).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_list_lets_only_the_named_variables_through() {
        let run_env = |policy: EnvPolicy| {
            let limits = Limits {
                stdout_bytes: 1 << 16,
                ..LIMITS
            };
            let done = run(
                Path::new("/usr/bin/env"),
                &[],
                Path::new("/"),
                policy,
                limits,
            );
            let stdout = String::from_utf8(done.unwrap().stdout).unwrap();
            let mut names: Vec<String> = stdout
                .lines()
                .filter_map(|line| line.split_once('=').map(|(name, _)| name.to_owned()))
                .collect();
            names.sort();
            names
        };
        let set = vec![("AGENT_HOST_SET".into(), "1".into())];
        let listed = ["PATH".to_owned(), "AGENT_HOST_NOT_IN_OUR_ENV".to_owned()];
        let remove = vec!["PATH".into()];
        // Ours has PATH and more; only PATH (which we have) and what is set get through.
        assert_eq!(
            run_env(EnvPolicy::inherit_from(
                Some(&listed),
                set.clone(),
                Vec::new()
            )),
            ["AGENT_HOST_SET", "PATH"]
        );
        // `remove` wins over the list.
        assert_eq!(
            run_env(EnvPolicy::inherit_from(Some(&listed), set.clone(), remove)),
            ["AGENT_HOST_SET"]
        );
        // No list: everything of ours.
        let all = run_env(EnvPolicy::inherit_from(None, set, Vec::new()));
        assert!(all.iter().any(|name| name == "AGENT_HOST_SET"), "{all:?}");
        for (name, value) in std::env::vars_os() {
            let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
                continue;
            };
            if !value.contains('\n') {
                assert!(all.iter().any(|n| n == name), "{name} not in {all:?}");
            }
        }
    }
}
