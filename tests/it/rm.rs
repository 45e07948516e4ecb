//! `agent-host rm`: a thread deleted from the command line is gone from disk and from every
//! view; what still ran of it was stopped once, whole; a thread a running server has loaded
//! is refused unless `--force`; a turn whose completion notice still runs is never deleted;
//! bad names delete nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::ops::{agent_host, agent_host_json, assert_fails, notice_config, runs_of};
use crate::support::procs::{alive, assert_all_gone};
use crate::support::{DEFAULT_TIMEOUT, Describe, Sandbox, ServerProcess, wait_until};

const ANSWER: &str = "start\nmessage looking\nmessage the answer\ncomplete\n";
/// A backend with a tool in a session of its own that ignores SIGTERM: a tree that only a
/// sweep of the whole turn ends.
const TREE: &str = "pid\nstart\nmessage working\nchild tool.txt\nsleep 600000\n";
const TOOL: &str = "setsid\nignore TERM\npid\nsleep 600000\n";

/// Ends the host's server (SIGKILL) and waits until it is gone: it holds no thread loaded.
fn stop_server(server: &mut ServerProcess) {
    server.kill();
    assert!(
        server.wait_exit(DEFAULT_TIMEOUT).is_some(),
        "the server exits"
    );
}

fn thread_dir(host: &Host, thread: &str) -> std::path::PathBuf {
    host.sandbox.state_dir().join("threads").join(thread)
}

