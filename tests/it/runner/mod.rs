//! Runner tests: real runners, real fake-agent backends, every wait bounded.

mod approvals;
mod files;
mod kill_cmd;
mod lifecycle;
mod pid_reuse;
mod race;
mod schema;
mod supervision;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use agent_host::events::{EventRecord, ExitRecord, Mode};
use agent_host::process::identity::{self, Identity};
use agent_host::process::{self, EnvPolicy, SessionPolicy, SpawnSpec};
use agent_host::runner::client::read_exit_record;
use agent_host::runner::launch::{LaunchOptions, LaunchedRunner, launch_with, read_process_record};
use agent_host::runner::log;
use rustix::process::Signal;
use serde_json::json;

pub const AGENT_HOST: &str = env!("CARGO_BIN_EXE_agent-host");
pub const FAKE_AGENT: &str = env!("CARGO_BIN_EXE_fake-agent");

/// The fixture script `name`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/agent-scripts")
        .join(name)
}

/// Copies every fake-agent script into `dir`, so that the gates a script waits on
/// (`wait-file NAME`, relative to the script) are the test's own.
fn copy_scripts(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let fixtures = script("");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let from = entry.unwrap().path();
        std::fs::copy(&from, dir.join(from.file_name().unwrap())).unwrap();
    }
}

/// A turn directory with its spec; on drop, every process it recorded is SIGKILLed (by
/// verified identity), so that no test leaves a process behind even when it fails.
pub struct Turn {
    pub root: tempfile::TempDir,
    pub dir: PathBuf,
    pub pids: PathBuf,
    pub turn_id: String,
}

/// Grace periods short enough for tests.
pub const GRACE: (u64, u64) = (300, 300);

impl Turn {
    /// A new turn running `script` with the `jsonl` kind.
    pub fn new(script_name: &str, mode: Mode) -> Turn {
        Turn::with(script_name, mode, GRACE, |_| {})
    }

