//! The completion notice: a program (`notify = [...]` in the configuration, or
//! `--on-complete`) run exactly once for every finished turn that owes it, with Codex's
//! `agent-turn-complete` notification as its last argument ([`payload`]).
//!
//! Exactly once, whatever crashed and however many servers share the state directory
//! (`docs/contracts.md`, "The completion notice"):
//!
//! - **Owed.** The server writes `notify.json` (`pending`, with the argv and the timeout)
//!   into the turn directory before it launches the runner. A turn without it owes nothing.
//! - **Run by one owner.** The runner, once the turn has ended, starts a notifier
//!   ([`launch`]: `agent-host notify --turn-dir DIR`, detached, in a session of its own).
//!   When the runner died instead, whoever ends the turn on its behalf (`agent-host kill`,
//!   a recovering server, a server that lost the runner) starts it, and recovery at start
//!   starts it for an ended turn whose runner died before it could ([`launch_if_abandoned`]).
//! - **Claimed atomically.** A notifier takes `notify.lock` (`flock`, never waiting) and
//!   holds it for its life; only the holder reads and writes `notify.json`, and the kernel
//!   drops the lock when the holder dies. Under it, the notifier writes `claimed`, starts the
//!   program, writes `started`, waits (bounded by the timeout, then kills its process
//!   group) and writes `ended` with the exit status; the output goes to `notify.out`.
//! - **Re-run only if it never started.** The program's process writes one byte into
//!   `notify.lock` between fork and exec ([`crate::process::spawn_witnessed`]). A notifier that
//!   gets the lock and finds `claimed` or `started` knows the previous one died: with the
//!   witness byte present the program had started, and the notice is ended as `lost`;
//!   without it the program never started, and this notifier runs it.
//!
//! Nothing here blocks a server or a runner: they only start the notifier.

pub mod payload;
pub mod record;
mod run;

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::Stdio;

pub use record::{NoticeRecord, NoticeResult, NoticeState};
pub use run::{Ran, run};

use crate::atomic_file;
use crate::process::{self, EnvPolicy, SessionPolicy, SpawnSpec, identity};
use crate::store::turn_dir::RUNNER_LOG_FILE;

/// Records that the turn in `turn_dir` owes a notice (the server, before the runner starts).
pub fn owe(turn_dir: &Path, argv: &[String], timeout_ms: u64) -> io::Result<()> {
    record::write(turn_dir, &record::pending(argv.to_vec(), timeout_ms))
}

/// Starts a detached notifier for the turn in `turn_dir` if the turn owes a notice that has
/// not ended; `true` if one was started. Cheap when nothing is owed (one failed open).
pub fn launch(turn_dir: &Path) -> io::Result<bool> {
    match record::read(turn_dir)? {
        None => Ok(false),
        Some(record) if matches!(record.state, NoticeState::Ended { .. }) => Ok(false),
        Some(_) => start_notifier(turn_dir).map(|()| true),
    }
}

/// For recovery: starts a notifier for an ended turn whose notice nobody works on (its
/// runner is gone, and so is any notifier that claimed it); `true` if one was started.
pub fn launch_if_abandoned(turn_dir: &Path) -> io::Result<bool> {
    let Some(record) = record::read(turn_dir)? else {
        return Ok(false);
    };
    let abandoned = match &record.state {
        NoticeState::Ended { .. } => false,
        NoticeState::Pending => {
            let runner = crate::runner::launch::read_process_record(turn_dir);
            turn_dir.join(crate::runner::EXIT_FILE).exists()
                && !runner.is_some_and(|process| identity::is_alive(&process.runner))
        }
        NoticeState::Claimed { claim } | NoticeState::Started { claim, .. } => {
            !identity::is_alive(&claim.by)
        }
    };
    if abandoned {
        start_notifier(turn_dir)?;
    }
    Ok(abandoned)
}

/// The variables that never reach a notifier or the notice's program: the provider's
/// secrets, a lifeline, and the turn's marker (the program is not a process of the turn).
fn private_env() -> Vec<OsString> {
    [
        crate::runner::PROVIDER_ENV_ENV,
        crate::runner::LIFELINE_FD_ENV,
        crate::process::tree::TURN_MARKER_ENV,
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// Starts `agent-host notify --turn-dir DIR` in a session of its own, its output appended to
/// the turn's `runner.log`; a thread reaps it, so no caller keeps a zombie.
fn start_notifier(turn_dir: &Path) -> io::Result<()> {
    let turn_dir = std::path::absolute(turn_dir)?;
    let exe = std::env::current_exe()?;
    let log = atomic_file::open_private_append(&turn_dir.join(RUNNER_LOG_FILE))?;
    let args = [
        "notify".into(),
        "--turn-dir".into(),
        turn_dir.clone().into_os_string(),
    ];
    let mut child = process::spawn(SpawnSpec {
        program: &exe,
        args: &args,
        cwd: &turn_dir,
        env: EnvPolicy::Inherit {
            set: Vec::new(),
            remove: private_env(),
        },
        stdin: Stdio::null(),
        stdout: Stdio::from(log.try_clone()?),
        stderr: Stdio::from(log),
        session: SessionPolicy::NewSession,
        inherit_fds: &[],
    })?;
    std::thread::Builder::new()
        .name("notifier-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        })?;
    Ok(())
}
