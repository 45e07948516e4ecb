//! Turns end to end: the real server, real runners, and the fake agent as the backend.
//!
//! Each test writes its own fake-agent scripts into a sandbox, configures a `jsonl` provider
//! that runs them, and drives `agent-host app-server` over real pipes. Process liveness is
//! checked by pid and start time (the fake agent records both), never by sleeping.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{DEFAULT_TIMEOUT, Sandbox, ServerProcess, wait_until};

use crate::support::host::{Host, PROVIDER_SECRET, TURN_TIMEOUT, mentions_turn};
use crate::support::procs::{alive, assert_all_gone};

fn methods(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m["method"].as_str().map(str::to_owned))
        .collect()
}

const FULL: &str =
    "start\nmessage I will look first.\ncommand ls\nmessage Hello from the fake agent.\ncomplete\n";

#[test]
fn a_full_turn_is_sent_in_codex_order_and_ends_with_the_final_message() {
    let mut host = Host::fake(&[("full", FULL)]);
    let turn = host.start_script("full", json!({}));
    let messages = host.until_completed(&turn);
    let names = methods(&messages);
    assert_eq!(
        names[..4],
        [
            "thread/status/changed",
            "turn/started",
            "item/started",
            "item/completed"
        ],
        "{names:?}"
    );
    assert_eq!(messages[2]["params"]["item"]["type"], "userMessage");
    assert_eq!(messages[0]["params"]["status"]["type"], "active");
    let n = names.len();
    assert_eq!(names[n - 2], "thread/status/changed");
    assert_eq!(messages[n - 2]["params"]["status"]["type"], "idle");
    assert!(names.contains(&"thread/tokenUsage/updated".to_owned()));
    let completed = &messages[n - 1]["params"]["turn"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["itemsView"], "summary");
    assert_eq!(completed["items"][0]["text"], "Hello from the fake agent.");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(1));
    host.assert_turn_silent(&turn);
    // Every item that started also completed, in order, with its deltas between.
    let started: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "item/started")
        .map(|m| &m["params"]["item"]["id"])
        .collect();
    let done: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "item/completed")
        .map(|m| &m["params"]["item"]["id"])
        .collect();
    assert_eq!(started, done);
}

#[test]
fn two_turns_run_two_fresh_backends_and_read_back_with_their_items() {
    let mut host = Host::fake(&[("full", &format!("pid\n{FULL}"))]);
    let first = host.start_script("full", json!({}));
    host.until_completed(&first);
    let second = host.start_script("full", json!({}));
    host.until_completed(&second);
    assert_ne!(first, second);
    let pids = host.recorded_pids();
    assert_eq!(pids.len(), 2, "one backend process per turn: {pids:?}");
    assert_ne!(pids[0], pids[1]);
    let read = host.request(
        "thread/read",
        json!({"threadId": host.thread_id, "includeTurns": true}),
    );
    let turns = read["result"]["thread"]["turns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(turns.len(), 2, "{read}");
    for turn in &turns {
        assert_eq!(turn["status"], "completed");
        assert_eq!(turn["itemsView"], "full");
        let kinds: Vec<&str> = turn["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["type"].as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "userMessage",
                "agentMessage",
                "commandExecution",
                "agentMessage"
            ]
        );
    }
    assert_eq!(read["result"]["thread"]["preview"], "script:full");
}

#[test]
fn the_trap_turn_waits_for_the_real_answer_and_the_exit() {
    let trap = "pid\nstart\nmessage I will run a tool first.\ncommand make test\nsleep 2000\nmessage The real answer.\ncomplete\n";
    let mut host = Host::fake(&[("trap", trap)]);
    let turn = host.start_script("trap", json!({}));
    let messages = host.until_completed(&turn);
    // When turn/completed arrives, the backend has exited and been reaped.
    let pids = host.recorded_pids();
    assert_eq!(pids.len(), 1);
    assert!(
        !alive(pids[0].0, pids[0].1),
        "backend still alive at turn/completed"
    );
    assert!(host.turn_dir(&turn).join("exit.json").exists());
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["items"][0]["text"], "The real answer.");
    let early = messages
        .iter()
        .position(|m| {
            m["method"] == "item/completed"
                && m["params"]["item"]["text"] == "I will run a tool first."
        })
        .expect("the preamble item");
    assert!(early < messages.len() - 1);
}

#[test]
fn interrupt_mid_message_ends_interrupted_and_leaves_no_process() {
    let script = "pid\nstart\nmessage partial thoughts\nsleep 600000\nmessage never\ncomplete\n";
    let mut host = Host::fake(&[("long", script)]);
    let turn = host.start_script("long", json!({}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("no message: {err}: {got:#?}"));
    let response = host.request(
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": turn}),
    );
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "interrupted");
    assert_eq!(completed["items"], json!([]));
    assert_eq!(completed["itemsView"], "notLoaded");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(2));
    host.assert_turn_silent(&turn);
    // The next turn runs normally.
    std::fs::write(host.sandbox.root().join("scripts/quick.txt"), FULL).unwrap();
    let next = host.start_script("quick", json!({}));
    let messages = host.until_completed(&next);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
}