    pub fn with(
        script_name: &str,
        mode: Mode,
        grace: (u64, u64),
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Turn {
        let root = tempfile::tempdir().unwrap();
        let turn_id = uuid::Uuid::now_v7().to_string();
        let thread_id = uuid::Uuid::now_v7().to_string();
        let dir = root
            .path()
            .join("threads")
            .join(&thread_id)
            .join("turns")
            .join(&turn_id);
        std::fs::create_dir_all(&dir).unwrap();
        let pids = root.path().join("pids");
        let scripts = root.path().join("scripts");
        copy_scripts(&scripts);
        let mut spec = json!({
            "v": 1, "threadId": thread_id, "turnId": turn_id,
            "mode": mode, "cwd": root.path(),
            "provider": {"name": "fake", "kind": "jsonl", "command": FAKE_AGENT,
                "args": ["--script", scripts.join(script_name), "{prompt}"],
                "env": ["FAKE_AGENT_PIDS"]},
            "prompt": "hello", "model": null, "resumeSessionId": null, "approvalPolicy": "never",
            "graceMs": {"cancel": grace.0, "term": grace.1}
        });
        edit(&mut spec);
        std::fs::write(
            dir.join("spec.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        Turn {
            root,
            dir,
            pids,
            turn_id,
        }
    }

    /// Opens the gate `name` that the turn's script waits on (`wait-file name`): the test
    /// holds the backend at a known point instead of hoping to act inside a sleep.
    pub fn release(&self, name: &str) {
        std::fs::write(self.root.path().join("scripts").join(name), "").unwrap();
    }

    /// The values of the provider's `env` that the spec names.
    pub fn env(&self) -> std::collections::BTreeMap<String, String> {
        std::collections::BTreeMap::from([(
            "FAKE_AGENT_PIDS".to_owned(),
            self.pids.display().to_string(),
        )])
    }

    /// Launches the runner from this test process (background mode needs no lifeline).
    pub fn launch(&self) -> LaunchedRunner {
        let options = LaunchOptions {
            exe: PathBuf::from(AGENT_HOST),
            ready_timeout: Duration::from_secs(10),
        };
        launch_with(&options, &self.dir, Mode::Background, None, &self.env()).unwrap()
    }

    /// The identities written by the fake agents, once there are at least `count`.
    pub fn wait_pids(&self, count: usize) -> Vec<Identity> {
        wait_until(Duration::from_secs(10), "the fake agents' pids", || {
            let ids = read_pids(&self.pids);
            (ids.len() >= count).then_some(ids)
        })
    }

    pub fn events(&self) -> Vec<EventRecord> {
        let read = log::read_all(&self.dir.join(log::EVENTS_FILE)).unwrap();
        assert!(read.bad_lines.is_empty(), "{:?}", read.bad_lines);
        read.records
    }

    /// Waits for `exit.json` and then for the `turnEnded` record that follows it.
    pub fn wait_exit(&self, within: Duration) -> ExitRecord {
        let exit = wait_until(within, "exit.json", || read_exit_record(&self.dir).unwrap());
        wait_until(within, "the turnEnded record", || {
            self.events()
                .last()
                .is_some_and(EventRecord::is_turn_ended)
                .then_some(())
        });
        exit
    }

    /// Checks the end of a finished turn: exactly one `turnEnded`, last, matching exit.json,
    /// seqs without gaps.
    pub fn check_ended_once(&self) -> (ExitRecord, Vec<EventRecord>) {
        let exit = self.wait_exit(Duration::from_secs(5));
        let events = self.events();
        for (i, record) in events.iter().enumerate() {
            assert_eq!(record.seq, i as u64 + 1, "seq gap in {events:?}");
        }
        let ended: Vec<_> = events.iter().filter(|r| r.is_turn_ended()).collect();
        assert_eq!(ended.len(), 1, "turnEnded records: {events:?}");
        let last = events.last().unwrap();
        assert!(
            last.is_turn_ended(),
            "last record is not turnEnded: {last:?}"
        );
        assert_eq!(exit.last_seq, last.seq);
        assert_eq!(exit.turn_ended_record().event, last.event);
        (exit, events)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut targets = read_pids(&self.pids);
        let mut socket = None;
        if let Some(record) = read_process_record(&self.dir) {
            targets.push(record.runner);
            if let Some(backend) = record.backend {
                targets.push(backend.identity);
            }
            socket = Some(record.socket);
        }
        for id in targets {
            let _ = identity::signal(&id, Signal::KILL);
        }
        // A short-path socket lives outside the temp dir; a runner killed here leaves it.
        if let Some(socket) = socket.filter(|s| !s.is_empty()) {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Reads `PID STARTTIME` lines as identities of this boot.
pub fn read_pids(path: &Path) -> Vec<Identity> {
    let boot_id = identity::boot_id().unwrap();
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (pid, start) = line.split_once(' ')?;
            Some(Identity {
                pid: pid.parse().ok()?,
                start_time: start.trim().parse().ok()?,
                boot_id: boot_id.clone(),
            })
        })
        .collect()
}

pub use crate::support::wait_until;

/// Polls until none of `ids` is alive, or panics after `within`.
pub fn wait_all_dead(ids: &[Identity], within: Duration) {
    wait_until(within, "every process of the turn to be gone", || {
        ids.iter().all(|id| !identity::is_alive(id)).then_some(())
    });
}

/// Starts a stand-in server (`fake-agent --launch-runner`) that launches the turn's runner
/// and holds its lifeline; returns it with the runner pid it printed.
pub fn start_server(turn: &Turn, mode: &str) -> (std::process::Child, i32) {
    start_server_with(turn, mode, &[])
}

/// [`start_server`] with more arguments for the stand-in (`--reap-orphans`).
pub fn start_server_with(turn: &Turn, mode: &str, extra: &[&str]) -> (std::process::Child, i32) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--launch-runner".into(),
        turn.dir.clone().into(),
        "--agent-host".into(),
        AGENT_HOST.into(),
        "--mode".into(),
        mode.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let mut child = process::spawn(SpawnSpec {
        program: Path::new(FAKE_AGENT),
        args: &args,
        cwd: turn.root.path(),
        env: EnvPolicy::Inherit {
            set: turn
                .env()
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            remove: Vec::new(),
        },
        stdin: Stdio::null(),
        stdout: Stdio::piped(),
        stderr: Stdio::inherit(),
        session: SessionPolicy::Inherit,
        inherit_fds: &[],
    })
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the stand-in server did not report ready");
        }
    };
    let pid = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("unexpected server output {line:?}"));
    (child, pid)
}

/// Runs `agent-host` with `args`; returns (exit code, stdout, stderr).
pub fn run_agent_host(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let args: Vec<std::ffi::OsString> = args.iter().map(|a| a.into()).collect();
    let child = process::spawn(SpawnSpec {
        program: Path::new(AGENT_HOST),
        args: &args,
        cwd,
        env: EnvPolicy::Inherit {
            set: Vec::new(),
            remove: Vec::new(),
        },
        stdin: Stdio::null(),
        stdout: Stdio::piped(),
        stderr: Stdio::piped(),
        session: SessionPolicy::Inherit,
        inherit_fds: &[],
    })
    .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A small tokio runtime for the async client API.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
