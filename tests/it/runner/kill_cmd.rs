//! `agent-host kill`: by id, by directory, with the runner dead, and never a reused PID.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use agent_host::events::{ExitRecord, Mode, TurnStatus};
use agent_host::process::identity::{self, Identity, SignalOutcome};
use agent_host::process::{self, EnvPolicy, SessionPolicy, SpawnSpec};
use rustix::process::Signal;

use super::{Turn, run_agent_host, wait_all_dead};

#[test]
fn kill_by_turn_id_interrupts_the_turn() {
    let turn = Turn::new("wait-forever.txt", Mode::Background);
    turn.launch();
    let pids = turn.wait_pids(1);
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
    wait_all_dead(&pids, Duration::from_secs(2));
    turn.check_ended_once();
}

#[test]
fn kill_of_an_unknown_turn_says_so() {
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(state.path().join("threads")).unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let dir = state.path().to_str().unwrap();
    let (code, _, stderr) = run_agent_host(&["kill", "--state-dir", dir, &id], state.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("no turn"), "{stderr}");
    let (code, _, stderr) =
        run_agent_host(&["kill", "--state-dir", dir, "not-an-id"], state.path());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("neither a turn directory nor a turn id"),
        "{stderr}"
    );
}

#[test]
fn kill_with_a_dead_runner_kills_the_recorded_tree() {
    let turn = Turn::new("stubborn-tree.txt", Mode::Background);
    let launched = turn.launch();
    let pids = turn.wait_pids(4);
    // The runner dies without a word: orphans go to init, the record stays.
    identity::signal(&launched.runner, Signal::KILL).unwrap();
    wait_all_dead(
        std::slice::from_ref(&launched.runner),
        Duration::from_secs(5),
    );
    let dir = turn.dir.to_str().unwrap();
    let (code, stdout, stderr) =
        run_agent_host(&["kill", "--timeout-ms", "10000", dir], turn.root.path());
    assert_eq!(code, 0, "{stderr}");
    let exit: ExitRecord = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(exit.status, TurnStatus::Interrupted);
    // Descendants of the backend, and its group and session (the double-forked orphan, now
    // a child of init) are found without the runner.
    wait_all_dead(&pids, Duration::from_secs(2));
    // The dead runner's control socket is removed on its behalf.
    let socket = &launched.process.socket;
    assert!(!socket.is_empty());
    assert!(!Path::new(socket).exists(), "{socket} is left behind");
}

/// A `sleep 30` child of this test, in `cwd`.
fn spawn_sleep(cwd: &Path) -> std::process::Child {
    let args: Vec<std::ffi::OsString> = vec!["30".into()];
    process::spawn(SpawnSpec {
        program: Path::new("sleep"),
        args: &args,
        cwd,
        env: EnvPolicy::Inherit {
            set: Vec::new(),
            remove: Vec::new(),
        },
        stdin: Stdio::null(),
        stdout: Stdio::null(),
        stderr: Stdio::null(),
        session: SessionPolicy::Inherit,
        inherit_fds: &[],
    })
    .unwrap()
}

