//! `thread/delete` end to end on the fake agent: what runs is stopped (the whole process
//! tree, the turn ended once), then the thread is gone from every view, from disk and from
//! the other servers on the state directory.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::process::QUIET;
use crate::support::procs::{alive, assert_all_gone};
use crate::support::{DEFAULT_TIMEOUT, ServerProcess, wait_until};

/// A backend with a tool in a session of its own that ignores SIGTERM: a tree that only a
/// sweep of the whole turn ends.
const TREE: &str = "pid\nstart\nmessage working\nchild tool.txt\nsleep 600000\n";
const TOOL: &str = "setsid\nignore TERM\npid\nsleep 600000\n";

/// The runner of a turn, as (pid, start time) from its process record.
fn runner_of(dir: &std::path::Path) -> (i32, u64) {
    let process: Value =
        serde_json::from_slice(&std::fs::read(dir.join("process.json")).unwrap()).unwrap();
    (
        process["runner"]["pid"].as_i64().unwrap() as i32,
        process["runner"]["startTime"].as_u64().unwrap(),
    )
}

fn thread_dir(host: &Host, thread: &str) -> PathBuf {
    host.sandbox.state_dir().join("threads").join(thread)
}

/// Asserts that `server` finds the thread nowhere: not listed, not readable, not resumable.
fn assert_unknown(server: &mut ServerProcess, thread: &str, first_id: i64) {
    let (listed, _) = server.request(json!(first_id), "thread/list", json!({}));
    assert_eq!(listed["result"]["data"], json!([]), "{listed}");
    let (read, _) = server.request(
        json!(first_id + 1),
        "thread/read",
        json!({"threadId": thread}),
    );
    assert_eq!(
        read["error"]["message"],
        format!("thread not loaded: {thread}"),
        "{read}"
    );
    let (resumed, _) = server.request(
        json!(first_id + 2),
        "thread/resume",
        json!({"threadId": thread}),
    );
    assert_eq!(
        resumed["error"]["message"],
        format!("no rollout found for thread id {thread}"),
        "{resumed}"
    );
}

/// Waits (bounded) until the backend and its tool have recorded themselves.
fn wait_for_tree(host: &mut Host) {
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["text"] == "working"
        })
        .unwrap_or_else(|(err, got)| panic!("no message: {err}: {got:#?}"));
    wait_until(TURN_TIMEOUT, "the backend and its tool to start", || {
        (host.recorded_pids().len() >= 2).then_some(())
    });
}

#[test]
fn deleting_a_thread_with_a_running_turn_stops_its_tree_once_and_removes_it_everywhere() {
    let mut host = Host::fake(&[("tree", TREE), ("tool", TOOL)]);
    let thread = host.thread_id.clone();
    let turn = host.start_script("tree", json!({}));
    wait_for_tree(&mut host);
    let runner = runner_of(&host.turn_dir(&turn));
    // A second server on the state directory follows the same thread.
    let mut second = Host::spawn(&host.sandbox);
    second.initialize();
    let (resumed, _) = second.request(json!(1), "thread/resume", json!({"threadId": thread}));
    assert_eq!(resumed["result"]["thread"]["status"]["type"], "active");

    let (deleted, before) =
        host.server
            .request(json!(100), "thread/delete", json!({"threadId": thread}));
    assert_eq!(deleted["result"], json!({}), "{deleted}");
    let order: Vec<(&str, &Value)> = before
        .iter()
        .map(|m| {
            (
                m["method"].as_str().unwrap_or(""),
                &m["params"]["status"]["type"],
            )
        })
        .collect();
    assert_eq!(
        order[order.len() - 3..],
        [
            ("thread/status/changed", &json!("idle")),
            ("turn/completed", &Value::Null),
            ("thread/status/changed", &json!("notLoaded")),
        ],
        "{before:#?}"
    );
    let completed = &before[before.len() - 2]["params"]["turn"];
    assert_eq!(
        (&completed["id"], &completed["status"]),
        (&json!(turn), &json!("interrupted"))
    );
    // The turn's tree was swept before its end was reported: nothing of it is left.
    let pids = host.recorded_pids();
    let left: Vec<_> = pids.iter().filter(|(p, s)| alive(*p, *s)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_all_gone(&[runner], Duration::from_secs(5));
    let (notice, _) = host
        .server
        .wait_for(DEFAULT_TIMEOUT, |m| m["method"] == "thread/deleted")
        .unwrap_or_else(|(err, got)| panic!("no thread/deleted: {err}: {got:#?}"));
    assert_eq!(notice["params"]["threadId"], thread.as_str());
    host.server
        .check_turn_ended_once(&turn, TURN_TIMEOUT, QUIET)
        .unwrap_or_else(|err| panic!("{err}"));

    // Gone from disk, and from this server's every view.
    assert!(!thread_dir(&host, &thread).exists());
    let trash = host.sandbox.state_dir().join("trash");
    assert_eq!(std::fs::read_dir(&trash).unwrap().count(), 0);
    assert_unknown(&mut host.server, &thread, 101);
    // The second server saw the turn end once, and no longer has the thread.
    second
        .check_turn_ended_once(&turn, TURN_TIMEOUT, QUIET)
        .unwrap_or_else(|err| panic!("second server: {err}"));
    assert_unknown(&mut second, &thread, 10);
    let (started, _) = second.request(
        json!(20),
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": "script:tree"}]}),
    );
    assert_eq!(
        started["error"]["message"],
        format!("thread not found: {thread}"),
        "{started}"
    );
    // A server started afterwards does not see it either.
    let mut third = Host::spawn(&host.sandbox);
    third.initialize();
    assert_unknown(&mut third, &thread, 1);
}

#[test]
fn deleting_a_thread_whose_background_turn_outlived_its_server_stops_that_turn_too() {
    let mut host = Host::fake(&[("tree", TREE), ("tool", TOOL)]);
    let thread = host.thread_id.clone();
    let turn = host.start_script("tree", json!({"background": true}));
    wait_for_tree(&mut host);
    let runner = runner_of(&host.turn_dir(&turn));
    host.server.kill();
    let pids = host.recorded_pids();
    assert!(
        pids.iter().all(|(p, s)| alive(*p, *s)),
        "the background turn died with its server"
    );
    // A new server, which has not loaded the thread, deletes it.
    let mut server = Host::spawn(&host.sandbox);
    server.initialize();
    let (deleted, before) = server.request(json!(1), "thread/delete", json!({"threadId": thread}));
    assert_eq!(deleted["result"], json!({}), "{deleted}");
    assert!(before.is_empty(), "{before:#?}");
    let left: Vec<_> = pids.iter().filter(|(p, s)| alive(*p, *s)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_all_gone(&[runner], Duration::from_secs(5));
    let (notice, _) = server
        .wait_for(DEFAULT_TIMEOUT, |m| m["method"] == "thread/deleted")
        .unwrap_or_else(|(err, got)| panic!("no thread/deleted: {err}: {got:#?}"));
    assert_eq!(notice["params"]["threadId"], thread.as_str());
    assert!(!thread_dir(&host, &thread).exists());
    assert_unknown(&mut server, &thread, 2);
}
