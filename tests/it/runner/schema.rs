//! The documented backend format (`schema/backend-events.schema.json`) accepts what the fake
//! agent and the observed codex capture print, and rejects malformed events.

use std::path::Path;
use std::time::Duration;

use agent_host::events::Mode;

use super::Turn;

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/backend-events.schema.json"),
    )
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn backend_schema_accepts_real_streams_and_rejects_broken_events() {
    let validator = validator();
    let turn = Turn::new("full-turn.txt", Mode::Background);
    turn.launch();
    turn.wait_exit(Duration::from_secs(10));
    let raw = std::fs::read_to_string(turn.dir.join("backend.stdout")).unwrap();
    let mut checked = 0;
    for line in raw.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // The deliberate junk line.
        };
        assert!(validator.is_valid(&value), "{line}");
        checked += 1;
    }
    assert!(checked >= 8, "{raw}");
    let observed = [
        r#"{"type":"item.completed","item":{"id":"item_3","type":"file_change","changes":[{"path":"/w/new.txt","kind":"add"}],"status":"completed"}}"#,
        r#"{"type":"error","message":"Reconnecting... 1/2 (stream disconnected before completion: x)"}"#,
        r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_4","type":"todo_list","items":[]}}"#,
        r#"{"type":"approval.requested","id":"a1","kind":"command_execution","item_id":"item_1","command":"ls","cwd":"/w","reason":null}"#,
        r#"{"type":"approval.requested","id":"a2","kind":"file_change","item_id":"item_2"}"#,
    ];
    for line in observed {
        assert!(
            validator.is_valid(&serde_json::from_str(line).unwrap()),
            "{line}"
        );
    }
    let broken = [
        r#"{"thread_id":"no type"}"#,
        r#"{"type":"thread.started"}"#,
        r#"{"type":"item.completed","item":{"id":"i","type":"agent_message"}}"#,
        r#"{"type":"turn.failed"}"#,
        r#"{"type":"approval.requested","id":"a1","kind":"network","item_id":"item_1"}"#,
        r#"{"type":"approval.requested","kind":"file_change","item_id":"item_1"}"#,
        r#"{"type":"item.started","item":{"id":"i","type":"command_execution","command":"x","status":"running"}}"#,
    ];
    for line in broken {
        assert!(
            !validator.is_valid(&serde_json::from_str(line).unwrap()),
            "{line}"
        );
    }
}