#[test]
fn a_reused_pid_is_reported_dead_and_never_signalled() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleeper = spawn_sleep(dir.path());
    let real = identity::of_pid(sleeper.id() as i32).unwrap();
    let stale = Identity {
        start_time: real.start_time.saturating_sub(1000),
        ..real.clone()
    };
    assert!(identity::is_alive(&real));
    assert!(!identity::is_alive(&stale));
    assert_eq!(
        identity::signal(&stale, Signal::KILL).unwrap(),
        SignalOutcome::NotThatProcess
    );

    // A turn whose record names the sleeper's pid with a different start time.
    let turn_dir = dir.path().join("turn");
    std::fs::create_dir_all(&turn_dir).unwrap();
    let record = serde_json::json!({
        "v": 1,
        "runner": stale,
        "backend": {"pid": stale.pid, "startTime": stale.start_time, "bootId": stale.boot_id, "pgid": stale.pid},
        "socket": turn_dir.join("control.sock"),
        "mode": "background", "startedAtMs": 0, "heartbeatAtMs": 0
    });
    std::fs::write(turn_dir.join("process.json"), record.to_string()).unwrap();
    let (code, stdout, stderr) = run_agent_host(
        &["kill", "--timeout-ms", "5000", turn_dir.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    let exit: ExitRecord = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(exit.status, TurnStatus::Interrupted);
    assert!(
        identity::is_alive(&real),
        "the unrelated process was signalled"
    );
    assert!(sleeper.try_wait().unwrap().is_none());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn kill_with_a_dead_runner_finds_orphans_by_the_recorded_descendants() {
    let turn = Turn::new("stubborn-tree.txt", Mode::Background);
    let launched = turn.launch();
    let pids = turn.wait_pids(4);
    crate::support::wait_until(
        Duration::from_secs(10),
        "a heartbeat recording the tree",
        || {
            let record = agent_host::runner::launch::read_process_record(&turn.dir)?;
            pids.iter()
                .all(|id| record.descendants.contains(id))
                .then_some(())
        },
    );
    identity::signal(&launched.runner, Signal::KILL).unwrap();
    wait_all_dead(
        std::slice::from_ref(&launched.runner),
        Duration::from_secs(5),
    );
    // Orphan the setsid-ed grandchild: kill its parent. It is now a child of init, in a
    // session of its own: neither a descendant of the backend nor in its session.
    let grandchild = pids
        .iter()
        .find(|id| {
            identity::read_stat(id.pid).is_ok_and(|stat| stat.sid == id.pid) && *id != &pids[0]
        })
        .expect("the setsid-ed grandchild")
        .clone();
    let parent_pid = identity::read_stat(grandchild.pid).unwrap().ppid;
    let parent = pids
        .iter()
        .find(|id| id.pid == parent_pid)
        .expect("its parent")
        .clone();
    identity::signal(&parent, Signal::KILL).unwrap();
    wait_all_dead(std::slice::from_ref(&parent), Duration::from_secs(5));
    let dir = turn.dir.to_str().unwrap();
    let (code, _, stderr) =
        run_agent_host(&["kill", "--timeout-ms", "10000", dir], turn.root.path());
    assert_eq!(code, 0, "{stderr}");
    wait_all_dead(&pids, Duration::from_secs(2));
}

/// `agent-host turns [--all]` over the turn's state directory, one JSON value per line.
fn list_turns(turn: &Turn, all: bool) -> Vec<serde_json::Value> {
    let state = turn.root.path().to_str().unwrap();
    let mut args = vec!["turns", "--state-dir", state];
    if all {
        args.push("--all");
    }
    let (code, stdout, stderr) = run_agent_host(&args, turn.root.path());
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[test]
fn turns_lists_a_running_turn_a_lost_one_and_with_all_the_ended_one() {
    let turn = Turn::new("wait-forever.txt", Mode::Background);
    let launched = turn.launch();
    let pids = turn.wait_pids(1);
    let listed = list_turns(&turn, false);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["turnId"], turn.turn_id.as_str());
    assert_eq!(listed[0]["state"], "running", "{}", listed[0]);
    assert_eq!(listed[0]["mode"], "background");
    assert_eq!(listed[0]["runnerPid"], launched.runner.pid);

    // The runner dies without its exit record: the turn is lost, not running.
    identity::signal(&launched.runner, Signal::KILL).unwrap();
    wait_all_dead(
        std::slice::from_ref(&launched.runner),
        Duration::from_secs(5),
    );
    let listed = list_turns(&turn, false);
    assert_eq!(listed[0]["state"], "runnerLost", "{}", listed[0]);

    // Killed: no longer listed, except with --all, with its end.
    let dir = turn.dir.to_str().unwrap();
    let (code, _, stderr) =
        run_agent_host(&["kill", "--timeout-ms", "10000", dir], turn.root.path());
    assert_eq!(code, 0, "{stderr}");
    wait_all_dead(&pids, Duration::from_secs(2));
    assert!(list_turns(&turn, false).is_empty());
    let all = list_turns(&turn, true);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["state"], "interrupted", "{}", all[0]);
    assert_eq!(all[0]["reason"], "kill", "{}", all[0]);
}

#[test]
fn turns_of_an_unused_state_directory_lists_nothing() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("never-used");
    let (code, stdout, stderr) = run_agent_host(
        &["turns", "--state-dir", dir.to_str().unwrap()],
        state.path(),
    );
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
}

