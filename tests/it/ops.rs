//! The operator commands (`ps`, `logs`, `threads`, `gc`) against a real state directory, their
//! `--json` output and their errors; and two servers sharing one state directory.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::ops::{agent_host, agent_host_json, assert_fails, notice_config, notice_ended};
use crate::support::procs::assert_all_gone;
use crate::support::{Sandbox, ServerProcess};

const ANSWER: &str = "start\nmessage looking\nmessage the answer\ncomplete\n";
/// Held at the gate `go` after its first message.
const HELD: &str =
    "pid\nstart\nmessage before the gate\nwait-file go\nmessage after the gate\ncomplete\n";

fn wait_agent_message(host: &mut Host, text: &str) {
    host.until_message(text, |m| {
        m["method"] == "item/completed" && m["params"]["item"]["text"] == text
    });
}

/// Waits until the runner of `turn` has exited (it outlives `turn/completed` by a moment).
fn wait_runner_gone(host: &Host, turn: &str) {
    let process = host.process_record(turn);
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    assert_all_gone(&[runner], TURN_TIMEOUT);
}

fn ids(rows: &Value, key: &str) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("an array: {rows}"))
        .iter()
        .map(|row| row[key].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ps_shows_running_turns_with_their_runners_and_every_turn_with_all() {
    let mut host = Host::fake(&[("answer", ANSWER), ("held", HELD)]);
    let state = host.sandbox.state_dir();
    let (done, _) = host.completed_turn("script:answer");
    let held = host.start_script("held", json!({"background": true}));
    wait_agent_message(&mut host, "before the gate");

    let running = agent_host_json(&state, &["ps", "--json"]);
    assert_eq!(ids(&running, "turnId"), [held.as_str()], "{running}");
    let row = &running[0];
    assert_eq!(row["threadId"], host.thread_id);
    assert_eq!(
        (&row["status"], &row["mode"], &row["provider"]),
        (&json!("running"), &json!("background"), &json!("fake"))
    );
    assert_eq!(row["runner"]["alive"], true, "{row}");
    assert_eq!(row["backend"]["alive"], true, "{row}");
    assert_eq!(row["backend"]["pid"], host.recorded_pids()[0].0);

    let all = agent_host_json(&state, &["ps", "--all", "--json"]);
    assert_eq!(
        ids(&all, "turnId"),
        [held.clone(), done.clone()],
        "newest first: {all}"
    );
    assert_eq!(
        (&all[1]["status"], &all[1]["reason"]),
        (&json!("completed"), &json!("completed"))
    );

    let table = agent_host(&state, &["ps"]);
    assert_eq!(table.code, Some(0), "{table:?}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{table:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "THREAD", "TURN", "PROVIDER", "MODE", "STATUS", "AGE", "RUNNER", "BACKEND"
        ]
    );
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        cells[..5],
        [
            host.thread_id.as_str(),
            &held,
            "fake",
            "background",
            "running"
        ]
    );
    assert_eq!(cells[7], "live", "{table:?}");

    // With its server and then its runner killed, the turn is lost, never shown running.
    host.server.kill();
    let process = host.process_record(&held);
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    std::process::Command::new("kill")
        .args(["-KILL", &runner.0.to_string()])
        .status()
        .unwrap();
    assert_all_gone(&[runner], Duration::from_secs(5));
    let lost = agent_host_json(&state, &["ps", "--json"]);
    assert_eq!(
        (&lost[0]["status"], &lost[0]["runner"]["alive"]),
        (&json!("runnerLost"), &json!(false)),
        "{lost}"
    );
    let killed = agent_host(&state, &["kill", &held]);
    assert_eq!(killed.code, Some(0), "{killed:?}");
    assert_eq!(agent_host_json(&state, &["ps", "--json"]), json!([]));
}

/// A turn with text, a command and a file change.
const DID: &str = r#"start
message I will run a command first.
command echo hi
line {"type":"item.completed","item":{"id":"item_7","type":"file_change","changes":[{"path":"src/new.rs","kind":"add"}],"status":"completed"}}
message Done.
complete
"#;