#[test]
fn interrupt_during_a_tool_command_kills_the_whole_tree() {
    let tree = "pid\nstart\nline {\"type\":\"item.started\",\"item\":{\"id\":\"item_1\",\"type\":\"command_execution\",\"command\":\"build\",\"aggregated_output\":\"\",\"exit_code\":null,\"status\":\"in_progress\"}}\nchild tool.txt\nsleep 600000\n";
    let tool = "setsid\nignore TERM\npid\nchild grandchild.txt\nsleep 600000\n";
    let grandchild = "setsid\nignore TERM\nignore INT\npid\nsleep 600000\n";
    let mut host = Host::fake(&[("tree", tree), ("tool", tool), ("grandchild", grandchild)]);
    let turn = host.start_script("tree", json!({}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
        })
        .unwrap_or_else(|(err, got)| panic!("no command: {err}: {got:#?}"));
    // All three processes have recorded themselves before the interrupt.
    wait_until(TURN_TIMEOUT, "the tree to start", || {
        (host.recorded_pids().len() >= 3).then_some(())
    });
    let response = host.request(
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": turn}),
    );
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    // turn/completed comes after the runner swept the tree: nothing is left.
    let left: Vec<_> = host
        .recorded_pids()
        .into_iter()
        .filter(|(p, s)| alive(*p, *s))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn failed_turn(script: &str) -> (Vec<Value>, Value) {
    let mut host = Host::fake(&[("s", script)]);
    let turn = host.start_script("s", json!({}));
    let messages = host.until_completed(&turn);
    let completed = messages.last().unwrap()["params"]["turn"].clone();
    host.assert_turn_silent(&turn);
    (messages, completed)
}

#[test]
fn a_backend_that_exits_1_fails_the_turn_with_a_readable_error() {
    let (messages, completed) = failed_turn("start\nmessage working\nexit 1\n");
    assert_eq!(completed["status"], "failed");
    assert_eq!(
        completed["error"]["message"],
        "the backend exited with code 1 without an end-of-turn marker"
    );
    let n = messages.len();
    assert_eq!(messages[n - 3]["params"]["status"]["type"], "systemError");
    assert_eq!(messages[n - 2]["method"], "error");
    assert_eq!(messages[n - 2]["params"]["error"], completed["error"]);
}

#[test]
fn a_failed_turn_carries_the_backends_last_stderr_as_details_without_colours() {
    let script =
        "start\nstderr first words\nstderr \\e[31mnot in a trusted directory\\e[0m\nexit 55\n";
    let (messages, completed) = failed_turn(script);
    let error = &completed["error"];
    assert_eq!(
        error["message"], "the backend exited with code 55 without an end-of-turn marker",
        "{error}"
    );
    assert_eq!(
        error["additionalDetails"], "first words\nnot in a trusted directory",
        "{error}"
    );
    // The `error` notification carries the same details.
    let n = messages.len();
    assert_eq!(messages[n - 2]["params"]["error"], *error);
}

#[test]
fn a_backend_killed_by_a_signal_fails_the_turn() {
    let (_, completed) = failed_turn("start\nmessage working\nkill-self KILL\n");
    assert_eq!(completed["status"], "failed");
    assert_eq!(
        completed["error"]["message"],
        "the backend was killed by signal 9 without an end-of-turn marker"
    );
}

#[test]
fn a_backend_that_closes_stdout_early_is_not_done_until_it_exits() {
    let script = "pid\nstart\nmessage early\nclose-stdout\nsleep 1500\nexit 0\n";
    let mut host = Host::fake(&[("s", script)]);
    let turn = host.start_script("s", json!({}));
    let messages = host.until_completed(&turn);
    let pids = host.recorded_pids();
    assert!(
        !alive(pids[0].0, pids[0].1),
        "turn/completed before the backend exited"
    );
    // No end marker: the turn failed, and says so.
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "failed");
}

#[test]
fn a_backend_that_fails_its_turn_reports_the_backend_message() {
    let (_, completed) = failed_turn("start\nfail upstream said no\n");
    assert_eq!(completed["status"], "failed");
    assert_eq!(completed["error"]["message"], "upstream said no");
}

/// Backends that end on their own after 0 to 64 ms of work: a race rotates through them so
/// that the interrupt lands on both sides of the natural end.
const PACED: [(&str, &str); 5] = [
    ("paced0", "start\nmessage done\ncomplete\n"),
    ("paced1", "start\nmessage done\nsleep 4\ncomplete\n"),
    ("paced2", "start\nmessage done\nsleep 16\ncomplete\n"),
    ("paced3", "start\nmessage done\nsleep 32\ncomplete\n"),
    ("paced4", "start\nmessage done\nsleep 64\ncomplete\n"),
];

/// Races `turn/interrupt` against the natural end of a quick turn, round after round, until
/// each outcome was seen `enough` times or `max_rounds` ran; every round ends exactly once on
/// the wire. Returns (completed, interrupted).
fn race_interrupt_against_the_end(
    host: &mut Host,
    enough: usize,
    max_rounds: usize,
) -> (usize, usize) {
    let (mut completed, mut interrupted) = (0, 0);
    for round in 0..max_rounds {
        if completed >= enough && interrupted >= enough {
            break;
        }
        let turn = host.start_script(PACED[round % PACED.len()].0, json!({}));
        let id = json!(format!("race-{round}"));
        host.server
            .send_json(&json!({"id": id, "method": "turn/interrupt",
            "params": {"threadId": host.thread_id, "turnId": turn}}));
        let messages = host.until_completed(&turn);
        match messages.last().unwrap()["params"]["turn"]["status"].as_str() {
            Some("completed") => completed += 1,
            Some("interrupted") => interrupted += 1,
            other => panic!("round {round}: {other:?}"),
        }
        // The interrupt's answer: `{}` if it came in time, else "no active turn"; nothing of
        // the turn after it (the exactly-once check above read past it already).
        let answered = host.server.wire().iter().any(|r| r.msg["id"] == id);
        if !answered {
            let (response, _) = host
                .server
                .wait_for_response(&id, DEFAULT_TIMEOUT)
                .unwrap_or_else(|(err, got)| panic!("no interrupt answer: {err}: {got:#?}"));
            assert!(response.get("result").is_some() || response.get("error").is_some());
        }
        host.assert_turn_silent(&turn);
    }
    (completed, interrupted)
}

#[test]
fn kill_racing_natural_exit_ends_every_turn_exactly_once() {
    let mut host = Host::fake(&PACED);
    let (completed, interrupted) = race_interrupt_against_the_end(&mut host, 5, 200);
    assert!(
        completed > 0 && interrupted > 0,
        "the race was not hit both ways in 200 rounds: {completed} completed, {interrupted} interrupted"
    );
    let dirs = std::fs::read_dir(
        host.sandbox
            .state_dir()
            .join("threads")
            .join(&host.thread_id)
            .join("turns"),
    )
    .unwrap()
    .count();
    assert_eq!(dirs, completed + interrupted);
}

/// Mutation check: with runners that never let an interrupt win, the race above is never hit
/// both ways, so its assertion fails.
#[test]
fn the_race_check_catches_runners_whose_interrupt_never_wins() {
    let env = BTreeMap::from([(
        "AGENT_HOST_FAULT".to_owned(),
        "interrupt-never-wins".to_owned(),
    )]);
    let mut host = Host::fake_with_env(&PACED, &env);
    let (completed, interrupted) = race_interrupt_against_the_end(&mut host, 5, 20);
    assert_eq!((completed, interrupted), (20, 0));
}