/// A process record of a runner that is long gone, naming `socket` as its control socket.
fn dead_runner_record(socket: &Path) -> serde_json::Value {
    let me = identity::current().unwrap();
    let gone = Identity {
        start_time: me.start_time.saturating_sub(1000),
        ..me
    };
    serde_json::json!({
        "v": 1, "runner": gone, "backend": null, "socket": socket,
        "mode": "background", "startedAtMs": 0, "heartbeatAtMs": 0
    })
}

#[test]
fn a_recorded_socket_that_is_an_ordinary_file_survives_kill_and_recovery() {
    // `agent-host kill`.
    let turn = Turn::new("quick.txt", Mode::Background);
    let precious = turn.root.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let record = dead_runner_record(&precious);
    std::fs::write(turn.dir.join("process.json"), record.to_string()).unwrap();
    let (code, _, stderr) = run_agent_host(
        &["kill", "--timeout-ms", "5000", turn.dir.to_str().unwrap()],
        turn.root.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    // Named like the turn's own socket, but a file: also left alone.
    let other = Turn::new("quick.txt", Mode::Background);
    let fake_socket = other.dir.join("control.sock");
    std::fs::write(&fake_socket, "not a socket").unwrap();
    std::fs::write(
        other.dir.join("process.json"),
        dead_runner_record(&fake_socket).to_string(),
    )
    .unwrap();
    let (code, _, stderr) = run_agent_host(
        &["kill", "--timeout-ms", "5000", other.dir.to_str().unwrap()],
        other.root.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        fake_socket.exists(),
        "a file named control.sock was deleted"
    );

    // A recovering server.
    let turn = Turn::new("quick.txt", Mode::Background);
    let precious = turn.root.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    std::fs::write(
        turn.dir.join("process.json"),
        dead_runner_record(&precious).to_string(),
    )
    .unwrap();
    let config = turn.root.path().join("empty-config.toml");
    std::fs::write(&config, "").unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "app-server".into(),
        "--state-dir".into(),
        turn.root.path().into(),
        "--config".into(),
        config.into(),
    ];
    let mut server = process::spawn(SpawnSpec {
        program: Path::new(super::AGENT_HOST),
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
    .unwrap();
    let exit = crate::support::wait_until(Duration::from_secs(20), "the exit record", || {
        agent_host::runner::client::read_exit_record(&turn.dir).unwrap()
    });
    assert_eq!(exit.status, TurnStatus::Interrupted);
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    drop(server.stdin.take());
    let status = crate::support::wait_until(Duration::from_secs(10), "the server to exit", || {
        server.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

#[test]
fn the_tests_tell_a_zombie_from_a_reaped_process() {
    use crate::support::procs::{ProcState, proc_state};
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_sleep(dir.path());
    let me = identity::of_pid(child.id() as i32).unwrap();
    assert_eq!(proc_state(me.pid, me.start_time), ProcState::Running);
    assert_eq!(
        proc_state(me.pid, me.start_time + 1),
        ProcState::Gone,
        "another start time is another process"
    );
    identity::signal(&me, Signal::KILL).unwrap();
    // Not reaped yet: a zombie, which has exited but still holds its pid.
    crate::support::wait_until(Duration::from_secs(5), "the zombie", || {
        (proc_state(me.pid, me.start_time) == ProcState::Zombie).then_some(())
    });
    child.wait().unwrap();
    assert_eq!(proc_state(me.pid, me.start_time), ProcState::Gone);
}
