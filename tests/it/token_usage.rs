//! `thread/tokenUsage/updated.total` counts the whole thread, as in Codex: fresh backend
//! sessions add up, a continued session is not counted twice, and the total survives a
//! restart, a re-attached background turn, a fork and an ephemeral thread.
//!
//! The fake agent prints the usage each script gives it (`line` steps), as a codex backend
//! does: the cumulative figure of its session.

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::{DEFAULT_TIMEOUT, wait_until};

/// A turn that starts backend session `session` and reports the session's cumulative usage.
fn script(session: &str, input: u64, cached: u64, output: u64, reasoning: u64) -> String {
    format!(
        "start {session}\nmessage done\nline {{\"type\":\"turn.completed\",\"usage\":{{\"input_tokens\":{input},\"cached_input_tokens\":{cached},\"output_tokens\":{output},\"reasoning_output_tokens\":{reasoning}}}}}\n"
    )
}

/// `(totalTokens, inputTokens, cachedInputTokens, outputTokens, reasoningOutputTokens)`.
type Counts = (u64, u64, u64, u64, u64);

fn counts(breakdown: &Value) -> Counts {
    let field = |name: &str| {
        breakdown[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name} in {breakdown}"))
    };
    (
        field("totalTokens"),
        field("inputTokens"),
        field("cachedInputTokens"),
        field("outputTokens"),
        field("reasoningOutputTokens"),
    )
}

/// The `(total, last)` of the one `thread/tokenUsage/updated` of `turn` among `messages`.
fn usage_of(messages: &[Value], turn: &str) -> (Counts, Counts) {
    let found: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "thread/tokenUsage/updated" && m["params"]["turnId"] == turn)
        .collect();
    assert_eq!(found.len(), 1, "token usage of {turn}: {messages:#?}");
    let usage = &found[0]["params"]["tokenUsage"];
    (counts(&usage["total"]), counts(&usage["last"]))
}

/// Runs one turn of script `name` to its end; returns its id and `(total, last)`.
fn turn(host: &mut Host, name: &str) -> (String, (Counts, Counts)) {
    let turn = host.start_script(name, json!({}));
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{messages:#?}"
    );
    let usage = usage_of(&messages, &turn);
    (turn, usage)
}

/// Starts a thread with `params` and makes it the host's thread.
fn new_thread(host: &mut Host, params: Value) {
    let started = host.request("thread/start", params);
    host.thread_id = started["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/start failed: {started}"))
        .to_owned();
}

#[test]
fn fresh_sessions_add_up_and_the_total_survives_a_restart() {
    let mut host = Host::fake(&[
        ("a", &script("s1", 10, 4, 5, 1)),
        ("b", &script("s2", 20, 6, 7, 2)),
    ]);
    let (_, usage1) = turn(&mut host, "a");
    assert_eq!(usage1, ((15, 10, 4, 5, 1), (15, 10, 4, 5, 1)));
    let (turn2, usage2) = turn(&mut host, "b");
    assert_eq!(usage2, ((42, 30, 10, 12, 3), (27, 20, 6, 7, 2)));

    // The spec told the runner where the thread stood.
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn2).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec["previousTotalUsage"]["totalTokens"], 15, "{spec}");
    assert_eq!(spec["resumedSessionUsage"], Value::Null, "{spec}");

    // A new server process: resume replays the thread's total, and the next turn adds to it.
    host.server.close_stdin();
    assert!(host.server.wait_exit(DEFAULT_TIMEOUT).is_some());
    host.server = Host::spawn(&host.sandbox);
    host.server.initialize();
    let thread = host.thread_id.clone();
    host.request("thread/resume", json!({"threadId": thread}));
    let (replayed, _) = host
        .server
        .wait_for(DEFAULT_TIMEOUT, |m| {
            m["method"] == "thread/tokenUsage/updated"
        })
        .unwrap_or_else(|(err, got)| panic!("no token usage after resume: {err}: {got:#?}"));
    assert_eq!(replayed["params"]["turnId"], turn2.as_str(), "{replayed}");
    assert_eq!(
        counts(&replayed["params"]["tokenUsage"]["total"]),
        (42, 30, 10, 12, 3)
    );
    let (_, usage3) = turn(&mut host, "a");
    assert_eq!(usage3, ((57, 40, 14, 17, 4), (15, 10, 4, 5, 1)));
}

#[test]
fn a_continued_session_is_not_counted_twice() {
    let mut host = Host::fake(&[
        ("c1", &script("s1", 10, 0, 5, 0)),
        // The resumed session reports its own cumulative figure: turn 1 included.
        ("c2", &script("s1", 30, 0, 12, 0)),
        // The backend could not resume and started another session, counting from zero.
        ("c3", &script("s2", 4, 0, 2, 0)),
        // That session is resumed in turn.
        ("c4", &script("s2", 9, 0, 5, 0)),
    ]);
    new_thread(
        &mut host,
        json!({"continueSession": true, "modelProvider": "resuming"}),
    );
    let (_, usage1) = turn(&mut host, "c1");
    assert_eq!((usage1.0.0, usage1.1.0), (15, 15));
    let (turn2, usage2) = turn(&mut host, "c2");
    assert_eq!(usage2, ((42, 30, 0, 12, 0), (27, 20, 0, 7, 0)));
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn2).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec["resumeSessionId"], "s1", "{spec}");
    assert_eq!(spec["previousTotalUsage"]["totalTokens"], 15, "{spec}");
    assert_eq!(spec["resumedSessionUsage"]["totalTokens"], 15, "{spec}");
    let (_, usage3) = turn(&mut host, "c3");
    assert_eq!((usage3.0.0, usage3.1.0), (48, 6));
    let (_, usage4) = turn(&mut host, "c4");
    assert_eq!((usage4.0.0, usage4.1.0), (56, 8));
}

