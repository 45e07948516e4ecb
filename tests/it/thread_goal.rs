//! A thread's goal reaches its backend: every turn that starts while the goal is active gets
//! the objective in its prompt (the fake agent answers with the prompt it was given), and no
//! turn does once the goal is paused.

use serde_json::{Value, json};

use crate::support::host::Host;

/// The answer of a turn of the `echo` script: the prompt the backend read.
fn echoed_prompt(host: &mut Host) -> (String, Value) {
    let turn = host.start_script("echo", json!({}));
    let messages = host.until_completed(&turn);
    let completed = &messages.last().unwrap()["params"]["turn"];
    let text = completed["items"][0]["text"].as_str().unwrap().to_owned();
    let spec: Value =
        serde_json::from_slice(&std::fs::read(host.turn_dir(&turn).join("spec.json")).unwrap())
            .unwrap();
    // The user's own input is kept as sent: the goal is the backend's context only.
    let user: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "item/completed")
        .filter(|m| m["params"]["item"]["type"] == "userMessage")
        .collect();
    assert_eq!(
        user[0]["params"]["item"]["content"][0]["text"],
        "script:echo"
    );
    (text, spec["prompt"].clone())
}

#[test]
fn the_backend_gets_the_active_goal_in_the_prompt_of_every_later_turn() {
    let mut host = Host::fake(&[("echo", "start\necho-prompt\ncomplete\n")]);
    let (before, _) = echoed_prompt(&mut host);
    assert_eq!(before, "script:echo");

    let set = host.request(
        "thread/goal/set",
        json!({"threadId": host.thread_id, "objective": "Ship the release"}),
    );
    assert_eq!(set["result"]["goal"]["status"], "active", "{set}");
    for _ in 0..2 {
        let (text, spec_prompt) = echoed_prompt(&mut host);
        assert!(text.starts_with("script:echo\n"), "{text}");
        assert!(
            text.contains("[goal of this thread: Ship the release]"),
            "the backend did not get the goal: {text}"
        );
        assert_eq!(spec_prompt, json!(text));
    }
    let paused = host.request(
        "thread/goal/set",
        json!({"threadId": host.thread_id, "status": "paused"}),
    );
    assert_eq!(paused["result"]["goal"]["status"], "paused", "{paused}");
    let (after, _) = echoed_prompt(&mut host);
    assert_eq!(after, "script:echo");
    // The thread's preview is the user's text, not the goal.
    let read = host.request("thread/read", json!({"threadId": host.thread_id}));
    assert_eq!(read["result"]["thread"]["preview"], "script:echo");
}