#[test]
fn logs_tells_what_the_turn_did_and_json_prints_its_records() {
    let mut host = Host::fake(&[("did", DID)]);
    let state = host.sandbox.state_dir();
    let (turn, _) = host.completed_turn("script:did");
    let expected = "> script:did\nI will run a command first.\n$ echo hi\nok\n[exit 0]\n\
                    [file add] src/new.rs\nDone.\n[turn completed]\n";
    let by_turn = agent_host(&state, &["logs", &turn]);
    assert_eq!(
        (by_turn.code, by_turn.stdout.as_str()),
        (Some(0), expected),
        "{by_turn:?}"
    );
    // A thread stands for its latest turn; a unique start of an id is enough.
    let by_thread = agent_host(&state, &["logs", &host.thread_id]);
    assert_eq!(by_thread.stdout, expected);
    let by_prefix = agent_host(&state, &["logs", &turn[..30]]);
    assert_eq!(by_prefix.stdout, expected);

    let json = agent_host(&state, &["logs", "--json", &turn]);
    assert_eq!(json.code, Some(0), "{json:?}");
    let records: Vec<Value> = json
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let stored = std::fs::read_to_string(host.turn_dir(&turn).join("events.jsonl")).unwrap();
    let stored: Vec<Value> = stored
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records, stored, "the canonical records as stored");
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    assert_eq!(records.last().unwrap()["event"]["type"], "turnEnded");
}

/// `agent-host logs -f TURN --state-dir STATE`, with its stdout read line by line.
fn follow(sandbox: &Sandbox, turn: &str, extra: &[&str]) -> ServerProcess {
    let mut args: Vec<std::ffi::OsString> = vec!["logs".into(), "-f".into()];
    args.extend(extra.iter().map(Into::into));
    args.extend([
        turn.into(),
        "--state-dir".into(),
        sandbox.state_dir().into(),
    ]);
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_agent-host"));
    ServerProcess::spawn(&sandbox.spec(program, args, &BTreeMap::new()))
}

fn next_line(follower: &mut ServerProcess) -> String {
    follower
        .recv_line(TURN_TIMEOUT)
        .unwrap_or_else(|err| panic!("logs -f: {err:?}; stderr: {}", follower.stderr()))
        .text()
}

#[test]
fn logs_follow_prints_the_text_as_it_arrives_and_exits_with_the_turns_status() {
    let mut host = Host::fake(&[("held", HELD), ("held2", HELD)]);
    let turn = host.start_script("held", json!({}));
    wait_agent_message(&mut host, "before the gate");
    let mut follower = follow(&host.sandbox, &turn, &[]);
    assert_eq!(next_line(&mut follower), "> script:held");
    assert_eq!(next_line(&mut follower), "before the gate");
    // The turn is held at its gate: the follower printed what there was and waits.
    assert_eq!(follower.wait_exit(Duration::ZERO), None);
    host.release("go");
    assert_eq!(next_line(&mut follower), "after the gate");
    assert_eq!(next_line(&mut follower), "[turn completed]");
    let status = follower
        .wait_exit(TURN_TIMEOUT)
        .expect("logs -f exits at the end");
    assert_eq!(status.code(), Some(0));
    host.until_completed(&turn);

    // Interrupted from outside: the follower ends with the turn, exit code 4; `--json`
    // follows the records.
    host.close_gate("go");
    let turn = host.start_script("held2", json!({}));
    wait_agent_message(&mut host, "before the gate");
    let mut follower = follow(&host.sandbox, &turn, &["--json"]);
    let first: Value = serde_json::from_str(&next_line(&mut follower)).unwrap();
    assert_eq!(first["seq"], 1);
    let killed = agent_host(&host.sandbox.state_dir(), &["kill", &turn]);
    assert_eq!(killed.code, Some(0), "{killed:?}");
    let mut last = first;
    while last["event"]["type"] != "turnEnded" {
        last = serde_json::from_str(&next_line(&mut follower)).unwrap();
    }
    assert_eq!(last["event"]["status"], "interrupted");
    let status = follower
        .wait_exit(TURN_TIMEOUT)
        .expect("logs -f exits at the end");
    assert_eq!(status.code(), Some(4));
    host.until_completed(&turn);
}