#[test]
fn a_re_attached_background_turn_reports_the_thread_total() {
    let slow = "start s2\nmessage started\nwait-file go\nline {\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":20,\"output_tokens\":7}}\n";
    let mut host = Host::fake(&[("a", &script("s1", 10, 0, 5, 0)), ("slow", slow)]);
    turn(&mut host, "a");
    let turn2 = host.start_script("slow", json!({"background": true}));
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    host.server.kill();
    host.server = Host::spawn(&host.sandbox);
    host.server.initialize();
    let thread = host.thread_id.clone();
    let resumed = host.request("thread/resume", json!({"threadId": thread}));
    assert_eq!(
        resumed["result"]["thread"]["status"]["type"], "active",
        "{resumed}"
    );
    // Held at its gate until now, the turn is followed again: the record the runner writes
    // already counts the thread.
    host.release("go");
    let turn_id = turn2.clone();
    let (usage, _) = host
        .server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "thread/tokenUsage/updated" && m["params"]["turnId"] == turn_id
        })
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    assert_eq!(counts(&usage["params"]["tokenUsage"]["total"]).0, 42);
    assert_eq!(counts(&usage["params"]["tokenUsage"]["last"]).0, 27);
}

#[test]
fn a_fork_starts_from_the_parent_total() {
    let mut host = Host::fake(&[
        ("a", &script("s1", 10, 0, 5, 0)),
        ("b", &script("s2", 20, 0, 7, 0)),
    ]);
    let (turn1, _) = turn(&mut host, "a");
    let parent = host.thread_id.clone();
    let id = host.next_request_id();
    let (forked, _) = host
        .server
        .request(id, "thread/fork", json!({"threadId": parent}));
    let fork = forked["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/fork failed: {forked}"))
        .to_owned();
    // Like Codex: response, the fork's token usage (the parent's turn and total), then
    // thread/started.
    let (_, before) = host
        .server
        .wait_for(DEFAULT_TIMEOUT, |m| m["method"] == "thread/started")
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(before[0]["method"], "thread/tokenUsage/updated");
    assert_eq!(before[0]["params"]["threadId"], fork.as_str());
    assert_eq!(before[0]["params"]["turnId"], turn1.as_str());
    assert_eq!(counts(&before[0]["params"]["tokenUsage"]["total"]).0, 15);

    host.thread_id = fork;
    let (_, on_fork) = turn(&mut host, "b");
    assert_eq!((on_fork.0.0, on_fork.1.0), (42, 27));
    // The parent goes on from its own total.
    host.thread_id = parent;
    let (_, on_parent) = turn(&mut host, "b");
    assert_eq!((on_parent.0.0, on_parent.1.0), (42, 27));
}

#[test]
fn an_ephemeral_thread_counts_its_turns_too() {
    let mut host = Host::fake(&[
        ("a", &script("s1", 10, 0, 5, 0)),
        ("b", &script("s2", 20, 0, 7, 0)),
    ]);
    new_thread(&mut host, json!({"ephemeral": true}));
    let (_, usage1) = turn(&mut host, "a");
    assert_eq!(usage1.0.0, 15);
    let (_, usage2) = turn(&mut host, "b");
    assert_eq!((usage2.0.0, usage2.1.0), (42, 27));
}

#[test]
fn a_continued_thread_resumes_the_session_of_a_turn_no_server_followed_to_its_end() {
    // The session is announced only after the server is gone (`go` appears later).
    let late = "wait-file go\nstart s-late\nmessage done\ncomplete\n";
    let next = &script("s-late", 30, 0, 12, 0);
    let mut host = Host::fake(&[("late", late), ("next", next)]);
    new_thread(
        &mut host,
        json!({"continueSession": true, "modelProvider": "resuming"}),
    );
    let first = host.start_script("late", json!({"background": true}));
    host.server.kill();
    host.release("go");
    let exit = host.turn_dir(&first).join("exit.json");
    wait_until(TURN_TIMEOUT, "the background turn to finish", || {
        exit.exists().then_some(())
    });
    // Nobody followed the turn, so the thread record never saw the session.
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
    assert_eq!(record["backendSessionId"], Value::Null, "{record}");
    // A new server resumes the thread; the next turn resumes the session from the log.
    host.server = Host::spawn(&host.sandbox);
    host.server.initialize();
    let thread = host.thread_id.clone();
    host.request("thread/resume", json!({"threadId": thread}));
    let (second, _) = turn(&mut host, "next");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&second).join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec["resumeSessionId"], "s-late", "{spec}");
}

#[test]
fn resuming_a_loaded_idle_thread_replays_its_usage_after_the_response() {
    let mut host = Host::fake(&[("a", &script("s1", 10, 4, 5, 1))]);
    let (turn1, _) = turn(&mut host, "a");
    let thread = host.thread_id.clone();
    let id = json!("resume-loaded");
    host.server
        .send_json(&json!({"id": id, "method": "thread/resume", "params": {"threadId": thread}}));
    let (response, _) = host
        .server
        .wait_for_response(&id, DEFAULT_TIMEOUT)
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
    assert_eq!(
        response["result"]["thread"]["status"]["type"], "idle",
        "{response}"
    );
    let next = host
        .server
        .recv_json(DEFAULT_TIMEOUT)
        .unwrap_or_else(|err| panic!("no token usage after the resume response: {err:?}"));
    assert_eq!(next["method"], "thread/tokenUsage/updated", "{next}");
    assert_eq!(next["params"]["turnId"], turn1.as_str(), "{next}");
    assert_eq!(
        counts(&next["params"]["tokenUsage"]["total"]),
        (15, 10, 4, 5, 1)
    );
}