#[test]
fn turn_errors_match_codex() {
    let mut host = Host::fake(&[("long", "start\nsleep 600000\n")]);
    let none = host.request(
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": "x"}),
    );
    assert_eq!(none["error"]["message"], "no active turn to interrupt");
    let steer_none = host.request(
        "turn/steer",
        json!({"threadId": host.thread_id, "input": [], "expectedTurnId": "x"}),
    );
    assert_eq!(steer_none["error"]["message"], "no active turn to steer");
    let unknown = "01a20ce3-9ca8-701a-acf0-0db34183136d";
    let missing = host.request(
        "turn/start",
        json!({"threadId": unknown, "input": [{"type": "text", "text": "hi"}]}),
    );
    assert_eq!(
        missing["error"]["message"],
        format!("thread not found: {unknown}")
    );
    let turn = host.start_script("long", json!({}));
    let wrong = host.request(
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": "other"}),
    );
    assert_eq!(
        wrong["error"]["message"],
        format!("expected active turn id other but found {turn}")
    );
    let huge = "x".repeat(1_048_577);
    let too_big = host.request(
        "turn/start",
        json!({"threadId": host.thread_id, "input": [{"type": "text", "text": huge}]}),
    );
    assert_eq!(too_big["error"]["code"], -32602);
    assert_eq!(too_big["error"]["data"]["actual_chars"], 1_048_577);
    let busy = host.request(
        "turn/start",
        json!({"threadId": host.thread_id, "input": [{"type": "text", "text": "again"}]}),
    );
    assert!(
        busy["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&turn)),
        "{busy}"
    );
    host.request(
        "turn/interrupt",
        json!({"threadId": host.thread_id, "turnId": turn}),
    );
    host.until_completed(&turn);
}

#[test]
fn a_foreground_turn_dies_with_its_server_and_a_background_turn_survives_it() {
    let waits = "pid\nstart\nmessage waiting\nsleep 600000\n";
    let finishes =
        "pid\nstart\nmessage working\nwait-file go\nmessage finished in the background\ncomplete\n";
    let mut host = Host::fake(&[("waits", waits), ("finishes", finishes)]);
    let foreground = host.start_script("waits", json!({}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    // A second thread for the background turn.
    let cwd = host.sandbox.work_dir().display().to_string();
    let other = host.request("thread/start", json!({"cwd": cwd}));
    let other_id = other["result"]["thread"]["id"].as_str().unwrap().to_owned();
    let background = {
        let response = host.request(
            "turn/start",
            json!({"threadId": other_id, "background": true,
                   "input": [{"type": "text", "text": "script:finishes"}]}),
        );
        response["result"]["turn"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    wait_until(TURN_TIMEOUT, "both backends to start", || {
        (host.recorded_pids().len() >= 2).then_some(())
    });
    host.server.kill();
    let pids = host.recorded_pids();
    // The foreground backend goes within the grace periods (plus slack).
    assert_all_gone(&pids[..1], Duration::from_millis(300 + 300 + 2000));
    let state = host.sandbox.state_dir().join("threads");
    let exit_of = |thread: &str, turn: &str| {
        state
            .join(thread)
            .join("turns")
            .join(turn)
            .join("exit.json")
    };
    let foreground_exit = exit_of(&host.thread_id, &foreground);
    wait_until(
        TURN_TIMEOUT,
        "the exit record of the foreground turn",
        || foreground_exit.exists().then_some(()),
    );
    let record: Value = serde_json::from_slice(&std::fs::read(&foreground_exit).unwrap()).unwrap();
    assert_eq!(record["status"], "interrupted");
    assert_eq!(record["reason"], "clientLost");
    // The background turn is still running, held at its gate, with its server dead.
    let background_exit = exit_of(&other_id, &background);
    assert!(!background_exit.exists(), "the background turn ended early");
    assert!(
        alive(pids[1].0, pids[1].1),
        "the background backend died with its server"
    );
    // Released, it finishes on its own, and a new server reads it back.
    host.release("go");
    wait_until(TURN_TIMEOUT, "the background turn to finish", || {
        background_exit.exists().then_some(())
    });
    let record: Value = serde_json::from_slice(&std::fs::read(&background_exit).unwrap()).unwrap();
    assert_eq!(record["status"], "completed");
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    let (read, _) = server.request(
        json!(1),
        "thread/read",
        json!({"threadId": other_id, "includeTurns": true}),
    );
    let turns = &read["result"]["thread"]["turns"];
    assert_eq!(turns[0]["status"], "completed", "{read}");
    let last = turns[0]["items"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["text"], "finished in the background");
}

#[test]
fn a_restarted_server_follows_a_running_background_turn_to_its_end() {
    let script = "start\nmessage started\nwait-file go\nmessage done after the restart\ncomplete\n";
    let mut host = Host::fake(&[("slow", script)]);
    let turn = host.start_script("slow", json!({"background": true}));
    host.server.kill();
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    let (resumed, before) = server.request(
        json!(1),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    assert!(
        before
            .iter()
            .any(|m| m["method"] == "thread/status/changed")
    );
    // Held at its gate until now, the turn can only have been followed, not replayed.
    host.release("go");
    let done = server
        .until_turn_completed(&turn, TURN_TIMEOUT)
        .pop()
        .unwrap();
    assert_eq!(done["params"]["turn"]["status"], "completed");
    assert_eq!(
        done["params"]["turn"]["items"][0]["text"],
        "done after the restart"
    );
}

#[test]
fn another_process_can_stop_a_turn_with_the_same_result_as_interrupt() {
    let mut host = Host::fake(&[("long", "pid\nstart\nmessage waiting\nsleep 600000\n")]);
    let turn = host.start_script("long", json!({}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(["kill", "--state-dir"])
        .arg(host.sandbox.state_dir())
        .arg(&turn)
        .output()
        .expect("run agent-host kill");
    assert!(output.status.success(), "{output:?}");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    let left: Vec<_> = host
        .recorded_pids()
        .into_iter()
        .filter(|(p, s)| alive(*p, *s))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    host.assert_turn_silent(&turn);
}

#[test]
fn a_server_that_starts_ends_turns_whose_runner_died_and_kills_their_leftovers() {
    let mut host = Host::fake(&[("long", "pid\nstart\nmessage waiting\nsleep 600000\n")]);
    let turn = host.start_script("long", json!({"background": true}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    host.server.kill();
    // Kill the runner itself: the backend is orphaned, and nothing wrote an exit record.
    let backend = kill_runner(&host, &turn);
    assert!(
        alive(backend[0].0, backend[0].1),
        "the orphaned backend should still run"
    );
    assert!(!host.turn_dir(&turn).join("exit.json").exists());
    // A new server finds the dead turn, kills its leftovers and records it interrupted.
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    assert_all_gone(&backend, Duration::from_secs(10));
    let exit = host.turn_dir(&turn).join("exit.json");
    wait_until(TURN_TIMEOUT, "recovery to write the exit record", || {
        exit.exists().then_some(())
    });
    let (read, _) = server.request(
        json!(1),
        "thread/read",
        json!({"threadId": host.thread_id, "includeTurns": true}),
    );
    assert_eq!(
        read["result"]["thread"]["turns"][0]["status"], "interrupted",
        "{read}"
    );
    // Its end time is the one recovery recorded (there is no `turnEnded` record).
    let exit: Value = serde_json::from_slice(&std::fs::read(&exit).unwrap()).unwrap();
    assert_eq!(
        read["result"]["thread"]["turns"][0]["completedAt"],
        exit["endedAtMs"].as_i64().unwrap() / 1000,
        "{read}"
    );
    let items = read["result"]["thread"]["turns"][0]["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        items.last().unwrap()["text"],
        "waiting",
        "completed items are kept"
    );
}

/// Kills the runner of `turn` (by its recorded pid, after checking it is the process this
/// test started through the server) and waits until it is gone; returns the turn's backend.
fn kill_runner(host: &Host, turn: &str) -> Vec<(i32, u64)> {
    let process: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(turn).join("process.json")).unwrap())
            .unwrap();
    let runner_pid = process["runner"]["pid"].as_i64().unwrap() as i32;
    let runner_start = process["runner"]["startTime"].as_u64().unwrap();
    assert!(alive(runner_pid, runner_start));
    let status = std::process::Command::new("kill")
        .args(["-KILL", &runner_pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_all_gone(&[(runner_pid, runner_start)], Duration::from_secs(5));
    host.recorded_pids()
}

#[test]
fn a_turn_ended_for_its_dead_runner_reads_back_after_a_restart_with_the_time_it_was_told() {
    let mut host = Host::fake(&[("long", "pid\nstart\nmessage waiting\nsleep 600000\n")]);
    let turn = host.start_script("long", json!({"background": true}));
    host.until_message("the turn's message", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
    });
    let backend = kill_runner(&host, &turn);
    // The server that follows the turn ends it on the runner's behalf: the runner wrote no
    // `turnEnded` record, the server writes `exit.json`.
    let done = host.until_completed(&turn).pop().unwrap();
    assert_eq!(done["params"]["turn"]["status"], "interrupted", "{done}");
    assert_all_gone(&backend, Duration::from_secs(10));
    let read_record = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn).join(name)).unwrap()).unwrap()
    };
    let ended_ms = read_record("exit.json")["endedAtMs"].as_i64().unwrap();
    let started_ms = read_record("turn.json")["startedAtMs"].as_i64().unwrap();
    let events = std::fs::read_to_string(host.turn_dir(&turn).join("events.jsonl")).unwrap();
    assert!(!events.contains("\"turnEnded\""), "{events}");
    let told = &done["params"]["turn"];
    assert_eq!(told["completedAt"], ended_ms / 1000, "{done}");
    assert_eq!(told["durationMs"], ended_ms - started_ms, "{done}");
    // A restarted server reads the turn back with the same end, twice the same way.
    host.server.kill();
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    for id in [1, 2] {
        let (read, _) = server.request(
            json!(id),
            "thread/read",
            json!({"threadId": host.thread_id, "includeTurns": true}),
        );
        let read_turn = &read["result"]["thread"]["turns"][0];
        assert_eq!(read_turn["status"], "interrupted", "{read}");
        assert_eq!(read_turn["completedAt"], told["completedAt"], "{read}");
        assert_eq!(read_turn["durationMs"], told["durationMs"], "{read}");
    }
}

#[test]
fn a_second_server_that_resumes_a_running_thread_gets_the_turn_end_exactly_once() {
    let script = "start\nmessage working\nwait-file go\nmessage the end\ncomplete\n";
    let mut host = Host::fake(&[("slow", script)]);
    let turn = host.start_script("slow", json!({}));
    let mut second = Host::spawn(&host.sandbox);
    second.initialize();
    let (resumed, _) = second.request(
        json!(1),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    host.release("go");
    let first_end = host.until_completed(&turn);
    let mut before = second.until_turn_completed(&turn, TURN_TIMEOUT);
    let done = before.pop().unwrap();
    assert_eq!(done["params"]["turn"]["status"], "completed");
    assert_eq!(done["params"]["turn"]["items"][0]["text"], "the end");
    assert_eq!(
        first_end.last().unwrap()["params"]["turn"]["items"][0]["text"],
        "the end"
    );
    assert!(!before.iter().any(|m| m["method"] == "turn/completed"));
    let (_, after) = second.request(json!(2), "thread/loaded/list", json!({}));
    assert!(!after.iter().any(|m| mentions_turn(m, &turn)), "{after:#?}");
    host.assert_turn_silent(&turn);
}

#[test]
fn a_fork_carries_the_ended_turns_and_is_listed() {
    let mut host = Host::fake(&[("full", FULL)]);
    let turn = host.start_script("full", json!({}));
    host.until_completed(&turn);
    let forked = host.request("thread/fork", json!({"threadId": host.thread_id}));
    let thread = &forked["result"]["thread"];
    assert_eq!(thread["forkedFromId"], host.thread_id.as_str(), "{forked}");
    assert_eq!(thread["turns"][0]["id"], turn.as_str());
    assert_eq!(
        thread["turns"][0]["items"].as_array().map(Vec::len),
        Some(4)
    );
    let fork_id = thread["id"].as_str().unwrap().to_owned();
    let listed = host.request("thread/list", json!({}));
    let ids: Vec<&str> = listed["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(
        ids.contains(&fork_id.as_str()) && ids.contains(&host.thread_id.as_str()),
        "{listed}"
    );
    let excluded = host.request(
        "thread/fork",
        json!({"threadId": host.thread_id, "excludeTurns": true}),
    );
    assert_eq!(excluded["result"]["thread"]["turns"], json!([]));
}

#[test]
fn a_re_attached_turn_still_reports_the_answer_given_before_the_restart() {
    let script = "start\nmessage the answer\nwait-file go\ncomplete\n";
    let mut host = Host::fake(&[("s", script)]);
    let turn = host.start_script("s", json!({"background": true}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    host.server.kill();
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    let (resumed, _) = server.request(
        json!(1),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    host.release("go");
    let done = server
        .until_turn_completed(&turn, TURN_TIMEOUT)
        .pop()
        .unwrap();
    assert_eq!(done["params"]["turn"]["status"], "completed");
    assert_eq!(done["params"]["turn"]["items"][0]["text"], "the answer");
}

/// A second server on the host's state directory, with the host's thread loaded while idle.
fn second_server_on_idle_thread(host: &Host) -> ServerProcess {
    let mut second = Host::spawn(&host.sandbox);
    second.initialize();
    let (resumed, _) = second.request(
        json!("resume"),
        "thread/resume",
        json!({"threadId": host.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "idle",
        "{resumed}"
    );
    second
}

/// Waits for `turn/completed` of `turn`; returns it and what came before.
fn completed_on(server: &mut ServerProcess, turn: &str) -> (Value, Vec<Value>) {
    let mut before = server.until_turn_completed(turn, TURN_TIMEOUT);
    let done = before.pop().unwrap();
    (done, before)
}

/// Nothing more about `turn` arrives at `server` (a request is answered first).
fn silent_on(server: &mut ServerProcess, turn: &str) {
    let (_, before) = server.request(json!("silent"), "thread/loaded/list", json!({}));
    assert!(
        !before.iter().any(|m| mentions_turn(m, turn)),
        "notifications after turn/completed: {before:#?}"
    );
}

fn turn_count(host: &Host) -> usize {
    let dir = host
        .sandbox
        .state_dir()
        .join("threads")
        .join(&host.thread_id)
        .join("turns");
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn a_server_that_did_not_start_the_running_turn_refuses_a_second_one_and_follows_the_first() {
    let script = "start\nmessage working\nwait-file go\nmessage the end\ncomplete\n";
    let mut first = Host::fake(&[("slow", script)]);
    let mut second = second_server_on_idle_thread(&first);
    let turn = first.start_script("slow", json!({}));
    // The second server did not know of the turn: it refuses a new one, naming the running
    // turn, and follows it from now on.
    let input = json!([{"type": "text", "text": "script:slow"}]);
    let (refused, mut seen) = second.request(
        json!("refused"),
        "turn/start",
        json!({"threadId": first.thread_id, "input": input}),
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("a turn is already active on this thread") && message.contains(&turn),
        "{refused}"
    );
    first.release("go");
    let (done, before) = completed_on(&mut second, &turn);
    assert_eq!(done["params"]["turn"]["status"], "completed", "{done}");
    assert_eq!(done["params"]["turn"]["items"][0]["text"], "the end");
    seen.extend(before);
    let statuses: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "thread/status/changed")
        .map(|m| &m["params"]["status"]["type"])
        .collect();
    assert_eq!(statuses, ["active", "idle"], "{seen:#?}");
    first.until_completed(&turn);
    silent_on(&mut second, &turn);
    assert_eq!(turn_count(&first), 1, "only the first server's turn ran");
    // Once it has ended, the second server starts the next turn.
    let (started, _) = second.request(
        json!("next"),
        "turn/start",
        json!({"threadId": first.thread_id, "input": input}),
    );
    let next = started["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let (end, _) = completed_on(&mut second, &next);
    assert_eq!(end["params"]["turn"]["status"], "completed");
}

/// `(started_at_ms, ended_at_ms)` of a turn from its records.
fn turn_span(host: &Host, turn: &str) -> (u64, u64) {
    let dir = host
        .sandbox
        .state_dir()
        .join("threads")
        .join(&host.thread_id)
        .join("turns")
        .join(turn);
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let started = read("turn.json")["startedAtMs"].as_u64().unwrap();
    let ended = read("exit.json")["endedAtMs"].as_u64().unwrap();
    (started, ended)
}

#[test]
fn two_servers_starting_turns_on_one_thread_at_once_never_run_two_together() {
    // Held at its gate until both servers have answered, so the request of the server that
    // lost the race always meets a running turn.
    let script = "start\nmessage working\nwait-file go\nmessage done\ncomplete\n";
    let mut first = Host::fake(&[("quick", script)]);
    let mut second = second_server_on_idle_thread(&first);
    let rounds = 10;
    let mut refusals = 0;
    let mut all_started = Vec::new();
    for round in 0..rounds {
        let id = json!(format!("race-{round}"));
        let request = json!({"id": id, "method": "turn/start", "params": {
            "threadId": first.thread_id,
            "input": [{"type": "text", "text": "script:quick"}]}});
        first.server.send_json(&request);
        second.send_json(&request);
        let mut started = Vec::new();
        for server in [&mut first.server, &mut second] {
            let (response, _) = server
                .wait_for_response(&id, TURN_TIMEOUT)
                .unwrap_or_else(|(err, got)| panic!("round {round}: {err}: {got:#?}"));
            match response["result"]["turn"]["id"].as_str() {
                Some(turn) => started.push(turn.to_owned()),
                None => {
                    let message = response["error"]["message"].as_str().unwrap_or_default();
                    assert!(
                        message.starts_with("a turn is already active on this thread"),
                        "round {round}: {response}"
                    );
                    refusals += 1;
                }
            }
        }
        assert_eq!(started.len(), 1, "round {round}: {started:?}");
        first.release("go");
        // Every turn of the round ends exactly once on both servers (the refusing one
        // follows the other's turn).
        for turn in &started {
            for server in [&mut first.server, &mut second] {
                let (end, _) = completed_on(server, turn);
                assert_eq!(end["params"]["turn"]["status"], "completed", "{end}");
            }
        }
        for server in [&mut first.server, &mut second] {
            for turn in &started {
                silent_on(server, turn);
            }
        }
        all_started.extend(started);
        first.close_gate("go");
    }
    // Never two at once: each turn started after the one before it had ended.
    all_started.sort(); // UUIDv7: start order
    for pair in all_started.windows(2) {
        let (_, ended) = turn_span(&first, &pair[0]);
        let (started, _) = turn_span(&first, &pair[1]);
        assert!(
            started >= ended,
            "turn {} started at {started} before turn {} ended at {ended}",
            pair[1],
            pair[0]
        );
    }
    assert_eq!(turn_count(&first), all_started.len());
    assert_eq!(refusals, rounds, "every round refuses one of the two");
}

#[test]
fn resuming_a_loaded_thread_follows_the_turn_another_server_started() {
    let script = "start\nmessage working\nwait-file go\nmessage the end\ncomplete\n";
    let mut first = Host::fake(&[("slow", script)]);
    let mut second = second_server_on_idle_thread(&first);
    let turn = first.start_script("slow", json!({}));
    let (resumed, mut seen) = second.request(
        json!("again"),
        "thread/resume",
        json!({"threadId": first.thread_id}),
    );
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    first.release("go");
    let (done, before) = completed_on(&mut second, &turn);
    assert_eq!(done["params"]["turn"]["items"][0]["text"], "the end");
    seen.extend(before);
    let statuses: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "thread/status/changed")
        .map(|m| &m["params"]["status"]["type"])
        .collect();
    assert_eq!(statuses, ["active", "idle"], "{seen:#?}");
    first.until_completed(&turn);
    silent_on(&mut second, &turn);
}

#[test]
fn interrupting_a_turn_whose_runner_is_stopped_kills_it_directly() {
    use agent_host::events::ProcessRecord;
    use agent_host::process::identity::{self, SignalOutcome};
    use rustix::process::Signal;

    let script = "pid\nstart\nmessage working\nsleep 600000\n";
    let mut host = Host::fake(&[("hangs", script)]);
    let turn = host.start_script("hangs", json!({}));
    wait_until(TURN_TIMEOUT, "the backend to start", || {
        (!host.recorded_pids().is_empty()).then_some(())
    });
    let process: ProcessRecord =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn).join("process.json")).unwrap())
            .unwrap();
    // A runner that cannot answer: stopped, alive by every identity check.
    assert_eq!(
        identity::signal(&process.runner, Signal::STOP).unwrap(),
        SignalOutcome::Sent
    );
    let thread = host.thread_id.clone();
    let (answer, _) = host.server.request(
        json!("interrupt"),
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn}),
    );
    assert_eq!(answer["result"], json!({}), "{answer}");
    // The server keeps serving meanwhile.
    let (listed, _) = host
        .server
        .request(json!("meanwhile"), "thread/loaded/list", json!({}));
    assert!(listed["result"]["data"].is_array(), "{listed}");
    // The runner's request times out (10 s), then the runner and the backend are killed.
    let done = host
        .server
        .until_turn_completed(&turn, Duration::from_secs(40))
        .pop()
        .unwrap();
    assert_eq!(done["params"]["turn"]["status"], "interrupted", "{done}");
    assert!(!identity::is_alive(&process.runner), "the runner lives on");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(5));
    host.assert_turn_silent(&turn);
}

/// The `-32602` message of a `turn/start` refused because of its input.
fn refused_input(host: &mut Host, input: Value) -> String {
    let response = host.request(
        "turn/start",
        json!({"threadId": host.thread_id, "input": input}),
    );
    assert_eq!(response["error"]["code"], -32602, "{response}");
    response["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn local_images_are_checked_first_and_named_in_a_jsonl_prompt() {
    let mut host = Host::fake(&[("echo", "start\necho-prompt\ncomplete\n")]);
    let root = host.sandbox.root().to_path_buf();
    let image = root.join("a pic.png");
    std::fs::write(&image, b"not really a png").unwrap();
    let text = json!({"type": "text", "text": "script:echo"});

    let relative = refused_input(
        &mut host,
        json!([text, {"type": "localImage", "path": "a pic.png"}]),
    );
    assert_eq!(
        relative,
        "Invalid params for `turn/start`: `input[1].path` must be an absolute path, found \"a pic.png\""
    );
    let missing = root.join("missing.png");
    let not_found = refused_input(
        &mut host,
        json!([{"type": "localImage", "path": missing}, text]),
    );
    assert_eq!(
        not_found,
        format!(
            "Invalid params for `turn/start`: `input[0].path` cannot be read: {:?}: No such file \
             or directory (os error 2)",
            missing.display().to_string()
        )
    );
    let directory = refused_input(
        &mut host,
        json!([text, {"type": "localImage", "path": root}]),
    );
    assert_eq!(
        directory,
        format!(
            "Invalid params for `turn/start`: `input[1].path` is not a file: {:?}",
            root.display().to_string()
        )
    );
    // Nothing started: no turn directory was made.
    let turns = host
        .sandbox
        .state_dir()
        .join("threads")
        .join(&host.thread_id)
        .join("turns");
    assert_eq!(
        std::fs::read_dir(&turns).map(|d| d.count()).unwrap_or(0),
        0,
        "a refused turn left a directory"
    );

    // A jsonl backend gets each image as a line of its prompt, in input order.
    let response = host.request(
        "turn/start",
        json!({"threadId": host.thread_id, "input": [
            text,
            {"type": "localImage", "path": image, "detail": "low"},
            {"type": "image", "url": "https://example.com/cat.png"},
        ]}),
    );
    let turn = response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("turn/start failed: {response}"))
        .to_owned();
    let messages = host.until_completed(&turn);
    let echoed: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "item/completed")
        .map(|m| &m["params"]["item"])
        .filter(|item| item["type"] == "agentMessage")
        .collect();
    assert_eq!(echoed.len(), 1, "{messages:#?}");
    assert_eq!(
        echoed[0]["text"],
        format!(
            "script:echo\n[image: {}]\n[image: https://example.com/cat.png]",
            image.display()
        )
    );
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec.get("images"), None, "{spec}");
}

#[test]
fn a_comma_in_an_image_path_is_refused_only_where_codex_would_split_it() {
    let mut host = Host::fake(&[("echo", "start\necho-prompt\ncomplete\n")]);
    let image = host.sandbox.root().join("a,b.png");
    std::fs::write(&image, b"png").unwrap();
    let input = json!([
        {"type": "text", "text": "script:echo"},
        {"type": "localImage", "path": image},
    ]);
    // The jsonl thread takes it: the path is a line of the prompt.
    let response = host.request(
        "turn/start",
        json!({"threadId": host.thread_id, "input": input}),
    );
    let turn = response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("turn/start failed: {response}"))
        .to_owned();
    let completed = host.until_completed(&turn);
    assert_eq!(
        completed.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    // A codex thread would pass it to `--image`, which splits at commas.
    let cwd = host.sandbox.work_dir().display().to_string();
    let started = host.request(
        "thread/start",
        json!({"cwd": cwd, "modelProvider": "codexlike"}),
    );
    host.thread_id = started["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/start failed: {started}"))
        .to_owned();
    let refused = refused_input(&mut host, input);
    assert_eq!(
        refused,
        format!(
            "Invalid params for `turn/start`: `input[1].path` contains a comma, which `codex exec \
             --image` reads as a separator between paths: {:?}",
            image.display().to_string()
        )
    );
}

/// Starts a thread on `provider` with `extra` params and makes it the host's thread.
fn switch_thread(host: &mut Host, provider: &str, extra: Value) {
    let mut params =
        json!({"cwd": host.sandbox.work_dir().display().to_string(), "modelProvider": provider});
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    let started = host.request("thread/start", params);
    host.thread_id = started["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/start failed: {started}"))
        .to_owned();
}

/// Runs script `name` as one turn to completion; returns its agent messages and its spec.
fn completed_turn_texts(host: &mut Host, name: &str) -> (Vec<String>, Value) {
    let turn = host.start_script(name, json!({}));
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{messages:#?}"
    );
    let texts = messages
        .iter()
        .filter(|m| m["method"] == "item/completed")
        .map(|m| &m["params"]["item"])
        .filter(|item| item["type"] == "agentMessage")
        .filter_map(|item| item["text"].as_str().map(str::to_owned))
        .collect();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn).join("spec.json")).unwrap())
            .unwrap();
    (texts, spec)
}

