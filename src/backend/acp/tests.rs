//! The ACP conversation and its mapping, fed line by line without a process.

use serde_json::{Value, json};

use super::super::UsageBase;
use super::super::permissions::{Approval, Permissions, Sandbox};
use super::Stream;
use crate::events::{ApprovalKind, Event, MarkerOutcome};

fn stream(approval: Approval, sandbox: Sandbox) -> Stream {
    Stream::new(
        "t1",
        "/w",
        UsageBase::default(),
        Permissions { approval, sandbox },
    )
}

fn workspace() -> Sandbox {
    Sandbox::WorkspaceWrite {
        extra_roots: Vec::new(),
        network: false,
    }
}

/// Feeds `message` as one line of the agent's; the events it caused.
fn feed(stream: &mut Stream, message: Value) -> Vec<Event> {
    let mut out = Vec::new();
    stream.on_line(message.to_string().as_bytes(), &mut out);
    out
}

/// The lines queued for the agent, parsed.
fn sent(stream: &mut Stream) -> Vec<Value> {
    stream
        .take_input()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const GEMINI_MODES: &str = r#"{"availableModes":[{"id":"default","name":"Default"},
    {"id":"autoEdit","name":"Auto Edit"},{"id":"yolo","name":"YOLO"},{"id":"plan","name":"Plan"}],
    "currentModeId":"default"}"#;

/// A stream past `initialize`, `session/new` and (when the mode changes) `session/set_mode`:
/// the prompt was sent.
fn prompting(approval: Approval, sandbox: Sandbox) -> Stream {
    let mut stream = stream(approval, sandbox);
    let first: Value = serde_json::from_str(&stream.user_message("hi").unwrap()).unwrap();
    assert_eq!(first["method"], "initialize");
    assert_eq!(first["params"]["clientCapabilities"]["terminal"], false);
    feed(
        &mut stream,
        json!({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": 1}}),
    );
    let new = sent(&mut stream);
    assert_eq!(new[0]["method"], "session/new");
    let modes: Value = serde_json::from_str(GEMINI_MODES).unwrap();
    let out = feed(
        &mut stream,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"sessionId": "s1", "modes": modes}}),
    );
    assert!(matches!(&out[0], Event::BackendSession { .. }), "{out:?}");
    let mut next = sent(&mut stream);
    if next[0]["method"] == "session/set_mode" {
        feed(
            &mut stream,
            json!({"jsonrpc": "2.0", "id": 2, "result": {}}),
        );
        next = sent(&mut stream);
    }
    assert_eq!(next[0]["method"], "session/prompt", "{next:?}");
    assert_eq!(next[0]["params"]["prompt"][0]["text"], "hi");
    stream
}

fn permission_request(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "session/request_permission", "params": {
        "sessionId": "s1",
        "toolCall": {"toolCallId": "c1", "title": "touch x", "kind": "execute",
            "rawInput": {"command": "touch x"}},
        "options": [{"optionId": "yes", "kind": "allow_once", "name": "Allow"},
            {"optionId": "always", "kind": "allow_always", "name": "Always"},
            {"optionId": "no", "kind": "reject_once", "name": "Reject"}]}})
}

fn item_status(out: &[Event]) -> Option<&str> {
    out.iter().find_map(|event| match event {
        Event::ItemCompleted { item } => item["status"].as_str(),
        _ => None,
    })
}

#[test]
fn a_read_only_sandbox_sets_the_plan_mode_before_the_prompt() {
    let mut stream = stream(Approval::OnRequest, Sandbox::ReadOnly);
    stream.user_message("hi");
    feed(
        &mut stream,
        json!({"jsonrpc": "2.0", "id": 0, "result": {}}),
    );
    sent(&mut stream);
    let modes: Value = serde_json::from_str(GEMINI_MODES).unwrap();
    feed(
        &mut stream,
        json!({"jsonrpc": "2.0", "id": 1, "result": {"sessionId": "s1", "modes": modes}}),
    );
    let set = sent(&mut stream);
    assert_eq!(set[0]["method"], "session/set_mode");
    assert_eq!(
        set[0]["params"],
        json!({"sessionId": "s1", "modeId": "plan"})
    );
}