#[test]
fn threads_lists_the_threads_newest_first_with_their_last_turn() {
    let mut host = Host::fake(&[("answer", ANSWER), ("fail", "start\nfail it broke\n")]);
    let state = host.sandbox.state_dir();
    let first_thread = host.thread_id.clone();
    host.completed_turn("script:answer");
    let cwd = host.sandbox.work_dir().display().to_string();
    let second = host.request("thread/start", json!({"cwd": cwd}));
    host.thread_id = second["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = host.start_script("fail", json!({}));
    host.until_completed(&failed);
    let idle = host.request("thread/start", json!({"cwd": cwd}));
    let idle = idle["result"]["thread"]["id"].as_str().unwrap().to_owned();

    let threads = agent_host_json(&state, &["threads", "--json"]);
    assert_eq!(
        ids(&threads, "threadId"),
        [idle.clone(), host.thread_id.clone(), first_thread.clone()],
        "{threads}"
    );
    assert_eq!(
        (&threads[0]["turns"], &threads[0]["lastTurn"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(
        threads[1]["lastTurn"],
        json!({"turnId": failed, "status": "failed"})
    );
    assert_eq!(threads[2]["lastTurn"]["status"], "completed");
    assert_eq!(threads[2]["preview"], "script:answer");
    assert_eq!(threads[2]["modelProvider"], "fake");

    let table = agent_host(&state, &["threads"]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{table:?}");
    assert!(lines[0].starts_with("THREAD"), "{table:?}");
    assert!(
        lines[2].contains(&host.thread_id) && lines[2].contains("failed"),
        "{table:?}"
    );
}

/// The names of the files in `dir`, sorted.
fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// What `thread/read`, `logs` and the notice need of an ended turn is still there.
fn assert_the_records_stay(host: &mut Host, turn: &str) {
    let read = host.read_thread();
    assert_eq!(
        read["result"]["thread"]["turns"][0]["items"][2]["text"], "the answer",
        "{read}"
    );
    let logs = agent_host(&host.sandbox.state_dir(), &["logs", turn]);
    assert!(
        logs.stdout.ends_with("the answer\n[turn completed]\n"),
        "{logs:?}"
    );
    let left = file_names(&host.turn_dir(turn));
    for kept in [
        "events.jsonl",
        "exit.json",
        "notify.json",
        "notify.out",
        "process.json",
        "spec.json",
        "turn.json",
    ] {
        assert!(
            left.iter().any(|name| name == kept),
            "{kept} kept: {left:?}"
        );
    }
}

#[test]
fn gc_deletes_what_ended_turns_no_longer_need_and_nothing_of_a_running_turn() {
    let mut host =
        Host::fake_with_config(&[("answer", ANSWER), ("held", HELD)], &notice_config(""));
    let state = host.sandbox.state_dir();
    let ended = host.start_script("answer", json!({"background": true}));
    host.until_completed(&ended);
    notice_ended(&host.turn_dir(&ended));
    wait_runner_gone(&host, &ended);
    let running = host.start_script("held", json!({"background": true}));
    wait_agent_message(&mut host, "before the gate");
    let disposable = [
        "backend.stdout",
        "backend.stderr",
        "runner.log",
        "runner.lock",
        "notify.lock",
    ];
    let expected: Vec<String> = disposable
        .iter()
        .map(|name| host.turn_dir(&ended).join(name).display().to_string())
        .collect();
    let paths = |report: &Value| -> Vec<String> {
        let mut paths = ids(&report["files"], "path");
        paths.sort();
        paths
    };
    let mut sorted = expected.clone();
    sorted.sort();

    let recent = agent_host_json(&state, &["gc", "--json"]);
    assert_eq!(
        recent["files"],
        json!([]),
        "nothing ended 7 days ago: {recent}"
    );
    let dry = agent_host_json(&state, &["gc", "--older-than", "0s", "--dry-run", "--json"]);
    assert_eq!(paths(&dry), sorted, "{dry}");
    assert_eq!((&dry["dryRun"], &dry["turns"]), (&json!(true), &json!(1)));
    assert!(
        expected.iter().all(|p| std::path::Path::new(p).exists()),
        "a dry run deletes nothing"
    );

    let running_files = || file_names(&host.turn_dir(&running));
    let before = running_files();
    let text = agent_host(&state, &["gc", "--older-than", "0s"]);
    assert_eq!(text.code, Some(0), "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), disposable.len() + 1, "{text:?}");
    assert!(lines.last().unwrap().starts_with("freed "), "{text:?}");
    assert!(
        lines.last().unwrap().ends_with(" in 5 files of 1 turns"),
        "{text:?}"
    );
    assert!(
        expected.iter().all(|p| !std::path::Path::new(p).exists()),
        "{text:?}"
    );
    assert_eq!(running_files(), before, "nothing of the running turn");
    assert_the_records_stay(&mut host, &ended);
    let again = agent_host_json(&state, &["gc", "--older-than", "0s", "--json"]);
    assert_eq!(
        (&again["files"], &again["freedBytes"]),
        (&json!([]), &json!(0))
    );
    host.release("go");
    host.until_completed(&running);
}

#[test]
fn every_operator_command_fails_with_one_clear_line() {
    let missing = Sandbox::new().state_dir().join("never-made");
    for args in [
        &["ps"][..],
        &["ps", "--json"],
        &["logs", "0190"],
        &["logs", "-f", "--json", "0190"],
        &["threads", "--json"],
        &["gc", "--dry-run"],
    ] {
        let cli = agent_host(&missing, args);
        assert_fails(&cli, 2, "no state directory at");
    }
    assert!(!missing.exists(), "no command makes a state directory");

    let mut host = Host::fake(&[("answer", ANSWER)]);
    let state = host.sandbox.state_dir();
    let (turn, _) = host.completed_turn("script:answer");
    let unknown = "01900000-0000-7000-8000-000000000000";
    for json in [&[][..], &["--json"]] {
        let logs = |target: &str| {
            let mut args = vec!["logs"];
            args.extend_from_slice(json);
            args.push(target);
            agent_host(&state, &args)
        };
        assert_fails(&logs(unknown), 2, &format!("no thread or turn {unknown}"));
        assert_fails(&logs("../etc"), 2, "is not a thread or turn id");
        // Every UUIDv7 of this decade starts with 0: the thread and its turn both match.
        assert_fails(&logs("0"), 2, "0 is ambiguous: it starts 2 ids");
    }
    let cwd = host.sandbox.work_dir().display().to_string();
    let idle = host.request("thread/start", json!({"cwd": cwd}));
    let idle = idle["result"]["thread"]["id"].as_str().unwrap().to_owned();
    assert_fails(&agent_host(&state, &["logs", &idle]), 2, "has no turns");
    let bad = agent_host(&state, &["gc", "--older-than", "7w"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("unknown unit"), "{bad:?}");
    assert!(
        agent_host(&state, &["logs", &turn])
            .stdout
            .ends_with("[turn completed]\n")
    );
}

#[test]
fn a_turn_started_by_one_server_is_followed_interrupted_and_listed_by_another() {
    let talks =
        "start\nmessage before the gate\nwait-file go\nmessage after the gate\nsleep 600000\n";
    let mut host = Host::fake(&[("held", talks)]);
    let turn = host.start_script("held", json!({}));
    wait_agent_message(&mut host, "before the gate");
    let mut other = Host::spawn(&host.sandbox);
    other.initialize();
    let (resumed, _) = other.request(
        json!(1),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    // Listed by the other server, running.
    let (listed, _) = other.request(json!(2), "thread/list", json!({}));
    let listed_ids: Vec<&str> = listed["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, [host.thread_id.as_str()], "{listed}");
    let (read, _) = other.request(
        json!(3),
        "thread/read",
        json!({"threadId": host.thread_id, "includeTurns": true}),
    );
    let turns = &read["result"]["thread"]["turns"];
    assert_eq!(
        (&turns[0]["id"], &turns[0]["status"]),
        (&json!(turn), &json!("inProgress")),
        "{read}"
    );
    // Followed live: what the agent says after the resume reaches the other server.
    host.release("go");
    let (said, _) = other
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["text"] == "after the gate"
        })
        .unwrap_or_else(|(err, got)| panic!("{err:?}: {got:#?}"));
    assert_eq!(said["params"]["turnId"], turn);
    // Interrupted by the other: both clients get one turn/completed, interrupted.
    let (answer, _) = other.request(
        json!(4),
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": turn}),
    );
    assert_eq!(answer["result"], json!({}), "{answer}");
    let done = other
        .until_turn_completed(&turn, TURN_TIMEOUT)
        .pop()
        .unwrap();
    assert_eq!(done["params"]["turn"]["status"], "interrupted");
    let first = host.until_completed(&turn);
    assert_eq!(
        first.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
}
