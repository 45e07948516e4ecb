//! The runner's side of approvals: who answers when no client can, and what an interrupt
//! does to pending requests (`docs/backend-jsonl.md`, "Approvals").

use std::time::Duration;

use agent_host::events::{DecidedBy, Event, EventRecord, Mode, TurnStatus};
use agent_host::runner::client;
use serde_json::json;

use super::{Turn, runtime, start_server, wait_all_dead, wait_until};

fn with_approvals(script: &str, mode: Mode, policy: &str) -> Turn {
    let policy = policy.to_owned();
    Turn::with(script, mode, super::GRACE, move |spec| {
        spec["provider"]["approvals"] = json!("stdin");
        spec["approvalPolicy"] = json!(policy);
    })
}

fn resolved(events: &[EventRecord]) -> Vec<(serde_json::Value, DecidedBy)> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            Event::ApprovalResolved {
                decision,
                decided_by,
                ..
            } => Some((decision.clone(), *decided_by)),
            _ => None,
        })
        .collect()
}

fn command_status(events: &[EventRecord]) -> Option<String> {
    events.iter().find_map(|r| match &r.event {
        Event::ItemCompleted { item } if item["type"] == "commandExecution" => {
            item["status"].as_str().map(str::to_owned)
        }
        _ => None,
    })
}

fn wait_requested(turn: &Turn) -> String {
    wait_until(Duration::from_secs(10), "approvalRequested", || {
        turn.events().iter().find_map(|r| match &r.event {
            Event::ApprovalRequested { request_id, .. } => Some(request_id.clone()),
            _ => None,
        })
    })
}

#[test]
fn a_turn_nobody_follows_is_decided_by_its_policy() {
    for (policy, decision, status) in [
        ("never", "accept", "completed"),
        ("on-request", "decline", "declined"),
    ] {
        let turn = with_approvals("approve-command.txt", Mode::Background, policy);
        turn.launch();
        let exit = turn.wait_exit(Duration::from_secs(15));
        assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
        let (_, events) = turn.check_ended_once();
        assert_eq!(resolved(&events), [(json!(decision), DecidedBy::Policy)]);
        assert_eq!(command_status(&events).as_deref(), Some(status));
    }
}

#[test]
fn a_foreground_turn_whose_server_dies_is_decided_by_its_policy_then_interrupted() {
    let turn = with_approvals("approve-then-wait.txt", Mode::Foreground, "never");
    let (mut server, _) = start_server(&turn, "foreground");
    let pids = turn.wait_pids(1);
    wait_requested(&turn);
    // The lifeline holds: the client is attached, so nothing decides for it.
    assert!(resolved(&turn.events()).is_empty());
    server.kill().unwrap();
    server.wait().unwrap();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    assert_eq!(exit.reason.as_str(), "clientLost");
    let (_, events) = turn.check_ended_once();
    assert_eq!(resolved(&events), [(json!("accept"), DecidedBy::Policy)]);
    let resolved_at = events
        .iter()
        .position(|r| matches!(r.event, Event::ApprovalResolved { .. }))
        .unwrap();
    let interrupted_at = events
        .iter()
        .position(|r| matches!(r.event, Event::InterruptRequested { .. }))
        .unwrap();
    assert!(resolved_at < interrupted_at);
    assert_eq!(command_status(&events).as_deref(), Some("completed"));
    wait_all_dead(&pids, Duration::from_secs(5));
}

#[test]
fn a_followed_turn_waits_for_the_client_and_an_interrupt_drops_the_request() {
    let rt = runtime();
    let turn = with_approvals("approve-then-wait.txt", Mode::Background, "never");
    turn.launch();
    // A follower is an attached client: the policy does not answer for it.
    let mut records = rt.block_on(client::subscribe(&turn.dir, 1)).unwrap();
    let request_id = rt.block_on(async {
        loop {
            let record = tokio::time::timeout(Duration::from_secs(10), records.recv())
                .await
                .expect("no approvalRequested within 10 s")
                .expect("the stream ended")
                .unwrap();
            if let Event::ApprovalRequested { request_id, .. } = record.event {
                return request_id;
            }
        }
    });
    let unknown = rt
        .block_on(client::approve(&turn.dir, "other", json!("accept")))
        .unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("no pending approval request \"other\""),
        "{unknown}"
    );
    let bad = rt
        .block_on(client::approve(&turn.dir, &request_id, json!(null)))
        .unwrap_err();
    assert!(bad.to_string().contains("decision"), "{bad}");
    rt.block_on(client::interrupt(
        &turn.dir,
        agent_host::events::InterruptReason::Client,
    ))
    .unwrap();
    let late = rt.block_on(client::approve(&turn.dir, &request_id, json!("accept")));
    assert!(late.is_err(), "an answer after the interrupt is refused");
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Interrupted, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    assert!(resolved(&events).is_empty(), "{events:?}");
    drop(records);
}

#[test]
fn a_provider_without_approvals_on_stdin_gets_a_warning_and_no_answer() {
    let turn = Turn::new("approve-command.txt", Mode::Background);
    turn.launch();
    let exit = turn.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.status, TurnStatus::Completed, "{exit:?}");
    let (_, events) = turn.check_ended_once();
    assert!(events.iter().any(|r| matches!(&r.event,
        Event::Warning { message } if message.contains("does not take answers on stdin"))));
    assert!(
        !events
            .iter()
            .any(|r| matches!(r.event, Event::ApprovalRequested { .. }))
    );
    // stdin is /dev/null: the backend reads end of input, a decline.
    assert_eq!(command_status(&events).as_deref(), Some("declined"));
}