#[test]
fn chunks_stream_into_one_message_and_the_prompts_answer_ends_the_turn() {
    let mut stream = prompting(Approval::OnRequest, workspace());
    let chunk = |text: &str| {
        json!({"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s1",
            "update": {"sessionUpdate": "agent_message_chunk",
                "content": {"type": "text", "text": text}}}})
    };
    let mut out = feed(&mut stream, chunk("Hel"));
    out.extend(feed(&mut stream, chunk("lo")));
    let notice = json!({"jsonrpc": "2.0", "method": "session/update", "params": {
        "sessionId": "s1", "update": {"sessionUpdate": "agent_message_chunk",
        "content": {"type": "text", "text": "a notice"},
        "_meta": {"claudeCode": {"kind": "informational"}}}}});
    out.extend(feed(&mut stream, notice));
    out.extend(feed(
        &mut stream,
        json!({"jsonrpc": "2.0", "id": 2, "result": {"stopReason": "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 2}}}),
    ));
    let deltas: Vec<&str> = out
        .iter()
        .filter_map(|e| match e {
            Event::AgentMessageDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, ["Hel", "lo"]);
    assert!(
        out.iter()
            .any(|e| matches!(e, Event::Warning { message } if message == "a notice"))
    );
    let text = out.iter().find_map(|e| match e {
        Event::ItemCompleted { item } => item["text"].as_str(),
        _ => None,
    });
    assert_eq!(text, Some("Hello"));
    assert!(matches!(
        out.last(),
        Some(Event::Marker {
            outcome: MarkerOutcome::Completed,
            ..
        })
    ));
}

#[test]
fn a_permission_request_is_our_approval_and_the_decision_an_offered_option() {
    let mut stream = prompting(Approval::OnRequest, workspace());
    let out = feed(&mut stream, permission_request(7));
    let Some(Event::ApprovalRequested {
        request_id,
        kind,
        command,
        ..
    }) = out.last()
    else {
        panic!("no approval request: {out:?}");
    };
    assert_eq!(*kind, ApprovalKind::CommandExecution);
    assert_eq!(command.as_deref(), Some("touch x"));
    let mut events = Vec::new();
    let line = stream
        .approval_answer(request_id, &json!("decline"), &mut events)
        .unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["id"], 7);
    assert_eq!(
        answer["result"]["outcome"],
        json!({"outcome": "selected", "optionId": "no"})
    );
    assert_eq!(item_status(&events), Some("declined"));

    feed(&mut stream, permission_request(8));
    let mut events = Vec::new();
    let line = stream
        .approval_answer("acp-8", &json!("acceptForSession"), &mut events)
        .unwrap();
    assert!(line.contains(r#""optionId":"always""#), "{line}");
    assert!(events.is_empty(), "{events:?}");

    feed(&mut stream, permission_request(9));
    let amendment = json!({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["touch"]}});
    let line = stream
        .approval_answer("acp-9", &amendment, &mut Vec::new())
        .unwrap();
    assert!(line.contains(r#""optionId":"yes""#), "{line}");
}

#[test]
fn with_never_the_runner_answers_and_no_client_is_asked() {
    for (sandbox, option, status) in [
        (workspace(), "no", Some("declined")),
        (Sandbox::DangerFullAccess, "yes", None),
    ] {
        let mut stream = prompting(Approval::Never, sandbox);
        let out = feed(&mut stream, permission_request(3));
        assert!(
            !out.iter()
                .any(|e| matches!(e, Event::ApprovalRequested { .. })),
            "{out:?}"
        );
        assert_eq!(item_status(&out), status);
        let answer = sent(&mut stream);
        assert_eq!(answer[0]["id"], 3);
        assert_eq!(answer[0]["result"]["outcome"]["optionId"], option);
    }
}

#[test]
fn the_cancel_answers_pending_requests_then_cancels_the_session() {
    let mut stream = prompting(Approval::OnRequest, workspace());
    feed(&mut stream, permission_request(4));
    let lines: Vec<Value> = stream
        .cancel()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["id"], 4);
    assert_eq!(lines[0]["result"]["outcome"]["outcome"], "cancelled");
    assert_eq!(lines[1]["method"], "session/cancel");
    assert_eq!(lines[1]["params"]["sessionId"], "s1");
    // A request after the cancel is answered `cancelled` at once; the client is not asked.
    let out = feed(&mut stream, permission_request(5));
    assert!(out.is_empty(), "{out:?}");
    let answer = sent(&mut stream);
    assert_eq!(answer[0]["id"], 5);
    assert_eq!(answer[0]["result"]["outcome"]["outcome"], "cancelled");
}