#[test]
fn a_continued_thread_starts_with_args_and_resumes_with_resume_args() {
    let mut host = Host::fake(&[("session", "start sess-41\necho-session\ncomplete\n")]);
    // The provider has continue_session = true: the thread continues its session.
    switch_thread(&mut host, "resuming", json!({}));

    // Turn 1: no session yet, so `args`.
    let (texts, spec) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["fresh"]);
    assert_eq!(spec["provider"]["args"], json!(["{prompt}"]), "{spec}");
    assert_eq!(spec["resumeSessionId"], Value::Null, "{spec}");
    let record: Value = serde_json::from_slice(
        &std::fs::read(
            host.sandbox
                .state_dir()
                .join("threads")
                .join(&host.thread_id)
                .join("thread.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(record["backendSessionId"], "sess-41", "{record}");

    // Turn 2: the recorded session, so `resume_args` with it.
    let (texts, spec) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["resumed sess-41"]);
    assert_eq!(
        spec["provider"]["args"],
        json!(["--resume", "{session}", "{prompt}"]),
        "{spec}"
    );
    assert_eq!(spec["resumeSessionId"], "sess-41", "{spec}");

    // A thread of the same provider that opts out never resumes.
    switch_thread(&mut host, "resuming", json!({"continueSession": false}));
    for _ in 0..2 {
        let (texts, spec) = completed_turn_texts(&mut host, "session");
        assert_eq!(texts, ["fresh"]);
        assert_eq!(spec["provider"]["args"], json!(["{prompt}"]), "{spec}");
    }
}

#[test]
fn a_session_placeholder_in_args_stops_the_server_at_start_naming_the_key() {
    let sandbox = Sandbox::new();
    let config = sandbox.root().join("session.toml");
    std::fs::write(
        &config,
        "[providers.mine]\nkind = \"jsonl\"\ncommand = \"my-agent\"\nargs = [\"--resume\", \"{session}\", \"{prompt}\"]\n",
    )
    .unwrap();
    let mut server =
        ServerProcess::spawn(&sandbox.agent_host_spec(Some(&config), &[], &BTreeMap::new()));
    let status = server
        .wait_exit(DEFAULT_TIMEOUT)
        .expect("the server exits on a bad configuration");
    assert_eq!(status.code(), Some(2));
    let stderr = server.stderr_to_end(DEFAULT_TIMEOUT).expect("stderr ends");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "agent-host: configuration: config file {}, line 4, column 21: \
             providers.mine.args[1]: {{session}} cannot be used in args: they also start a \
             thread's first turn, which has no session yet; put the command line that resumes a \
             session in resume_args",
            config.display()
        )
    );
}

