//! A reused pid is never signalled: when a dead backend's pid comes round to a stranger that
//! makes it the id of its own session and group, `agent-host kill` and a recovering server
//! leave the stranger's processes alone, and the turn still ends with its exit record.
//!
//! The reuse is made, not waited for: the backend's pid is freed (its runner and it are
//! killed, and a subreaping stand-in reaps it at once), then `/proc/sys/kernel/ns_last_pid`
//! (writable by root) places a new process on exactly that pid. That process calls `setsid()`
//! (through `setsid(1)`, which does so in place when the caller leads no group), forks a
//! child, and exits: the daemon pattern that leaves a group without its leader.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use agent_host::events::{ExitRecord, Mode, TurnStatus};
use agent_host::process::identity::{self, Identity};
use agent_host::process::{self, EnvPolicy, SessionPolicy, SpawnSpec};
use agent_host::runner::launch::read_process_record;
use rustix::process::Signal;

use super::{AGENT_HOST, Turn, run_agent_host, start_server_with, wait_until};

const NS_LAST_PID: &str = "/proc/sys/kernel/ns_last_pid";

/// The stranger's child: in the session and group whose id is the backend's old pid.
struct Stranger {
    child: Identity,
}

impl Drop for Stranger {
    fn drop(&mut self) {
        let _ = identity::signal(&self.child, Signal::KILL);
    }
}

/// A child process, killed however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A turn whose runner and backend are dead and reaped, with a stranger's session on the
/// backend's old pid; `None` when the pid could not be had (taken by someone else first).
fn turn_with_a_stranger_on_its_pid() -> Option<(Turn, KillOnDrop, Stranger)> {
    let turn = Turn::new("wait-forever.txt", Mode::Background);
    let (server, runner_pid) = start_server_with(&turn, "background", &["--reap-orphans"]);
    let server = KillOnDrop(server);
    let backend = turn.wait_pids(1).remove(0);
    let record = read_process_record(&turn.dir).expect("process.json");
    assert_eq!(record.runner.pid, runner_pid);
    let recorded = record.backend.as_ref().expect("a backend");
    assert_eq!(recorded.pgid, backend.pid, "the backend leads its group");
    identity::signal(&record.runner, Signal::KILL).unwrap();
    wait_gone(record.runner.pid);
    identity::signal(&backend, Signal::KILL).unwrap();
    wait_gone(backend.pid);
    let stranger = place_stranger_on(backend.pid, turn.root.path())?;
    Some((turn, server, stranger))
}

/// Waits until no process (not even a zombie) holds `pid`.
fn wait_gone(pid: i32) {
    wait_until(Duration::from_secs(10), "the pid to be freed", || {
        (!Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
}

/// Starts processes until one gets `pid`, then lets it become a session leader, fork a child
/// and exit. `None` if the pid could not be had within the tries.
fn place_stranger_on(pid: i32, dir: &Path) -> Option<Stranger> {
    let child_file = dir.join("stranger-child");
    let script = format!(
        "read go || exit 1; exec setsid sh -c 'sleep 600 & echo $! > {}'",
        child_file.display()
    );
    for _ in 0..200 {
        std::fs::write(NS_LAST_PID, (pid - 1).to_string()).unwrap();
        let args: Vec<std::ffi::OsString> = vec!["-c".into(), script.clone().into()];
        let mut candidate = process::spawn(SpawnSpec {
            program: Path::new("sh"),
            args: &args,
            cwd: dir,
            env: EnvPolicy::Inherit {
                set: Vec::new(),
                remove: Vec::new(),
            },
            stdin: Stdio::piped(),
            stdout: Stdio::null(),
            stderr: Stdio::inherit(),
            session: SessionPolicy::Inherit,
            inherit_fds: &[],
        })
        .unwrap();
        if candidate.id() as i32 != pid {
            let _ = candidate.kill();
            let _ = candidate.wait();
            if Path::new(&format!("/proc/{pid}")).exists() {
                // Someone else has the pid now; it will not be freed for us.
                return None;
            }
            continue;
        }
        candidate.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let status = candidate.wait().unwrap();
        assert!(status.success(), "the stranger failed: {status}");
        let child_pid: i32 = wait_until(Duration::from_secs(10), "the stranger's child", || {
            std::fs::read_to_string(&child_file)
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        let child = identity::of_pid(child_pid).unwrap();
        let stat = identity::read_stat(child_pid).unwrap();
        assert_eq!(
            (stat.pgid, stat.sid),
            (pid, pid),
            "the stranger's child is in the session and group numbered like the backend"
        );
        return Some(Stranger { child });
    }
    None
}

/// Makes the scenario, retrying (bounded) when another process took the pid first; `None`
/// when pids cannot be placed on this machine (not root), said on stderr.
fn scenario() -> Option<(Turn, KillOnDrop, Stranger)> {
    if std::fs::OpenOptions::new()
        .write(true)
        .open(NS_LAST_PID)
        .is_err()
    {
        eprintln!("skipped: {NS_LAST_PID} is not writable here (needs root)");
        return None;
    }
    for _ in 0..5 {
        if let Some(made) = turn_with_a_stranger_on_its_pid() {
            return Some(made);
        }
    }
    panic!("could not place a process on a freed pid in 5 tries");
}

fn assert_survives(stranger: &Stranger) {
    assert!(
        identity::is_alive(&stranger.child),
        "the stranger's child was signalled"
    );
}

#[test]
fn kill_leaves_a_stranger_on_the_backends_old_pid_alone() {
    let Some((turn, _server, stranger)) = scenario() else {
        return;
    };
    let state = turn.root.path().to_str().unwrap();
    let (code, stdout, stderr) = run_agent_host(
        &[
            "kill",
            "--state-dir",
            state,
            "--timeout-ms",
            "10000",
            &turn.turn_id,
        ],
        turn.root.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let exit: ExitRecord = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(exit.status, TurnStatus::Interrupted);
    assert_eq!(exit.reason.as_str(), "kill");
    assert_survives(&stranger);
}

#[test]
fn recovery_leaves_a_stranger_on_the_backends_old_pid_alone() {
    let Some((turn, _server, stranger)) = scenario() else {
        return;
    };
    let config = turn.root.path().join("empty-config.toml");
    std::fs::write(&config, "").unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "app-server".into(),
        "--state-dir".into(),
        turn.root.path().into(),
        "--config".into(),
        config.into(),
    ];
    // The recovering server: its stdin stays open (it serves) until the turn is ended.
    let mut recovering = KillOnDrop(
        process::spawn(SpawnSpec {
            program: Path::new(AGENT_HOST),
            args: &args,
            cwd: turn.root.path(),
            env: EnvPolicy::Inherit {
                set: Vec::new(),
                remove: Vec::new(),
            },
            stdin: Stdio::piped(),
            stdout: Stdio::null(),
            stderr: Stdio::inherit(),
            session: SessionPolicy::Inherit,
            inherit_fds: &[],
        })
        .unwrap(),
    );
    let exit = wait_until(Duration::from_secs(20), "the exit record", || {
        agent_host::runner::client::read_exit_record(&turn.dir).unwrap()
    });
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    assert_survives(&stranger);
    drop(recovering.0.stdin.take());
    let status = wait_until(Duration::from_secs(10), "the server to exit", || {
        recovering.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}
