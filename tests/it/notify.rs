//! The completion notice: the configured program runs exactly once per finished turn that owes
//! it, with Codex's payload and our environment, detached and bounded, its end recorded
//! beside the turn; a notice whose runner or notifier died is finished by the next server,
//! re-run only if the program never started.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, PROVIDER_SECRET, path_str};
use crate::support::ops::{
    NOTICE_TIMEOUT, notice_config, notice_ended, notice_starts, runs, runs_of,
};
use crate::support::procs::{alive, assert_all_gone};
use crate::support::{Describe, wait_until};

const ANSWER: &str = "start\nmessage looking\nmessage the answer\ncomplete\n";

#[test]
fn a_finished_background_turn_runs_the_notice_once_with_codexs_payload_and_our_env() {
    let mut host = Host::fake_with_config(&[("answer", ANSWER)], &notice_config(""));
    let turn = host.start_script("answer", json!({"background": true}));
    let done = host.until_completed(&turn);
    assert_eq!(
        done.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    let dir = host.turn_dir(&turn);
    let record = notice_ended(&dir);
    assert_eq!(
        record["result"],
        json!({"outcome": "exited", "exitCode": 0}),
        "{record}"
    );
    assert_eq!(record["claim"]["takenOver"], 0, "{record}");
    assert_eq!(notice_starts(&dir), 1, "one start of the program");
    let work = host.sandbox.work_dir();
    let ran = runs_of(&work, &turn);
    assert_eq!(ran.len(), 1, "{ran:?}");
    let run = &ran[0];
    assert_eq!(
        (run.status.as_str(), run.thread.as_str()),
        ("completed", host.thread_id.as_str())
    );
    assert_eq!(
        run.payload,
        json!({"type": "agent-turn-complete", "thread-id": host.thread_id, "turn-id": turn,
               "cwd": path_str(&work), "input-messages": ["script:answer"],
               "last-assistant-message": "the answer", "status": "completed"})
    );
    // Codex's members first and in Codex's order, ours after them.
    let keys: Vec<&String> = run.payload.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "type",
            "thread-id",
            "turn-id",
            "cwd",
            "input-messages",
            "last-assistant-message",
            "status"
        ]
    );
    let output = std::fs::read_to_string(dir.join("notify.out")).unwrap();
    assert_eq!(output, "notified\n");
}

#[test]
fn the_program_gets_the_turn_in_its_environment_and_no_secret_of_the_provider() {
    let mut host =
        Host::fake_with_config(&[("answer", ANSWER)], "notify = [\"sh\", \"-c\", \"env\"]");
    let turn = host.start_script("answer", json!({"background": true}));
    host.until_completed(&turn);
    notice_ended(&host.turn_dir(&turn));
    let text = std::fs::read_to_string(host.turn_dir(&turn).join("notify.out")).unwrap();
    for expected in [
        format!("AGENT_HOST_TURN_ID={turn}\n"),
        format!("AGENT_HOST_THREAD_ID={}\n", host.thread_id),
        "AGENT_HOST_TURN_STATUS=completed\n".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} in {text}");
    }
    assert!(!text.contains(PROVIDER_SECRET), "{text}");
    assert!(!text.contains("AGENT_HOST_PROVIDER_ENV"), "{text}");
    assert!(
        !text.contains("AGENT_HOST_TURN="),
        "the program is not a process of the turn: {text}"
    );
}

#[test]
fn a_foreground_turn_owes_a_notice_only_with_notify_foreground() {
    let mut host = Host::fake_with_config(&[("answer", ANSWER)], &notice_config(""));
    let foreground = host.start_script("answer", json!({}));
    host.until_completed(&foreground);
    assert!(!host.turn_dir(&foreground).join("notify.json").exists());
    let background = host.start_script("answer", json!({"background": true}));
    host.until_completed(&background);
    notice_ended(&host.turn_dir(&background));
    let all: Vec<String> = runs(&host.sandbox.work_dir())
        .into_iter()
        .map(|r| r.turn)
        .collect();
    assert_eq!(all, [background]);

    let mut host = Host::fake_with_config(
        &[("answer", ANSWER)],
        &notice_config("notify_foreground = true"),
    );
    let foreground = host.start_script("answer", json!({}));
    host.until_completed(&foreground);
    notice_ended(&host.turn_dir(&foreground));
    assert_eq!(runs_of(&host.sandbox.work_dir(), &foreground).len(), 1);
}

