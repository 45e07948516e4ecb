//! The notifier (`agent-host notify --turn-dir DIR`, hidden): claims the turn's notice, runs
//! its program once with a timeout and records the end. See the module doc of
//! [`crate::notify`] for why this runs exactly once.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open};

use super::payload::Payload;
use super::record::{self, Claim, NoticeRecord, NoticeResult, NoticeState};
use crate::atomic_file;
use crate::events::now_ms;
use crate::process::{self, EnvPolicy, SessionPolicy, SpawnSpec, identity};
use crate::store::turn_dir::{NOTICE_LOCK_FILE, NOTICE_OUTPUT_FILE};

/// How long the notifier waits for a killed program to be reaped.
const REAP_LIMIT: Duration = Duration::from_secs(5);

/// What one notifier did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// The turn owes no notice.
    NotOwed,
    /// The turn has not ended: its notice is not due.
    NotEnded,
    /// Another notifier holds the notice now.
    Busy,
    /// The notice had already ended.
    AlreadyEnded,
    /// This notifier ended the notice, with this result.
    Ended(NoticeResult),
}

/// Runs the notice of the turn in `turn_dir` if it is owed, due and nobody else holds it.
pub fn run(turn_dir: &Path) -> io::Result<Ran> {
    let lock = atomic_file::open_private_append(&turn_dir.join(NOTICE_LOCK_FILE))?;
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(Ran::Busy);
    }
    // From here on this process is the only one working on the notice: every notifier
    // holds the lock, and the kernel drops it when a notifier dies.
    let Some(record) = record::read(turn_dir)? else {
        return Ok(Ran::NotOwed);
    };
    let taken_over = match &record.state {
        NoticeState::Pending => 0,
        NoticeState::Ended { .. } => return Ok(Ran::AlreadyEnded),
        NoticeState::Claimed { claim } | NoticeState::Started { claim, .. } => {
            // Its notifier died (we hold the lock). The witness tells whether it got as far
            // as starting the program: then it is not started again.
            if lock.metadata()?.len() > 0 {
                return record_lost(turn_dir, record);
            }
            claim.taken_over + 1
        }
    };
    let Some(payload) = Payload::of_turn(turn_dir)? else {
        return Ok(Ran::NotEnded);
    };
    let claim = Claim {
        by: identity::current()?,
        at_ms: now_ms(),
        taken_over,
    };
    let claimed = NoticeRecord {
        state: NoticeState::Claimed {
            claim: claim.clone(),
        },
        ..record
    };
    record::write(turn_dir, &claimed)?;
    let result = start_and_wait(turn_dir, claimed, claim, &payload, &lock)?;
    Ok(Ran::Ended(result))
}

/// A notice whose notifier died after the program started: ended, its result unknown.
fn record_lost(turn_dir: &Path, record: NoticeRecord) -> io::Result<Ran> {
    let (claim, program, started_at_ms) = match record.state {
        NoticeState::Claimed { claim } => (claim, None, None),
        NoticeState::Started {
            claim,
            program,
            started_at_ms,
        } => (claim, Some(program), Some(started_at_ms)),
        NoticeState::Pending | NoticeState::Ended { .. } => {
            return Err(io::Error::other("only a claimed notice can be lost"));
        }
    };
    let result = NoticeResult::Lost {
        error: "the notifier died while the program ran; the program was not started again"
            .to_owned(),
    };
    let ended = NoticeRecord {
        state: NoticeState::Ended {
            claim,
            program,
            started_at_ms,
            ended_at_ms: now_ms(),
            result: result.clone(),
        },
        ..record
    };
    record::write(turn_dir, &ended)?;
    Ok(Ran::Ended(result))
}

/// Starts the program (its process writes the witness into the lock file just before it is
/// executed), records it, waits for it (bounded by the timeout) and records its end.
fn start_and_wait(
    turn_dir: &Path,
    claimed: NoticeRecord,
    claim: Claim,
    payload: &Payload,
    lock: &File,
) -> io::Result<NoticeResult> {
    let output = atomic_file::open_private_append(&turn_dir.join(NOTICE_OUTPUT_FILE))?;
    let json = serde_json::to_string(payload).map_err(io::Error::other)?;
    let (program, first_args) = claimed
        .argv
        .split_first()
        .ok_or_else(|| io::Error::other("notify.json names no program"))?;
    let mut args: Vec<_> = first_args.iter().map(Into::into).collect();
    args.push(json.into());
    let mut set = payload.env();
    set.sort();
    let spawned = process::spawn_witnessed(
        SpawnSpec {
            program: Path::new(program),
            args: &args,
            cwd: &payload.working_dir(turn_dir),
            env: EnvPolicy::Inherit {
                set,
                remove: super::private_env(),
            },
            stdin: Stdio::null(),
            stdout: Stdio::from(output.try_clone()?),
            stderr: Stdio::from(output),
            session: SessionPolicy::NewSession,
            inherit_fds: &[],
        },
        lock.as_fd(),
    );
    let end = |program, started_at_ms, result: NoticeResult| NoticeRecord {
        state: NoticeState::Ended {
            claim: claim.clone(),
            program,
            started_at_ms,
            ended_at_ms: now_ms(),
            result,
        },
        ..claimed.clone()
    };
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let result = NoticeResult::NotStarted {
                error: format!("cannot start {program}: {err}"),
            };
            record::write(turn_dir, &end(None, None, result.clone()))?;
            return Ok(result);
        }
    };
    let started_at_ms = now_ms();
    // The child is ours and not reaped: its pid names it for sure.
    let program_identity = identity::of_pid(child.id() as i32)?;
    let started = NoticeRecord {
        state: NoticeState::Started {
            claim: claim.clone(),
            program: program_identity.clone(),
            started_at_ms,
        },
        ..claimed.clone()
    };
    record::write(turn_dir, &started)?;
    let result = wait_bounded(&mut child, Duration::from_millis(claimed.timeout_ms))?;
    let ended = end(Some(program_identity), Some(started_at_ms), result.clone());
    record::write(turn_dir, &ended)?;
    Ok(result)
}

/// Waits for the program until `timeout`; past it, kills its process group (it leads one of
/// its own, and is not reaped yet, so the group is surely its) and reaps it.
fn wait_bounded(child: &mut Child, timeout: Duration) -> io::Result<NoticeResult> {
    let pid = Pid::from_raw(child.id() as i32).ok_or_else(|| io::Error::other("pid 0"))?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let wait = Timespec::try_from(left).map_err(io::Error::other)?;
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&wait)) {
            Ok(0) => {}
            Ok(_) => return Ok(result_of(child.wait()?)),
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    if let Some(status) = child.try_wait()? {
        // It ended at the deadline, before it could be killed.
        return Ok(result_of(status));
    }
    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    let _ = rustix::process::pidfd_send_signal(&pidfd, Signal::KILL);
    let reap_deadline = Instant::now() + REAP_LIMIT;
    while child.try_wait()?.is_none() && Instant::now() < reap_deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(NoticeResult::TimedOut)
}

fn result_of(status: std::process::ExitStatus) -> NoticeResult {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(exit_code), _) => NoticeResult::Exited { exit_code },
        (None, Some(signal)) => NoticeResult::Signalled { signal },
        (None, None) => NoticeResult::Exited { exit_code: -1 },
    }
}