#[test]
fn continue_session_is_refused_for_a_provider_that_cannot_resume() {
    let mut host = Host::fake(&[]);
    let cwd = host.sandbox.work_dir().display().to_string();
    let expected = "`continueSession`: provider `fake` cannot resume a session; give it \
                    `resume_args` (kinds codex, claude and gemini with empty args resume on their own)";
    let started = host.request(
        "thread/start",
        json!({"cwd": cwd, "modelProvider": "fake", "continueSession": true}),
    );
    assert_eq!(started["error"]["code"], -32602, "{started}");
    assert_eq!(
        started["error"]["message"],
        format!("Invalid params for `thread/start`: {expected}"),
        "{started}"
    );
    let thread = host.thread_id.clone();
    for method in ["thread/resume", "thread/fork"] {
        let refused = host.request(method, json!({"threadId": thread, "continueSession": true}));
        assert_eq!(
            refused["error"]["message"],
            format!("Invalid params for `{method}`: {expected}"),
            "{refused}"
        );
    }
    // Asking not to continue is always fine.
    let resumed = host.request(
        "thread/resume",
        json!({"threadId": thread, "continueSession": false}),
    );
    assert!(resumed["result"]["thread"].is_object(), "{resumed}");
}

#[test]
fn thread_resume_and_fork_set_continue_session() {
    let mut host = Host::fake(&[("session", "start sess-41\necho-session\ncomplete\n")]);
    switch_thread(&mut host, "resuming", json!({"continueSession": false}));
    let (texts, _) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["fresh"]);
    // Resume turns continuation on (stored: a new server sees it too).
    let thread = host.thread_id.clone();
    host.request(
        "thread/resume",
        json!({"threadId": thread, "continueSession": true}),
    );
    // The next turn resumes the session the last turn announced (its log keeps it, also
    // while continuation was off).
    let (texts, spec) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["resumed sess-41"]);
    assert_eq!(spec["resumeSessionId"], "sess-41", "{spec}");
    // A fork that opts out starts fresh, and the parent keeps continuing.
    let forked = host.request(
        "thread/fork",
        json!({"threadId": thread, "continueSession": false}),
    );
    let fork = forked["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{forked}"))
        .to_owned();
    host.thread_id = fork;
    let (texts, _) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["fresh"]);
    host.thread_id = thread;
    let (texts, _) = completed_turn_texts(&mut host, "session");
    assert_eq!(texts, ["resumed sess-41"]);
}

