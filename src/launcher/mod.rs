//! The launcher: the one seam between the server and the per-turn runner. It places a
//! turn's runner (`local`: a detached process on this machine; `slurm`: a batch job whose
//! main process is the runner), and, for a turn placed by an engine, answers what only the
//! engine knows: whether the runner's job still lives, and how it ended when the runner
//! could not say (killed outright, its node lost). Nothing else in agent-host knows which
//! launcher placed a turn: everything else reads and writes the same turn files.
//!
//! A turn placed by an engine has `engine.json` (written before the submit returns, so a
//! server that dies right after still finds the job) and its runner's `process.json` names
//! the job (`engine`). The deterministic job name (`agent-host-<turn id>`) makes a second
//! submit of the same turn a reattach, never a duplicate.

#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(not(feature = "kubernetes"))]
#[path = "kubernetes_absent.rs"]
pub mod kubernetes;
pub mod slurm;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::config::{LauncherConfig, LauncherKind};
use crate::events::{
    EndReason, ErrorInfo, ExitRecord, InterruptReason, Mode, RECORD_VERSION, check_version,
};
use crate::runner::control::ControlRequest;
use crate::runner::launch::Lifeline;

/// The file naming a turn's engine job.
pub const ENGINE_FILE: &str = "engine.json";

/// `engine.json`: the job an engine runs the turn's runner in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineRecord {
    pub v: u32,
    pub launcher: LauncherKind,
    pub job_id: String,
    pub job_name: String,
    pub submitted_at_ms: u64,
    /// Kubernetes: the namespace of the Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kubernetes: the grace period of the Job's pod when it is deleted, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<u32>,
    /// Kubernetes: the `agent-host` executable in the pod, which `runner ctl` runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_exe: Option<String>,
}

/// Reads `engine.json` of a turn (`None`: a local turn, or unreadable).
pub fn read_engine(turn_dir: &Path) -> Option<EngineRecord> {
    let bytes = std::fs::read(turn_dir.join(ENGINE_FILE)).ok()?;
    let record: EngineRecord = serde_json::from_slice(&bytes).ok()?;
    check_version(record.v, ENGINE_FILE).ok()?;
    Some(record)
}

/// The deterministic job name of a turn.
pub fn job_name(turn_id: &str) -> String {
    format!("agent-host-{turn_id}")
}

/// Places the runner of the turn in `turn_dir` as the configuration says for `provider`, and
/// waits (bounded) until it reports ready (`process.json`).
pub fn launch(
    config: &LauncherConfig,
    provider: &str,
    turn_dir: &Path,
    mode: Mode,
    lifeline: Option<&Lifeline>,
    env: &BTreeMap<String, String>,
) -> io::Result<()> {
    match config.kind_for(provider) {
        LauncherKind::Local => {
            crate::runner::launch::launch(turn_dir, mode, lifeline, env).map(|_| ())
        }
        LauncherKind::Slurm => slurm::Slurm::new(&config.slurm).launch(turn_dir, env),
        LauncherKind::Kubernetes => kubernetes::launch(&config.kubernetes, turn_dir, env),
    }
}

/// Sends one control request (interrupt, steer, approval) to the runner of `turn_dir` and
/// waits (bounded) for its answer: into the runner's node the engine's own way where it has
/// one (Kubernetes: `runner ctl` through `pods/exec`), else, or when that fails, as
/// [`crate::runner::client::request_blocking`] does (the socket, or the control inbox).
pub fn request_blocking(turn_dir: &Path, request: &ControlRequest) -> io::Result<()> {
    if let Some(answer) = through_engine(turn_dir, request) {
        return answer;
    }
    crate::runner::client::request_blocking(turn_dir, request)
}

/// [`request_blocking`] for async callers.
pub async fn request(turn_dir: &Path, request: &ControlRequest) -> io::Result<()> {
    let (dir, asked) = (turn_dir.to_path_buf(), request.clone());
    let answer = tokio::task::spawn_blocking(move || through_engine(&dir, &asked))
        .await
        .map_err(io::Error::other)?;
    if let Some(answer) = answer {
        return answer;
    }
    crate::runner::client::request(turn_dir, request).await
}