#[test]
fn a_foreground_turn_lost_with_its_server_is_announced_once_as_interrupted() {
    let waits = "pid\nstart\nmessage waiting\nsleep 600000\n";
    let mut host = Host::fake_with_config(
        &[("waits", waits)],
        &notice_config("notify_foreground = true"),
    );
    let turn = host.start_script("waits", json!({}));
    host.until_message("the agent's message", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
    });
    host.server.kill();
    let record = notice_ended(&host.turn_dir(&turn));
    assert_eq!(record["result"]["outcome"], "exited", "{record}");
    let ran = runs_of(&host.sandbox.work_dir(), &turn);
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0].status, "interrupted");
    assert_eq!(ran[0].payload["last-assistant-message"], "waiting");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(10));
}

#[test]
fn on_complete_replaces_the_configured_program() {
    use std::os::unix::fs::PermissionsExt;
    // The configured program would record nothing; the command line's records the run.
    let mut host = Host::fake_with_config(&[("answer", ANSWER)], "notify = [\"true\"]");
    let script = host.sandbox.root().join("on-complete.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$AGENT_HOST_TURN_ID\" >> on-complete-runs\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = host.sandbox.root().join("turns.toml");
    let spec = host.sandbox.agent_host_spec(
        Some(&config),
        &["--on-complete".to_owned(), path_str(&script)],
        &Default::default(),
    );
    host.server = crate::support::ServerProcess::spawn(&spec);
    host.server.initialize();
    host.request("thread/resume", json!({"threadId": host.thread_id}));
    let turn = host.start_script("answer", json!({"background": true}));
    host.until_completed(&turn);
    let record = notice_ended(&host.turn_dir(&turn));
    assert_eq!(record["argv"], json!([path_str(&script)]), "{record}");
    let text = std::fs::read_to_string(host.sandbox.work_dir().join("on-complete-runs")).unwrap();
    assert_eq!(text, format!("{turn}\n"));
}

#[test]
fn a_failing_and_a_hanging_program_are_recorded_and_hold_nothing_up() {
    let scripts = [("fail", ANSWER), ("hang", ANSWER)];
    let mut host = Host::fake_with_config(&scripts, &notice_config("notify_timeout_ms = 300"));
    let failing = host.start_script("fail", json!({"background": true}));
    host.until_completed(&failing);
    let record = notice_ended(&host.turn_dir(&failing));
    assert_eq!(
        record["result"],
        json!({"outcome": "exited", "exitCode": 7}),
        "{record}"
    );
    let output = std::fs::read_to_string(host.turn_dir(&failing).join("notify.out")).unwrap();
    assert_eq!(output, "oops\n");

    // The next turn starts while nothing of the last one's notice holds the thread.
    let hanging = host.start_script("hang", json!({"background": true}));
    host.until_completed(&hanging);
    let dir = host.turn_dir(&hanging);
    let record = notice_ended(&dir);
    assert_eq!(record["result"], json!({"outcome": "timedOut"}), "{record}");
    let program = &record["program"];
    let pid = program["pid"].as_i64().unwrap() as i32;
    let start = program["startTime"].as_u64().unwrap();
    assert!(!alive(pid, start), "the hanging program was killed");
    assert_eq!(
        std::fs::read_to_string(dir.join("notify.out")).unwrap(),
        "started\n"
    );
    // The server served all along.
    let read = host.read_thread();
    assert_eq!(
        read["result"]["thread"]["turns"][1]["status"], "completed",
        "{read}"
    );
}

#[test]
fn a_program_that_cannot_start_is_recorded_once() {
    let mut host = Host::fake_with_config(
        &[("answer", ANSWER)],
        "notify = [\"/nonexistent/notify-program\", \"x\"]",
    );
    let turn = host.start_script("answer", json!({"background": true}));
    host.until_completed(&turn);
    let record = notice_ended(&host.turn_dir(&turn));
    assert_eq!(record["result"]["outcome"], "notStarted", "{record}");
    let error = record["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot start /nonexistent/notify-program:"),
        "{error}"
    );
    assert_eq!(record["program"], Value::Null);
}

#[test]
fn the_turn_of_a_runner_killed_mid_turn_is_announced_once_by_the_next_server() {
    let waits = "pid\nstart\nmessage waiting\nsleep 600000\n";
    let mut host = Host::fake_with_config(&[("waits", waits)], &notice_config(""));
    let turn = host.start_script("waits", json!({"background": true}));
    host.until_message("the agent's message", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
    });
    host.server.kill();
    let process = host.process_record(&turn);
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    kill_by_pid(runner);
    assert_all_gone(&[runner], Duration::from_secs(5));
    assert!(!host.turn_dir(&turn).join("exit.json").exists());
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    let record = notice_ended(&host.turn_dir(&turn));
    assert_eq!(record["result"]["outcome"], "exited", "{record}");
    let ran = runs_of(&host.sandbox.work_dir(), &turn);
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0].status, "interrupted");
}

