//! Approvals end to end: a backend's `approval.requested` becomes a server request to the
//! client, the answer goes back down the backend's stdin, and with no client attached the
//! thread's `approvalPolicy` decides. Real server, real runners, the fake agent's
//! `approve-command` / `approve-file` steps.

use std::time::Duration;

use agent_host::runner::client::request_blocking;
use agent_host::runner::control::ControlRequest;
use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT};
use crate::support::procs::assert_all_gone;
use crate::support::{Sandbox, wait_until};

/// A host whose `fake` provider takes approval answers on stdin, with one thread started
/// with `approval_policy`.
fn host(scripts: &[(&str, &str)], approval_policy: &str) -> Host {
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, scripts);
    let config = sandbox.root().join("turns.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen(
        "args = [\"{prompt}\"]\n",
        "args = [\"{prompt}\"]\napprovals = \"stdin\"\n",
        1,
    );
    assert!(text.contains("approvals = \"stdin\""), "{text}");
    std::fs::write(&config, text).unwrap();
    Host::start(
        sandbox,
        &config,
        "fake",
        json!({"approvalPolicy": approval_policy}),
    )
}

/// Waits for the server request `method`; returns it and what came before it.
fn approval_request(host: &mut Host, method: &str) -> (Value, Vec<Value>) {
    host.server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == method && m.get("id").is_some()
        })
        .unwrap_or_else(|(err, got)| panic!("no {method}: {err}: {got:#?}"))
}

fn status_flags(message: &Value) -> Option<&Value> {
    (message["method"] == "thread/status/changed").then(|| &message["params"]["status"])
}

/// The messages from the answer to the end of the turn, checked for Codex's order:
/// `serverRequest/resolved`, the status without the flag, then the item's completion.
fn after_answer(host: &mut Host, turn: &str, request_id: i64, item_id: &Value) -> Vec<Value> {
    let messages = host.until_completed(turn);
    assert_eq!(
        messages[0]["method"], "serverRequest/resolved",
        "{messages:#?}"
    );
    assert_eq!(
        messages[0]["params"],
        json!({"threadId": host.thread_id, "requestId": request_id})
    );
    assert_eq!(
        status_flags(&messages[1]),
        Some(&json!({"type": "active", "activeFlags": []})),
        "{messages:#?}"
    );
    let completed = messages
        .iter()
        .position(|m| m["method"] == "item/completed" && &m["params"]["item"]["id"] == item_id)
        .unwrap_or_else(|| panic!("the item never completed: {messages:#?}"));
    assert!(completed > 1);
    messages
}

fn completed_item<'a>(messages: &'a [Value], item_id: &Value) -> &'a Value {
    &messages
        .iter()
        .find(|m| m["method"] == "item/completed" && &m["params"]["item"]["id"] == item_id)
        .unwrap()["params"]["item"]
}

/// Starts `script`, waits for the command approval request, checks its shape and the
/// status before it; returns (turn id, the request).
fn command_request(host: &mut Host, script: &str, command: &str) -> (String, Value) {
    let turn = host.start_script(script, json!({}));
    let dir = host.turn_dir(&turn);
    let (request, before) = host
        .server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/commandExecution/requestApproval"
        })
        .unwrap_or_else(|(err, got)| {
            panic!(
                "no command approval request: {err}: {got:#?}\nevents: {}\nrunner: {}\nstderr: {}",
                std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("runner.log")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("backend.stderr")).unwrap_or_default()
            )
        });
    let started = before
        .iter()
        .find(|m| {
            m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
        })
        .unwrap_or_else(|| panic!("no item/started before the request: {before:#?}"));
    let last_status = before.iter().rev().find_map(status_flags);
    assert_eq!(
        last_status,
        Some(&json!({"type": "active", "activeFlags": ["waitingOnApproval"]})),
        "{before:#?}"
    );
    assert_eq!(
        before.last().and_then(status_flags),
        last_status,
        "the status comes right before the request"
    );
    let params = &request["params"];
    assert_eq!(request["id"], 0, "server request ids count from 0");
    assert_eq!(params["kind"], "command");
    assert_eq!(params["threadId"], host.thread_id);
    assert_eq!(params["turnId"], turn);
    assert_eq!(params["itemId"], started["params"]["item"]["id"]);
    assert_eq!(params["command"], command);
    assert_eq!(params["cwd"], host.sandbox.work_dir().display().to_string());
    assert_eq!(params["reason"], Value::Null);
    assert!(params["startedAtMs"].is_i64(), "{params}");
    (turn, request)
}