/// The runner's answer to `request` sent the engine's own way into its node; `None` when
/// the turn's engine has none, or the request could not be sent that way (logged): the
/// caller then uses the inbox. A request that may have reached the runner unanswered is an
/// error, never sent twice.
fn through_engine(turn_dir: &Path, request: &ControlRequest) -> Option<io::Result<()>> {
    let engine = read_engine(turn_dir)?;
    if engine.launcher != LauncherKind::Kubernetes {
        return None;
    }
    let job = &engine.job_name;
    match kubernetes::control(&engine, turn_dir, request) {
        Ok(reply) => {
            tracing::info!(%job, ok = reply.ok, "control request sent through pods/exec (runner ctl)");
            Some(match reply.ok {
                true => Ok(()),
                false => Err(io::Error::other(
                    reply
                        .error
                        .unwrap_or_else(|| "the runner refused".to_owned()),
                )),
            })
        }
        Err(kubernetes::ControlError::NotSent(err)) => {
            tracing::warn!(%job, %err, "runner ctl through pods/exec failed; sending through the control inbox");
            None
        }
        Err(kubernetes::ControlError::NoAnswer(err)) => {
            tracing::warn!(%job, %err, "runner ctl through pods/exec gave no answer; not sent again");
            Some(Err(err))
        }
    }
}

/// Where an engine's job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Pending or running: its runner may still write the turn's end.
    Active(String),
    /// Ended, with the engine's final state.
    Ended(FinalState),
    /// The engine cannot tell now (not reachable): nothing is decided.
    Unknown(String),
}

/// How an engine says a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalState {
    /// The engine's state name (`CANCELLED`, `OUT_OF_MEMORY`, `NODE_FAIL`, ...).
    pub state: String,
    pub kind: FinalKind,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

impl FinalState {
    /// A final state the engine tells no exit code or signal for (the job gone, deleted,
    /// never submitted).
    pub fn without_status(state: &str, kind: FinalKind) -> FinalState {
        FinalState {
            state: state.to_owned(),
            kind,
            exit_code: None,
            signal: None,
        }
    }
}

/// What a final state means for a turn whose runner wrote no exit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalKind {
    /// Cancelled (`scancel`, a Job deleted): the turn was interrupted.
    Cancelled,
    /// The node was lost, the job preempted, or the runner killed by a signal it could not
    /// take (SIGKILL): the runner was lost, the turn is interrupted and resumable.
    Lost,
    /// Out of memory: the turn failed.
    OutOfMemory,
    /// Anything else (failed, timed out, or ended without the runner's record).
    Failed,
}

/// The exit record of a turn whose runner's job ended without one, from the engine's
/// final state.
pub fn exit_record_from(engine: &EngineRecord, end: &FinalState, last_seq: u64) -> ExitRecord {
    let (reason, what) = match end.kind {
        FinalKind::Cancelled => (
            EndReason::Interrupted(InterruptReason::Kill),
            "was cancelled",
        ),
        FinalKind::Lost => (EndReason::RunnerLost, "ended"),
        FinalKind::OutOfMemory => (EndReason::RunnerError, "ran out of memory"),
        FinalKind::Failed => (EndReason::RunnerError, "failed"),
    };
    let message = format!(
        "the runner's {} job {} {what} ({}{}) before the runner recorded the turn's end",
        engine.launcher.as_str(),
        engine.job_id,
        end.state,
        match (end.exit_code, end.signal) {
            (_, Some(signal)) => format!(", signal {signal}"),
            (Some(code), None) => format!(", exit code {code}"),
            (None, None) => String::new(),
        }
    );
    let mut record = ExitRecord::ended(reason, Some(ErrorInfo::new(message)), last_seq);
    record.exit_code = end.exit_code;
    record.signal = end.signal;
    record
}

/// What recovery asks of the engines, for all the turns it looks at in one pass: what it
/// learns from an engine once serves every turn (the Kubernetes Jobs of a namespace are
/// listed by label once, not asked one by one).
pub struct Recovery {
    kubernetes: kubernetes::Census,
}

impl Recovery {
    /// Engines reached as the environment configures them.
    pub fn from_env() -> Recovery {
        Recovery {
            kubernetes: kubernetes::Census::from_env(),
        }
    }

    /// The Kubernetes API reached through `client` (a mocked API server in tests).
    #[cfg(feature = "kubernetes")]
    pub fn with_kubernetes(client: kube::Client) -> Recovery {
        Recovery {
            kubernetes: kubernetes::Census::with_client(client),
        }
    }

