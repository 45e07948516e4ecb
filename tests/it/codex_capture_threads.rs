//! The capture scenarios of the thread methods beyond the basic ones (`codex_capture.rs`
//! runs them with the others): `thread/delete`, the goal, the memory mode, and the forks
//! Codex makes of stored, ephemeral, archived and running threads. What each shows is the
//! reference for the transcript of the same name in `fixtures/transcripts/`.

use std::time::Duration;

use serde_json::json;

use crate::codex_capture::{Capture, Session};
use crate::support::mock_responses::{Output, Reply};

/// How long a turn of a scenario may take.
const TURN_TIMEOUT: Duration = Duration::from_secs(30);
/// An id no thread has.
const UNKNOWN: &str = "01a20000-0000-7000-8000-000000000000";

fn answer(text: &str) -> Reply {
    Reply::Complete {
        outputs: vec![Output::Message(text.to_owned())],
        usage: (40, 0, 8),
    }
}

/// A thread with one completed turn.
fn thread_with_a_turn(s: &mut Session) -> String {
    let thread = s.start_thread(json!({}));
    let turn = s.start_turn(&thread, "Say something.");
    s.until_turn_completed(&turn);
    thread
}

/// The id of a thread in a `thread/*` result.
fn thread_of(result: &serde_json::Value) -> String {
    result["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no thread in {result}"))
        .to_owned()
}

pub fn thread_delete() -> Capture {
    let mut s = Session::start("06_thread_delete", vec![answer("Done."), Reply::Stall]);
    let thread = thread_with_a_turn(&mut s);
    s.request("thread/delete", json!({"threadId": thread}));
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "thread/deleted");
    s.request("thread/read", json!({"threadId": thread}));
    s.request("thread/list", json!({}));
    s.request("thread/resume", json!({"threadId": thread}));
    s.request("thread/delete", json!({"threadId": thread}));
    s.request("thread/delete", json!({"threadId": "nope"}));
    s.request("thread/delete", json!({"threadId": UNKNOWN}));
    s.request("thread/delete", json!({}));
    // A running turn is stopped first.
    let running = s.start_thread(json!({}));
    s.start_turn(&running, "Take your time.");
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "turn/started");
    s.request("thread/delete", json!({"threadId": running}));
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "thread/deleted");
    let ephemeral = s.start_thread(json!({"ephemeral": true}));
    s.request("thread/delete", json!({"threadId": ephemeral}));
    s.finish()
}

pub fn thread_goal() -> Capture {
    let mut s = Session::start("07_thread_goal", vec![answer("Working on it.")]);
    let thread = s.start_thread(json!({}));
    s.request("thread/goal/get", json!({"threadId": thread}));
    // Paused: Codex starts no turn of its own for it.
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "objective": "  Ship the release  ", "status": "paused",
               "tokenBudget": 1000}),
    );
    s.request("thread/goal/get", json!({"threadId": thread}));
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "status": "complete"}),
    );
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "objective": " "}),
    );
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "objective": "x", "tokenBudget": 0}),
    );
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "objective": "x", "status": "bogus"}),
    );
    s.request("thread/goal/get", json!({"threadId": "nope"}));
    s.request("thread/goal/get", json!({"threadId": UNKNOWN}));
    s.request("thread/goal/clear", json!({"threadId": thread}));
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "thread/goal/cleared");
    s.request("thread/goal/clear", json!({"threadId": thread}));
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "status": "paused"}),
    );
    // Active with a small budget: Codex pursues it with a turn of its own, counts that
    // turn's tokens toward it, and stops at the budget.
    s.request(
        "thread/goal/set",
        json!({"threadId": thread, "objective": "Ship the release", "tokenBudget": 10}),
    );
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "turn/completed");
    s.request("thread/goal/get", json!({"threadId": thread}));
    s.request(
        "thread/resume",
        json!({"threadId": thread, "excludeTurns": true}),
    );
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "thread/goal/updated");
    let ephemeral = s.start_thread(json!({"ephemeral": true}));
    s.request(
        "thread/goal/set",
        json!({"threadId": ephemeral, "objective": "x"}),
    );
    s.finish()
}

pub fn thread_memory_mode() -> Capture {
    let mut s = Session::start("08_thread_memory_mode", Vec::new());
    let thread = s.start_thread(json!({}));
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": thread, "mode": "disabled"}),
    );
    s.request("thread/memoryMode/set", json!({"threadId": thread}));
    s.finish()
}

pub fn thread_memory_mode_optin() -> Capture {
    let mut s = Session::start_with(
        "08b_thread_memory_mode_optin",
        Vec::new(),
        json!({"experimentalApi": true}),
    );
    let thread = s.start_thread(json!({}));
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": thread, "mode": "disabled"}),
    );
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": thread, "mode": "bogus"}),
    );
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": "nope", "mode": "disabled"}),
    );
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": UNKNOWN, "mode": "disabled"}),
    );
    let ephemeral = s.start_thread(json!({"ephemeral": true}));
    s.request(
        "thread/memoryMode/set",
        json!({"threadId": ephemeral, "mode": "disabled"}),
    );
    s.finish()
}

pub fn thread_fork() -> Capture {
    let replies = vec![answer("First."), answer("In the fork."), Reply::Stall];
    let mut s = Session::start("09_thread_fork", replies);
    let thread = thread_with_a_turn(&mut s);
    let ephemeral = thread_of(&s.request(
        "thread/fork",
        json!({"threadId": thread, "ephemeral": true, "excludeTurns": true}),
    ));
    let forked_turn = s.start_turn(&ephemeral, "Go on in the fork.");
    s.until_turn_completed(&forked_turn);
    let stored = thread_of(&s.request(
        "thread/fork",
        json!({"threadId": thread, "excludeTurns": true}),
    ));
    s.request(
        "thread/read",
        json!({"threadId": stored, "includeTurns": true}),
    );
    s.request(
        "thread/fork",
        json!({"threadId": thread, "ephemeral": true}),
    );
    s.request(
        "thread/fork",
        json!({"threadId": ephemeral, "ephemeral": true}),
    );
    s.request(
        "thread/fork",
        json!({"threadId": "nope", "ephemeral": true}),
    );
    s.request(
        "thread/fork",
        json!({"threadId": UNKNOWN, "ephemeral": true}),
    );
    s.request("thread/archive", json!({"threadId": stored}));
    s.request(
        "thread/fork",
        json!({"threadId": stored, "ephemeral": true, "excludeTurns": true}),
    );
    // A fork of a thread whose turn runs has that turn, interrupted.
    let turn = s.start_turn(&thread, "Take your time.");
    s.wait_for(TURN_TIMEOUT, |m| m["method"] == "turn/started");
    s.request("thread/fork", json!({"threadId": thread}));
    s.request(
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn}),
    );
    s.until_turn_completed(&turn);
    s.finish()
}