/// The ids `thread/list` gives on `server`.
fn listed(server: &mut ServerProcess, id: i64) -> Vec<String> {
    let (list, _) = server.request(json!(id), "thread/list", json!({}));
    list["result"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The thread ids `agent-host threads --json` lists.
fn threads(host: &Host) -> Vec<String> {
    let rows = agent_host_json(&host.sandbox.state_dir(), &["threads", "--json"]);
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row["threadId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rm_deletes_an_idle_thread_from_disk_from_threads_and_from_a_servers_list() {
    let mut host = Host::fake(&[("answer", ANSWER)]);
    let thread = host.thread_id.clone();
    host.completed_turn("script:answer");
    stop_server(&mut host.server);
    let mut other = Host::spawn(&host.sandbox);
    other.initialize();
    assert_eq!(listed(&mut other, 1), [thread.as_str()]);
    assert_eq!(threads(&host), [thread.as_str()]);

    // The start of the id names it.
    let cli = agent_host(&host.sandbox.state_dir(), &["rm", &thread[..30]]);
    assert_eq!(cli.code, Some(0), "{cli:?}");
    assert_eq!(cli.stdout, format!("deleted thread {thread}\n"));
    assert_eq!(cli.stderr, "");

    assert!(!thread_dir(&host, &thread).exists());
    let trash = host.sandbox.state_dir().join("trash");
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
    assert!(threads(&host).is_empty());
    // The server that was running all along no longer lists or reads it.
    assert!(listed(&mut other, 2).is_empty());
    let (read, _) = other.request(json!(3), "thread/read", json!({"threadId": thread}));
    assert_eq!(
        read["error"]["message"],
        format!("thread not loaded: {thread}"),
        "{read}"
    );
    let again = agent_host(&host.sandbox.state_dir(), &["rm", &thread]);
    assert_fails(&again, 2, &format!("no thread or turn {thread}"));
}

#[test]
fn rm_stops_a_running_background_turn_whole_and_once_before_deleting_it() {
    let mut host = Host::fake_with_config(&[("tree", TREE), ("tool", TOOL)], &notice_config(""));
    let thread = host.thread_id.clone();
    let turn = host.start_script("tree", json!({"background": true}));
    host.until_message("the agent's message", |m| {
        m["method"] == "item/completed" && m["params"]["item"]["text"] == "working"
    });
    wait_until(TURN_TIMEOUT, "the backend and its tool to start", || {
        (host.recorded_pids().len() >= 2).then_some(())
    });
    let process = host.process_record(&turn);
    let runner = (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    );
    stop_server(&mut host.server);
    let pids = host.recorded_pids();
    assert!(
        pids.iter().all(|(p, s)| alive(*p, *s)),
        "the turn outlived its server"
    );

    let deleted = agent_host_json(&host.sandbox.state_dir(), &["rm", "--json", &thread]);
    assert_eq!(
        deleted,
        json!([{"threadId": thread, "deleted": true, "stoppedTurns": [turn], "error": null}])
    );
    // The whole tree was swept before the turn ended, and it ended before the thread went.
    let left: Vec<_> = pids.iter().filter(|(p, s)| alive(*p, *s)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_all_gone(&[runner], Duration::from_secs(5));
    assert!(!thread_dir(&host, &thread).exists());
    // It ended once: its notice ran once, as interrupted, and had ended before the deletion.
    let ran = runs_of(&host.sandbox.work_dir(), &turn);
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(ran[0].status, "interrupted");
    assert_eq!(ran[0].thread, thread);
    assert!(threads(&host).is_empty());
}

#[test]
fn rm_refuses_a_thread_a_running_server_has_loaded_unless_forced() {
    let mut host = Host::fake(&[("answer", ANSWER)]);
    let thread = host.thread_id.clone();
    let state = host.sandbox.state_dir();
    host.completed_turn("script:answer");
    let refused = agent_host(&state, &["rm", &thread]);
    assert_fails(
        &refused,
        1,
        &format!("thread {thread} is loaded by a running agent-host server"),
    );
    assert!(refused.stderr.contains("--force"), "{refused:?}");
    assert!(thread_dir(&host, &thread).join("thread.json").exists());
    assert_eq!(
        host.read_thread()["result"]["thread"]["id"],
        thread.as_str()
    );

    // Another server resumes it; the first goes away: the second still holds it.
    let mut other = Host::spawn(&host.sandbox);
    other.initialize();
    let (resumed, _) = other.request(json!(1), "thread/resume", json!({"threadId": thread}));
    assert_eq!(
        resumed["result"]["thread"]["id"],
        thread.as_str(),
        "{resumed}"
    );
    stop_server(&mut host.server);
    let json = agent_host(&state, &["rm", "--json", &thread]);
    assert_eq!(json.code, Some(1), "{json:?}");
    let outcome: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(outcome[0]["deleted"], false, "{outcome}");
    assert!(
        outcome[0]["error"]
            .as_str()
            .unwrap()
            .contains("is loaded by a running agent-host server"),
        "{outcome}"
    );
    assert!(thread_dir(&host, &thread).join("thread.json").exists());

    let forced = agent_host(&state, &["rm", "--force", &thread]);
    assert_eq!(forced.code, Some(0), "{forced:?}");
    assert_eq!(forced.stdout, format!("deleted thread {thread}\n"));
    assert!(!thread_dir(&host, &thread).exists());
    assert!(listed(&mut other, 2).is_empty());
    // Once its last server is gone, a thread is not refused any more.
    let mut host = Host::fake(&[("answer", ANSWER)]);
    let second = host.thread_id.clone();
    stop_server(&mut host.server);
    let cli = agent_host(&host.sandbox.state_dir(), &["rm", &second]);
    assert_eq!(cli.code, Some(0), "{cli:?}");
}

#[test]
fn rm_never_deletes_a_turn_whose_notice_is_still_running() {
    let mut host = Host::fake_with_config(&[("hang", ANSWER)], &notice_config(""));
    let thread = host.thread_id.clone();
    let state = host.sandbox.state_dir();
    let turn = host.start_script("hang", json!({"background": true}));
    host.until_completed(&turn);
    stop_server(&mut host.server);
    let dir = host.turn_dir(&turn);
    let notice = |dir: &std::path::Path| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(dir.join("notify.json")).ok()?).ok()
    };
    let started = wait_until(
        TURN_TIMEOUT,
        Describe(|| format!("the notice program to start: {:?}", notice(&dir))),
        || notice(&dir).filter(|record| record["state"] == "started"),
    );

    let refused = agent_host(&state, &["rm", "--timeout-ms", "300", &thread]);
    assert_fails(
        &refused,
        1,
        &format!("the completion notice of turn {turn} has not finished (it is started)"),
    );
    assert!(dir.join("exit.json").exists(), "the turn is still there");
    let program = (
        started["program"]["pid"].as_i64().unwrap() as i32,
        started["program"]["startTime"].as_u64().unwrap(),
    );
    assert!(alive(program.0, program.1), "the program was left alone");
    assert_eq!(notice(&dir).unwrap()["state"], "started");

    // The program ends (killed here, as its timeout would): the notice ends, rm deletes.
    let status = std::process::Command::new("kill")
        .args(["-KILL", &program.0.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deleted = agent_host(&state, &["rm", &thread]);
    assert_eq!(deleted.code, Some(0), "{deleted:?}");
    assert!(!thread_dir(&host, &thread).exists());
    assert_eq!(runs_of(&host.sandbox.work_dir(), &turn).len(), 1);
}

#[test]
fn rm_of_a_bad_name_fails_with_one_clear_line_and_deletes_nothing() {
    let missing = Sandbox::new().state_dir().join("never-made");
    assert_fails(
        &agent_host(&missing, &["rm", "0190"]),
        2,
        "no state directory at",
    );
    assert!(!missing.exists());

    let mut host = Host::fake(&[("answer", ANSWER)]);
    let thread = host.thread_id.clone();
    let state = host.sandbox.state_dir();
    let (turn, _) = host.completed_turn("script:answer");
    stop_server(&mut host.server);
    let unknown = "01900000-0000-7000-8000-000000000000";
    assert_fails(
        &agent_host(&state, &["rm", unknown]),
        2,
        &format!("no thread or turn {unknown}"),
    );
    // Every UUIDv7 of this decade starts with 0: the thread and its turn both match.
    assert_fails(
        &agent_host(&state, &["rm", "0"]),
        2,
        "0 is ambiguous: it starts 2 ids",
    );
    assert_fails(
        &agent_host(&state, &["rm", &turn]),
        2,
        &format!("{turn} is a turn, not a thread (its thread is {thread})"),
    );
    assert_fails(
        &agent_host(&state, &["rm", "../etc"]),
        2,
        "is not a thread or turn id",
    );
    // A good name beside a bad one: nothing is deleted.
    assert_fails(
        &agent_host(&state, &["rm", &thread, unknown]),
        2,
        &format!("no thread or turn {unknown}"),
    );
    assert!(thread_dir(&host, &thread).join("thread.json").exists());
    let none = agent_host(&state, &["rm"]);
    assert_eq!(none.code, Some(2), "{none:?}");
    assert!(none.stderr.contains("THREAD"), "{none:?}");
}
