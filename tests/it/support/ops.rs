//! The operator's side of the tests: `agent-host` commands run against a state directory
//! (`ps`, `logs`, `threads`, `gc`, `kill`), and a completion notice program that records each
//! of its runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{Describe, wait_until};

/// How long a notice may take to end in a test (a bound, never waited out).
pub const NOTICE_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of one `agent-host` command.
#[derive(Debug)]
pub struct Cli {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `agent-host ARGS… --state-dir STATE` (no `AGENT_HOST_*` variables of the caller).
pub fn agent_host(state: &Path, args: &[&str]) -> Cli {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env_remove("AGENT_HOST_HOME")
        .env_remove("AGENT_HOST_CONFIG")
        .output()
        .expect("run agent-host");
    Cli {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a command that must succeed and print one JSON document; returns it.
pub fn agent_host_json(state: &Path, args: &[&str]) -> Value {
    let cli = agent_host(state, args);
    assert_eq!(cli.code, Some(0), "agent-host {args:?}: {cli:?}");
    serde_json::from_str(&cli.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {cli:?}"))
}

/// Checks a command failed the way the operator commands fail: exit code `code`, nothing on
/// stdout, one line on stderr that contains `expected`.
pub fn assert_fails(cli: &Cli, code: i32, expected: &str) {
    assert_eq!(cli.code, Some(code), "{cli:?}");
    assert_eq!(cli.stdout, "", "{cli:?}");
    assert_eq!(cli.stderr.lines().count(), 1, "one line: {cli:?}");
    assert!(cli.stderr.starts_with("agent-host: "), "{cli:?}");
    assert!(cli.stderr.contains(expected), "{expected:?} in {cli:?}");
}

/// The file, in the thread's working directory, where [`NOTICE_PROGRAM`] records its runs.
pub const RUNS_FILE: &str = "notice-runs";

/// A notice program (`sh -c SCRIPT notify PAYLOAD`) that appends one line per run to
/// [`RUNS_FILE`] in its working directory (the thread's cwd): the turn id, status and thread
/// id from its environment, then the payload it got as its last argument; it prints
/// `notified` on stdout. `hang` in the payload makes it sleep instead, `fail` makes it exit 7
/// after a line on stderr.
pub const NOTICE_SCRIPT: &str = r#"printf '%s %s %s %s\n' "$AGENT_HOST_TURN_ID" "$AGENT_HOST_TURN_STATUS" "$AGENT_HOST_THREAD_ID" "$1" >> notice-runs
case "$1" in
  *script:hang*) echo started; exec sleep 600 ;;
  *script:fail*) echo oops >&2; exit 7 ;;
esac
echo notified"#;

/// `notify = [...]` running [`NOTICE_SCRIPT`], for [`super::host::Host::fake_with_config`].
pub fn notice_config(extra: &str) -> String {
    format!("notify = [\"sh\", \"-c\", {NOTICE_SCRIPT:?}, \"notify\"]\n{extra}")
}

/// One recorded run of the notice program.
#[derive(Debug, Clone)]
pub struct Run {
    pub turn: String,
    pub status: String,
    pub thread: String,
    pub payload: Value,
}

/// Every run recorded in `work_dir`.
pub fn runs(work_dir: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(work_dir.join(RUNS_FILE)).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            let mut next = || parts.next().unwrap_or_default().to_owned();
            let (turn, status, thread) = (next(), next(), next());
            let payload = serde_json::from_str(&next())
                .unwrap_or_else(|e| panic!("a run's payload: {e}: {line}"));
            Run {
                turn,
                status,
                thread,
                payload,
            }
        })
        .collect()
}

/// The runs recorded for `turn`.
pub fn runs_of(work_dir: &Path, turn: &str) -> Vec<Run> {
    runs(work_dir)
        .into_iter()
        .filter(|r| r.turn == turn)
        .collect()
}

/// The turn's `notify.json`, once its state is `ended`.
pub fn notice_ended(turn_dir: &Path) -> Value {
    let path = turn_dir.join("notify.json");
    wait_until(
        NOTICE_TIMEOUT,
        Describe(|| {
            format!(
                "the notice of {} to end: {:?}",
                turn_dir.display(),
                std::fs::read_to_string(&path)
            )
        }),
        || {
            let record: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
            (record["state"] == "ended").then_some(record)
        },
    )
}

/// The witness bytes of a notice: one per start of its program.
pub fn notice_starts(turn_dir: &Path) -> u64 {
    std::fs::metadata(turn_dir.join("notify.lock")).map_or(0, |m| m.len())
}

/// The turn directory of `turn` in thread `thread` of `state`.
pub fn turn_dir(state: &Path, thread: &str, turn: &str) -> PathBuf {
    state.join("threads").join(thread).join("turns").join(turn)
}