#[test]
fn an_accepted_command_runs_and_the_turn_completes() {
    let script = "pid\nstart\napprove-command make build\nmessage built.\ncomplete\n";
    let mut host = host(&[("s", script)], "untrusted");
    let (turn, request) = command_request(&mut host, "s", "make build");
    // The runner refuses an answer to a request it does not have.
    let unknown = request_blocking(
        &host.turn_dir(&turn),
        &ControlRequest::Approve {
            request_id: "nope".into(),
            decision: json!("accept"),
        },
    )
    .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("no pending approval request \"nope\""),
        "{unknown}"
    );
    host.server
        .send_json(&json!({"id": 0, "result": {"decision": "accept"}}));
    let item_id = request["params"]["itemId"].clone();
    let messages = after_answer(&mut host, &turn, 0, &item_id);
    let item = completed_item(&messages, &item_id);
    assert_eq!(item["status"], "completed");
    assert_eq!(item["exitCode"], 0);
    assert_eq!(item["aggregatedOutput"], "ok\n");
    let done = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["items"][0]["text"], "built.");
    host.assert_turn_silent(&turn);
    // The log says who decided.
    let events = events(&host, &turn);
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approvalResolved")
        .unwrap();
    assert_eq!(resolved["decision"], "accept");
    assert_eq!(resolved["decidedBy"], "client");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(2));
}

#[test]
fn a_declined_command_is_declined_and_the_turn_goes_on() {
    let script = "start\napprove-command rm -rf /\nmessage fine, I will not.\ncomplete\n";
    let mut host = host(&[("s", script)], "on-request");
    let (turn, request) = command_request(&mut host, "s", "rm -rf /");
    host.server
        .send_json(&json!({"id": 0, "result": {"decision": "decline"}}));
    let item_id = request["params"]["itemId"].clone();
    let messages = after_answer(&mut host, &turn, 0, &item_id);
    assert_eq!(completed_item(&messages, &item_id)["status"], "declined");
    let done = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["items"][0]["text"], "fine, I will not.");
}

#[test]
fn cancel_declines_the_command_and_interrupts_the_turn() {
    // The backend ignores SIGINT so that it surely prints the declined item first; the
    // ladder's SIGTERM stops it.
    let script = "pid\nstart\nignore INT\napprove-command deploy\nsleep 600000\n";
    let mut host = host(&[("s", script)], "untrusted");
    let (turn, request) = command_request(&mut host, "s", "deploy");
    host.server
        .send_json(&json!({"id": 0, "result": {"decision": "cancel"}}));
    let item_id = request["params"]["itemId"].clone();
    let messages = after_answer(&mut host, &turn, 0, &item_id);
    assert_eq!(completed_item(&messages, &item_id)["status"], "declined");
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    let resolved: Vec<Value> = events(&host, &turn)
        .into_iter()
        .filter(|e| e["type"] == "approvalResolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["decision"], "decline");
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(2));
    host.assert_turn_silent(&turn);
}

#[test]
fn an_error_reply_declines() {
    let script = "start\napprove-command curl example.com\nmessage ok then.\ncomplete\n";
    let mut host = host(&[("s", script)], "untrusted");
    let (turn, request) = command_request(&mut host, "s", "curl example.com");
    host.server.send_json(
        &json!({"id": 0, "error": {"code": -32000, "message": "the user closed the dialog"}}),
    );
    let item_id = request["params"]["itemId"].clone();
    let messages = after_answer(&mut host, &turn, 0, &item_id);
    assert_eq!(completed_item(&messages, &item_id)["status"], "declined");
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
}

