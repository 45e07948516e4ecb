//! The `slurm` launcher: one batch job per turn whose main process is the runner
//! (`agent-host runner --engine slurm`), submitted with `sbatch` under the turn's
//! deterministic job name; state from `scontrol show job` (and `sacct` once the controller
//! forgot the job), `scancel` to stop it. The Slurm commands are found on `PATH` and reach
//! the cluster that Slurm's own configuration (`SLURM_CONF`) names.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{FinalKind, FinalState, JobState, engine_record};
use crate::atomic_file;
use crate::config::{LauncherKind, SlurmConfig};
use crate::process::EnvPolicy;
use crate::process::capture::{self, Limits};
use crate::runner::launch::read_process_record;
use crate::runner::{LIFELINE_FD_ENV, PROVIDER_ENV_ENV, RUNNER_LOG_FILE};

/// How long one Slurm command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the launch looks for the runner's process record, and the job's state.
const READY_POLL: Duration = Duration::from_millis(10);
const STATE_POLL: Duration = Duration::from_millis(250);

/// The Slurm launcher, as configured.
#[derive(Debug, Clone)]
pub struct Slurm {
    sbatch_args: Vec<String>,
    runner_exe: Option<PathBuf>,
    ready_timeout: Duration,
}

impl Slurm {
    pub fn new(config: &SlurmConfig) -> Slurm {
        Slurm {
            sbatch_args: config.sbatch_args.clone(),
            runner_exe: (!config.runner_exe.is_empty()).then(|| config.runner_exe.clone().into()),
            ready_timeout: Duration::from_millis(config.ready_timeout_ms),
        }
    }

    /// For asking about and stopping jobs (no submit settings needed).
    pub fn from_env() -> Slurm {
        Slurm::new(&SlurmConfig::default())
    }

    /// Submits the runner of `turn_dir` (or reattaches to the job of that name that is
    /// already there), records it in `engine.json`, and waits until the runner is ready.
    pub fn launch(&self, turn_dir: &Path, env: &BTreeMap<String, String>) -> io::Result<()> {
        let turn_dir = std::path::absolute(turn_dir)?;
        let spec = crate::spec::read(&turn_dir)?;
        let name = super::job_name(&spec.turn_id);
        let engine_file = turn_dir.join(super::ENGINE_FILE);
        // Before the submit: a server that dies during it leaves the job's name for recovery.
        let submitting = engine_record(LauncherKind::Slurm, "", &name);
        atomic_file::write_json_atomic(&engine_file, &submitting)?;
        let job_id = match self.find(&name)? {
            Some(job_id) => job_id,
            None => self.submit(&turn_dir, &name, env)?,
        };
        let record = engine_record(LauncherKind::Slurm, &job_id, &name);
        atomic_file::write_json_atomic(&engine_file, &record)?;
        self.wait_ready(&turn_dir, &job_id)
    }