    /// What recovery does with a turn without `exit.json`: `None` for a local turn (the
    /// local rules apply); `Some(false)` when its engine job is still active or the engine
    /// cannot tell; `Some(true)` when the job ended and the turn's exit record exists now,
    /// built from the job's final state unless the runner or another server wrote it first.
    pub fn recover(&mut self, turn_dir: &Path) -> Option<bool> {
        let engine = read_engine(turn_dir)?;
        let submitting = engine.job_id.is_empty()
            && crate::events::now_ms().saturating_sub(engine.submitted_at_ms) < SUBMIT_WINDOW_MS;
        if submitting {
            // Another server may be submitting it right now.
            return Some(false);
        }
        let state = match engine.launcher {
            LauncherKind::Local => return None,
            LauncherKind::Slurm => slurm::Slurm::from_env().state_of(&engine),
            LauncherKind::Kubernetes => self.kubernetes.state_of(&engine),
        };
        Some(match state {
            JobState::Active(_) | JobState::Unknown(_) => false,
            JobState::Ended(end) => end_from_engine(turn_dir, &engine, &end).is_ok(),
        })
    }
}

/// Writes the exit record of a turn whose job ended as `end` (unless the runner, or another
/// server ending it at the same time, wrote one: the record is created, never replaced), then
/// starts the completion notice it owes.
pub fn end_from_engine(turn_dir: &Path, engine: &EngineRecord, end: &FinalState) -> io::Result<()> {
    if crate::runner::client::read_exit_record(turn_dir)?.is_some() {
        return Ok(());
    }
    let last_seq = crate::runner::log::read_all(&turn_dir.join(crate::runner::log::EVENTS_FILE))?
        .records
        .last()
        .map_or(1, |record| record.seq + 1);
    let record = exit_record_from(engine, end, last_seq);
    if !atomic_file::create_json_atomic(&turn_dir.join(crate::runner::EXIT_FILE), &record)? {
        return Ok(());
    }
    if let Err(err) = crate::notify::launch(turn_dir) {
        tracing::warn!(%err, "cannot start the completion notice; recovery will");
    }
    Ok(())
}

/// Stops the engine job of a turn whose runner does not answer, waits (bounded) for its
/// final state and ends the turn from it; `None` for a local turn.
pub fn stop_job(turn_dir: &Path, timeout: std::time::Duration) -> Option<io::Result<()>> {
    let engine = read_engine(turn_dir)?;
    Some(match engine.launcher {
        LauncherKind::Local => return None,
        LauncherKind::Slurm => {
            let slurm = slurm::Slurm::from_env();
            let mut engine = engine;
            if engine.job_id.is_empty() {
                engine.job_id = match slurm.find(&engine.job_name) {
                    Ok(found) => found.unwrap_or_default(),
                    Err(err) => return Some(Err(err)),
                };
            }
            let ended = match slurm.state_of(&engine) {
                JobState::Ended(end) => Ok(end),
                // Its main process is gone (Slurm is ending the rest, or is about to notice):
                // the engine's own final state is coming, unless it does not in time.
                JobState::Active(_) if runner_gone_here(turn_dir) => slurm
                    .wait_final(&engine.job_id, ENGINE_NOTICE_LIMIT)
                    .or_else(|_| slurm.cancel_and_wait(&engine.job_id, timeout)),
                JobState::Active(_) | JobState::Unknown(_) => {
                    slurm.cancel_and_wait(&engine.job_id, timeout)
                }
            };
            ended.and_then(|end| end_from_engine(turn_dir, &engine, &end))
        }
        LauncherKind::Kubernetes => kubernetes::stop(&engine, timeout)
            .and_then(|end| end_from_engine(turn_dir, &engine, &end)),
    })
}

/// A turn whose submit recorded no job id yet is left alone this long (as a local turn
/// without a process record is).
const SUBMIT_WINDOW_MS: u64 = 60_000;

/// How long an engine may take to notice that a job's main process is gone.
const ENGINE_NOTICE_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// True when the turn's runner ran on this machine (this boot) and is gone: proven dead, as
/// opposed to a runner on another node that does not answer.
fn runner_gone_here(turn_dir: &Path) -> bool {
    let Some(record) = crate::runner::launch::read_process_record(turn_dir) else {
        return false;
    };
    crate::process::identity::boot_id().is_ok_and(|boot| boot == record.runner.boot_id)
        && !crate::process::identity::is_alive(&record.runner)
}

/// A new `engine.json`.
fn engine_record(launcher: LauncherKind, job_id: &str, job_name: &str) -> EngineRecord {
    EngineRecord {
        v: RECORD_VERSION,
        launcher,
        job_id: job_id.to_owned(),
        job_name: job_name.to_owned(),
        submitted_at_ms: crate::events::now_ms(),
        namespace: None,
        grace_seconds: None,
        runner_exe: None,
    }
}