/// SIGKILL by pid, of a process this test started (through the server) and identified.
fn kill_by_pid((pid, start): (i32, u64)) {
    assert!(alive(pid, start));
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Rewrites an ended notice as claimed by a notifier that died (an identity that matches no
/// process), with `witness` bytes in the lock: the state a crash leaves.
fn fake_a_dead_claim(dir: &std::path::Path, state: &str, witness: &[u8]) {
    let path = dir.join("notify.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let dead = json!({"pid": 1, "startTime": u64::MAX, "bootId": "gone"});
    let object = record.as_object_mut().unwrap();
    for key in ["startedAtMs", "endedAtMs", "result", "program"] {
        object.remove(key);
    }
    object.insert("state".into(), json!(state));
    object.insert(
        "claim".into(),
        json!({"by": dead, "atMs": 1, "takenOver": 0}),
    );
    if state == "started" {
        object.insert("program".into(), dead.clone());
        object.insert("startedAtMs".into(), json!(2));
    }
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    std::fs::write(dir.join("notify.lock"), witness).unwrap();
}

#[test]
fn a_notice_whose_notifier_died_is_run_again_only_if_its_program_never_started() {
    let scripts = [("never", ANSWER), ("claimed", ANSWER), ("started", ANSWER)];
    let mut host = Host::fake_with_config(&scripts, &notice_config(""));
    let mut turns = Vec::new();
    for name in ["never", "claimed", "started"] {
        let turn = host.start_script(name, json!({"background": true}));
        host.until_completed(&turn);
        notice_ended(&host.turn_dir(&turn));
        turns.push(turn);
    }
    host.server.kill();
    let work = host.sandbox.work_dir();
    assert_eq!(runs(&work).len(), 3);
    // A claim that died before the program started; and two that died after it started
    // (the witness byte is there), one before recording it.
    fake_a_dead_claim(&host.turn_dir(&turns[0]), "claimed", b"");
    fake_a_dead_claim(&host.turn_dir(&turns[1]), "claimed", b"x");
    fake_a_dead_claim(&host.turn_dir(&turns[2]), "started", b"x");
    // Two servers start at once on the state directory: their recoveries race.
    let mut first = Host::spawn(&host.sandbox);
    let mut second = Host::spawn(&host.sandbox);
    first.initialize();
    second.initialize();
    let rerun = notice_ended(&host.turn_dir(&turns[0]));
    assert_eq!(rerun["result"]["outcome"], "exited", "{rerun}");
    assert_eq!(rerun["claim"]["takenOver"], 1, "{rerun}");
    for turn in &turns[1..] {
        let lost = notice_ended(&host.turn_dir(turn));
        assert_eq!(lost["result"]["outcome"], "lost", "{lost}");
    }
    wait_until(
        NOTICE_TIMEOUT,
        Describe(|| format!("the re-run of {}: {:?}", turns[0], runs(&work))),
        || (runs_of(&work, &turns[0]).len() == 2).then_some(()),
    );
    // Every notice has ended for good, so nothing can run any more: one more run in all,
    // for the one that never started, and one start more in its witness.
    assert_eq!(runs(&work).len(), 4, "{:?}", runs(&work));
    assert_eq!(runs_of(&work, &turns[1]).len(), 1);
    assert_eq!(runs_of(&work, &turns[2]).len(), 1);
    assert_eq!(notice_starts(&host.turn_dir(&turns[0])), 1);
}

#[test]
fn notifiers_started_together_on_one_notice_run_it_once() {
    let mut host = Host::fake_with_config(&[("answer", ANSWER)], &notice_config(""));
    let turn = host.start_script("answer", json!({"background": true}));
    host.until_completed(&turn);
    let dir = host.turn_dir(&turn);
    notice_ended(&dir);
    fake_a_dead_claim(&dir, "claimed", b"");
    let notifiers: Vec<std::process::Child> = (0..8)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
                .args(["notify", "--turn-dir"])
                .arg(&dir)
                .spawn()
                .expect("start a notifier")
        })
        .collect();
    for mut notifier in notifiers {
        assert!(notifier.wait().unwrap().success());
    }
    let record = notice_ended(&dir);
    assert_eq!(record["claim"]["takenOver"], 1, "{record}");
    assert_eq!(
        runs_of(&host.sandbox.work_dir(), &turn).len(),
        2,
        "the first run and one re-run"
    );
    assert_eq!(notice_starts(&dir), 1);
}