/// The texts of the completed agent messages among `messages`.
fn agent_texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .map(|m| {
            m["params"]["item"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn provider_secrets_reach_the_backend_but_no_file_and_turn_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut host = Host::fake(&[(
        "env",
        "start\necho-env FAKE_SECRET\necho-env AGENT_HOST_TURN\necho-env AGENT_HOST_PROVIDER_ENV\ncomplete\n",
    )]);
    let turn = host.start_script("env", json!({}));
    let messages = host.until_completed(&turn);
    assert_eq!(
        agent_texts(&messages),
        [
            PROVIDER_SECRET.to_owned(),
            turn.clone(),
            "unset AGENT_HOST_PROVIDER_ENV".to_owned()
        ],
        "the backend gets the provider's env and the turn's marker, not the runner's channel"
    );
    let dir = host.turn_dir(&turn);
    let spec = std::fs::read_to_string(dir.join("spec.json")).unwrap();
    assert!(
        !spec.contains(PROVIDER_SECRET),
        "the secret is in spec.json: {spec}"
    );
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let names = spec["provider"]["env"].as_array().expect("env names");
    assert!(names.contains(&json!("FAKE_SECRET")), "{spec}");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let name = entry.file_name().to_string_lossy().into_owned();
        let expected = if meta.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{name} has mode {mode:o}");
        let text = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(PROVIDER_SECRET)
                || name.starts_with("events")
                || name.starts_with("backend.stdout"),
            "{name} holds the secret"
        );
        checked.push(name);
    }
    for wanted in [
        "spec.json",
        "turn.json",
        "process.json",
        "exit.json",
        "events.jsonl",
    ] {
        assert!(
            checked.iter().any(|n| n == wanted),
            "{wanted} not among {checked:?}"
        );
    }
}