    /// The active job of that name, if any.
    pub fn find(&self, name: &str) -> io::Result<Option<String>> {
        let name_arg = format!("--name={name}");
        let out = self.run("squeue", &["-h", "-o", "%i", &name_arg], &[])?;
        Ok(out
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned))
    }

    fn submit(
        &self,
        turn_dir: &Path,
        name: &str,
        env: &BTreeMap<String, String>,
    ) -> io::Result<String> {
        let exe = match &self.runner_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe()?,
        };
        let script = format!(
            "exec {} runner --turn-dir {} --engine slurm",
            shell_quote(&exe.to_string_lossy()),
            shell_quote(&turn_dir.to_string_lossy())
        );
        let mut args: Vec<String> = vec![
            "--parsable".into(),
            format!("--job-name={name}"),
            format!("--chdir={}", turn_dir.display()),
            format!("--output={}", turn_dir.join(RUNNER_LOG_FILE).display()),
            "--open-mode=append".into(),
            "--export=ALL".into(),
        ];
        args.extend(self.sbatch_args.iter().cloned());
        args.push("--wrap".into());
        args.push(script);
        let mut set = Vec::new();
        if !env.is_empty() {
            let json = serde_json::to_string(env).map_err(io::Error::other)?;
            set.push((OsString::from(PROVIDER_ENV_ENV), OsString::from(json)));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run("sbatch", &args, &set)?;
        let job_id = out.trim().split(';').next().unwrap_or_default().trim();
        if job_id.is_empty() || !job_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(io::Error::other(format!(
                "sbatch printed no job id: {}",
                out.trim().chars().take(200).collect::<String>()
            )));
        }
        Ok(job_id.to_owned())
    }

    /// Polls until the runner wrote its process record; a job that ends first, or does not
    /// get there within the ready timeout (then cancelled), is an error.
    fn wait_ready(&self, turn_dir: &Path, job_id: &str) -> io::Result<()> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut next_state = Instant::now() + STATE_POLL;
        loop {
            if read_process_record(turn_dir).is_some() {
                return Ok(());
            }
            if Instant::now() >= next_state {
                next_state = Instant::now() + STATE_POLL;
                if let JobState::Ended(end) = self.state(job_id) {
                    if read_process_record(turn_dir).is_some() {
                        return Ok(());
                    }
                    return Err(io::Error::other(format!(
                        "the Slurm job {job_id} ended ({}) before its runner was ready; see {}",
                        end.state,
                        turn_dir.join(RUNNER_LOG_FILE).display()
                    )));
                }
            }
            if Instant::now() >= deadline {
                let _ = self.cancel(job_id);
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the runner of Slurm job {job_id} was not ready within {:?}; the job was \
                         cancelled",
                        self.ready_timeout
                    ),
                ));
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Where the job of `engine.json` is: by its id, or, when the submit did not record one,
    /// by the turn's job name among the active jobs (none: it was never submitted).
    pub fn state_of(&self, engine: &super::EngineRecord) -> JobState {
        if !engine.job_id.is_empty() {
            return self.state(&engine.job_id);
        }
        match self.find(&engine.job_name) {
            Ok(Some(job_id)) => self.state(&job_id),
            Ok(None) => {
                JobState::Ended(FinalState::without_status("NOT_SUBMITTED", FinalKind::Lost))
            }
            Err(err) => JobState::Unknown(err.to_string()),
        }
    }

    /// Where the job is, as Slurm tells it.
    pub fn state(&self, job_id: &str) -> JobState {
        match self.run("scontrol", &["show", "job", "-o", job_id], &[]) {
            Ok(out) => match parse_scontrol(&out) {
                Some((state, exit)) => classify(&state, &exit),
                None => JobState::Unknown(format!("scontrol printed no job state for {job_id}")),
            },
            Err(err) if err.to_string().contains("Invalid job id") => self.accounted(job_id),
            Err(err) => JobState::Unknown(err.to_string()),
        }
    }

    /// The state of a job the controller no longer holds: from accounting, else ended
    /// (Slurm forgets only ended jobs).
    fn accounted(&self, job_id: &str) -> JobState {
        let out = self.run(
            "sacct",
            &["-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode"],
            &[],
        );
        let line = out.ok().and_then(|out| {
            out.lines()
                .find(|l| !l.trim().is_empty())
                .map(str::to_owned)
        });
        match line.as_deref().and_then(|l| l.split_once('|')) {
            Some((state, exit)) => classify(state.split_whitespace().next().unwrap_or(""), exit),
            None => JobState::Ended(FinalState::without_status("PURGED", FinalKind::Lost)),
        }
    }

    /// `scancel` of the job: SIGTERM to every process of it, then SIGKILL after the
    /// cluster's `KillWait`.
    pub fn cancel(&self, job_id: &str) -> io::Result<()> {
        self.run("scancel", &[job_id], &[]).map(|_| ())
    }

    /// [`Slurm::cancel`], then [`Slurm::wait_final`].
    pub fn cancel_and_wait(&self, job_id: &str, timeout: Duration) -> io::Result<FinalState> {
        self.cancel(job_id)?;
        self.wait_final(job_id, timeout)
    }

    /// Waits (bounded) for the job's final state.
    pub fn wait_final(&self, job_id: &str, timeout: Duration) -> io::Result<FinalState> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state(job_id);
            if let JobState::Ended(end) = state {
                return Ok(end);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("Slurm job {job_id} has not ended within {timeout:?}: {state:?}"),
                ));
            }
            std::thread::sleep(STATE_POLL);
        }
    }

    /// Runs one Slurm command to its end; its stdout, or an error with its stderr.
    fn run(
        &self,
        program: &str,
        args: &[&str],
        set: &[(OsString, OsString)],
    ) -> io::Result<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let env = EnvPolicy::Inherit {
            set: set.to_vec(),
            remove: vec![OsString::from(LIFELINE_FD_ENV)],
        };
        let limits = Limits {
            stdout_bytes: 1 << 20,
            stderr_bytes: 16 << 10,
            timeout: COMMAND_TIMEOUT,
        };
        let captured = capture::run(Path::new(program), &args, Path::new("/"), env, limits)
            .map_err(|err| io::Error::new(err.kind(), format!("{program}: {err}")))?;
        if !captured.status.success() {
            return Err(io::Error::other(format!(
                "{program} failed ({}): {}",
                captured.status,
                String::from_utf8_lossy(&captured.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&captured.stdout).into_owned())
    }
}

/// `JobState` and `ExitCode` of `scontrol show job -o`.
fn parse_scontrol(out: &str) -> Option<(String, String)> {
    let field = |name: &str| {
        out.split_whitespace()
            .find_map(|word| word.strip_prefix(name))
            .map(str::to_owned)
    };
    Some((field("JobState=")?, field("ExitCode=").unwrap_or_default()))
}

/// A Slurm state and `ExitCode` (`code:signal`) as a job state.
fn classify(state: &str, exit: &str) -> JobState {
    let kind = match state {
        "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
        | "REQUEUE_FED" | "REQUEUE_HOLD" | "RESIZING" | "SIGNALING" | "STAGE_OUT" | "STOPPED"
        | "RESV_DEL_HOLD" | "SPECIAL_EXIT" => return JobState::Active(state.to_owned()),
        "CANCELLED" => FinalKind::Cancelled,
        "NODE_FAIL" | "PREEMPTED" | "BOOT_FAIL" => FinalKind::Lost,
        "OUT_OF_MEMORY" => FinalKind::OutOfMemory,
        "" => return JobState::Unknown("no job state".into()),
        _ => FinalKind::Failed,
    };
    let (code, signal) = exit.split_once(':').unwrap_or((exit, "0"));
    let code = code.trim().parse::<i32>().ok();
    let signal = signal.trim().parse::<i32>().ok().filter(|s| *s != 0);
    // The runner killed by a signal it could not take (SIGKILL: the kernel's OOM killer,
    // an operator): it was lost, as a local runner that dies is.
    let kind = match (kind, signal) {
        (FinalKind::Failed, Some(_)) => FinalKind::Lost,
        (kind, _) => kind,
    };
    JobState::Ended(FinalState {
        state: state.to_owned(),
        kind,
        exit_code: if signal.is_some() { None } else { code },
        signal,
    })
}

/// `s` quoted for `sh` (the `--wrap` script).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scontrol_states_are_classified() {
        let line = "JobId=7 JobName=agent-host-x JobState=CANCELLED Reason=None ExitCode=0:9";
        let (state, exit) = parse_scontrol(line).unwrap();
        assert_eq!(
            classify(&state, &exit),
            JobState::Ended(FinalState {
                state: "CANCELLED".into(),
                kind: FinalKind::Cancelled,
                exit_code: None,
                signal: Some(9),
            })
        );
        assert!(matches!(classify("RUNNING", "0:0"), JobState::Active(_)));
        assert!(matches!(classify("COMPLETING", "0:0"), JobState::Active(_)));
        match classify("OUT_OF_MEMORY", "0:125") {
            JobState::Ended(end) => assert_eq!(end.kind, FinalKind::OutOfMemory),
            other => panic!("{other:?}"),
        }
        match classify("FAILED", "3:0") {
            JobState::Ended(end) => {
                assert_eq!((end.kind, end.exit_code), (FinalKind::Failed, Some(3)))
            }
            other => panic!("{other:?}"),
        }
        match classify("FAILED", "0:9") {
            JobState::Ended(end) => assert_eq!((end.kind, end.signal), (FinalKind::Lost, Some(9))),
            other => panic!("{other:?}"),
        }
        match classify("NODE_FAIL", "0:0") {
            JobState::Ended(end) => assert_eq!(end.kind, FinalKind::Lost),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_wrap_script_quotes_paths() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