#[test]
fn a_file_change_asks_with_its_own_request_and_applies_when_accepted() {
    let script =
        "start\napprove-file new.txt\napprove-file other.txt\nmessage both asked.\ncomplete\n";
    let mut host = host(&[("s", script)], "untrusted");
    let turn = host.start_script("s", json!({}));
    for (expected_id, decision, status) in [
        (0, "acceptForSession", "completed"),
        (1, "decline", "declined"),
    ] {
        let (request, before) = approval_request(&mut host, "item/fileChange/requestApproval");
        let started = before
            .iter()
            .find(|m| m["method"] == "item/started" && m["params"]["item"]["type"] == "fileChange")
            .unwrap_or_else(|| panic!("no item/started before the request: {before:#?}"));
        assert_eq!(
            before.last().and_then(status_flags),
            Some(&json!({"type": "active", "activeFlags": ["waitingOnApproval"]}))
        );
        assert_eq!(request["id"], expected_id);
        let params = &request["params"];
        assert_eq!(params["threadId"], host.thread_id);
        assert_eq!(params["turnId"], turn);
        assert_eq!(params["itemId"], started["params"]["item"]["id"]);
        assert_eq!(params["reason"], Value::Null);
        assert_eq!(params["grantRoot"], Value::Null);
        assert!(params.get("command").is_none(), "{params}");
        host.server
            .send_json(&json!({"id": expected_id, "result": {"decision": decision}}));
        let item_id = params["itemId"].clone();
        let (resolved, _) = host
            .server
            .wait_for(TURN_TIMEOUT, |m| m["method"] == "serverRequest/resolved")
            .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
        assert_eq!(resolved["params"]["requestId"], expected_id);
        let (item, between) = host
            .server
            .wait_for(TURN_TIMEOUT, |m| {
                m["method"] == "item/completed" && m["params"]["item"]["id"] == item_id
            })
            .unwrap_or_else(|(err, got)| panic!("{err}: {got:#?}"));
        assert_eq!(
            between.first().and_then(status_flags),
            Some(&json!({"type": "active", "activeFlags": []}))
        );
        assert_eq!(item["params"]["item"]["status"], status);
    }
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
}

/// The turn's canonical events, once it has ended.
fn events(host: &Host, turn: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(host.turn_dir(turn).join("events.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].clone())
        .collect()
}

/// A background turn whose server is killed: the policy answers, and the turn runs on.
fn background_turn_decided_by_policy(policy: &str) -> (Value, Vec<Value>) {
    let script = "pid\nstart\napprove-command make install\nmessage done.\ncomplete\n";
    let mut host = host(&[("s", script)], policy);
    let turn = host.start_script("s", json!({"background": true}));
    host.server.kill();
    let exit = host.turn_dir(&turn).join("exit.json");
    wait_until(TURN_TIMEOUT, "the background turn to end", || {
        exit.exists().then_some(())
    });
    let record: Value = serde_json::from_slice(&std::fs::read(&exit).unwrap()).unwrap();
    assert_all_gone(&host.recorded_pids(), Duration::from_secs(2));
    (record, events(&host, &turn))
}

fn policy_outcome(policy: &str, decision: &str, status: &str) {
    let (record, events) = background_turn_decided_by_policy(policy);
    assert_eq!(record["status"], "completed", "{record}");
    let requested = events
        .iter()
        .find(|e| e["type"] == "approvalRequested")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(requested["kind"], "commandExecution");
    assert_eq!(requested["command"], "make install");
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approvalResolved")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(resolved["requestId"], requested["requestId"]);
    assert_eq!(resolved["decision"], decision);
    assert_eq!(resolved["decidedBy"], "policy");
    let item = events
        .iter()
        .find(|e| e["type"] == "itemCompleted" && e["item"]["type"] == "commandExecution")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(item["item"]["id"], requested["itemId"]);
    assert_eq!(item["item"]["status"], status);
}

#[test]
fn a_background_turn_without_its_server_accepts_when_the_policy_is_never() {
    policy_outcome("never", "accept", "completed");
}

#[test]
fn a_background_turn_without_its_server_declines_under_any_other_policy() {
    policy_outcome("untrusted", "decline", "declined");
}

#[test]
fn a_background_turn_with_its_server_connected_asks_the_client() {
    let script = "start\napprove-command make install\nmessage done.\ncomplete\n";
    let mut host = host(&[("s", script)], "untrusted");
    let turn = host.start_script("s", json!({"background": true}));
    let (request, _) = approval_request(&mut host, "item/commandExecution/requestApproval");
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": "accept"}}));
    let item_id = request["params"]["itemId"].clone();
    let messages = after_answer(&mut host, &turn, 0, &item_id);
    assert_eq!(completed_item(&messages, &item_id)["status"], "completed");
    let events = events(&host, &turn);
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approvalResolved")
        .unwrap();
    assert_eq!(resolved["decision"], "accept");
    assert_eq!(resolved["decidedBy"], "client");
}