#[test]
fn turn_start_refuses_a_cwd_that_is_not_an_absolute_directory() {
    let mut host = Host::fake(&[("quick", "start\ncomplete\n")]);
    let thread = host.thread_id.clone();
    let missing = host
        .sandbox
        .root()
        .join("no/such/dir")
        .display()
        .to_string();
    for (cwd, why) in [
        ("relative/dir".to_owned(), "is not an absolute path"),
        (missing.clone(), "is not a directory"),
    ] {
        let response = host.request(
            "turn/start",
            json!({"threadId": thread, "cwd": cwd,
                   "input": [{"type": "text", "text": "script:quick"}]}),
        );
        assert_eq!(
            response["error"],
            json!({"code": -32602,
                   "message": format!("Invalid params for `turn/start`: `cwd` {why}: {cwd}")}),
            "{response}"
        );
    }
    // Nothing was started: the thread takes a turn at once.
    let turn = host.start_script("quick", json!({}));
    host.until_completed(&turn);
}

/// A host whose thread is ephemeral (its turns live under `<state>/ephemeral/`).
fn ephemeral_host(scripts: &[(&str, &str)]) -> Host {
    let mut host = Host::fake(scripts);
    let cwd = host.sandbox.work_dir().display().to_string();
    let started = host.request("thread/start", json!({"cwd": cwd, "ephemeral": true}));
    assert_eq!(started["result"]["thread"]["ephemeral"], true, "{started}");
    host.thread_id = started["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    host
}

fn agent_host_command(args: &[&str], state: &std::path::Path) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("run agent-host");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_turn_of_an_ephemeral_thread_is_listed_and_stopped_from_outside() {
    let mut host = ephemeral_host(&[("long", "pid\nstart\nmessage waiting\nsleep 600000\n")]);
    let turn = host.start_script("long", json!({}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    let state = host.sandbox.state_dir();
    let (ok, stdout, stderr) = agent_host_command(&["turns"], &state);
    assert!(ok, "{stderr}");
    let listed: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{stdout}");
    assert_eq!(listed[0]["turnId"], turn.as_str());
    assert_eq!(listed[0]["state"], "running");
    let dir = listed[0]["dir"].as_str().unwrap();
    assert!(
        dir.starts_with(&state.join("ephemeral").display().to_string()),
        "{dir}"
    );
    let (ok, stdout, stderr) = agent_host_command(&["kill", &turn], &state);
    assert!(ok, "{stderr}");
    let exit: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(exit["status"], "interrupted", "{exit}");
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(5));
}

#[test]
fn a_restarted_server_recovers_a_turn_of_an_ephemeral_thread_whose_runner_died() {
    let mut host = ephemeral_host(&[("long", "pid\nstart\nmessage waiting\nsleep 600000\n")]);
    let turn = host.start_script("long", json!({"background": true}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    host.server.kill();
    let dir = host
        .sandbox
        .state_dir()
        .join("ephemeral")
        .join(&host.thread_id)
        .join(&turn);
    let process: Value =
        serde_json::from_slice(&std::fs::read(dir.join("process.json")).unwrap()).unwrap();
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    assert!(alive(runner.0, runner.1));
    // By pid, a process this test started (through the server), its identity checked above.
    let status = std::process::Command::new("kill")
        .args(["-KILL", &runner.0.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_all_gone(&[runner], Duration::from_secs(5));
    let backend = host.recorded_pids();
    assert!(
        alive(backend[0].0, backend[0].1),
        "the orphan should still run"
    );
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    assert_all_gone(&backend, Duration::from_secs(10));
    let exit = dir.join("exit.json");
    wait_until(TURN_TIMEOUT, "recovery to write the exit record", || {
        exit.exists().then_some(())
    });
    let exit: Value = serde_json::from_slice(&std::fs::read(&exit).unwrap()).unwrap();
    assert_eq!(exit["status"], "interrupted", "{exit}");
}

/// Mutation checks (`docs/testing.md`): a server deliberately broken through its test hook
/// `AGENT_HOST_FAULT` is caught by the exactly-once check every turn test runs.
#[test]
fn the_exactly_once_check_catches_a_second_completion_and_an_item_after_it() {
    for (fault, expected) in [
        ("second-turn-completed", "2 turn/completed"),
        ("item-after-turn-completed", "after its turn/completed"),
    ] {
        let env = BTreeMap::from([("AGENT_HOST_FAULT".to_owned(), fault.to_owned())]);
        let mut host = Host::fake_with_env(&[("quick", "start\nmessage hi\ncomplete\n")], &env);
        let turn = host.start_script("quick", json!({}));
        let err = host
            .server
            .check_turn_ended_once(&turn, TURN_TIMEOUT, crate::support::process::QUIET)
            .expect_err(fault);
        assert!(err.contains(expected), "{fault}: {err}");
    }
    // The same check passes on the server as built.
    let mut host = Host::fake(&[("quick", "start\nmessage hi\ncomplete\n")]);
    let turn = host.start_script("quick", json!({}));
    host.server
        .check_turn_ended_once(&turn, TURN_TIMEOUT, crate::support::process::QUIET)
        .unwrap();
}
