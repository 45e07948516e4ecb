//! The JSON Schema generated from our protocol types (`agent-host schema --out DIR` writes
//! it; the committed `schema/` is checked against it).
//!
//! Three files, deterministic (sorted keys, two-space indent, final newline):
//! - `app-server-input.schema.json`: what the server reads (request params, the client's
//!   answers to server requests), under the deserialize contract (members with defaults are
//!   optional);
//! - `app-server-output.schema.json`: what the server writes (results, notifications, server
//!   requests), under the serialize contract (every member that is always written is required);
//! - `app-server-methods.json`: every method with references to its params and result types.
//!
//! Both schemas are JSON Schema draft-07 bundles: a `definitions` map keyed by Rust type name.

use std::collections::BTreeMap;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::protocol::{
    CLIENT_REQUEST_SIGNATURES, MethodSignature, SERVER_NOTIFICATION_SIGNATURES,
    SERVER_REQUEST_SIGNATURES, add_client_request_schemas, add_server_notification_schemas,
    add_server_request_schemas,
};

/// The file holding what the server reads.
pub const INPUT_FILE: &str = "app-server-input.schema.json";
/// The file holding what the server writes.
pub const OUTPUT_FILE: &str = "app-server-output.schema.json";
/// The file listing every method.
pub const METHODS_FILE: &str = "app-server-methods.json";

/// Generates every schema file: file name → contents.
pub fn generate() -> Result<BTreeMap<&'static str, String>, serde_json::Error> {
    let mut input = SchemaSettings::draft07().for_deserialize().into_generator();
    let mut output = SchemaSettings::draft07().for_serialize().into_generator();
    add_client_request_schemas(&mut input, &mut output);
    add_server_notification_schemas(&mut output);
    add_server_request_schemas(&mut input, &mut output);

    let input = bundle(
        "agent-host app-server protocol: input",
        "What agent-host reads: client request params and the answers to server requests.",
        &mut input,
    );
    let output = bundle(
        "agent-host app-server protocol: output",
        "What agent-host writes: results, notifications and server requests.",
        &mut output,
    );
    let methods = methods();

    let mut files = BTreeMap::new();
    files.insert(INPUT_FILE, render(&input)?);
    files.insert(OUTPUT_FILE, render(&output)?);
    files.insert(METHODS_FILE, render(&methods)?);
    Ok(files)
}

fn bundle(title: &str, description: &str, generator: &mut SchemaGenerator) -> Value {
    let definitions = generator.take_definitions(true);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        "description": description,
        "definitions": Value::Object(definitions),
    })
}

fn methods() -> Value {
    let list = |signatures: &[MethodSignature], params_file: &str, result_file: &str| {
        signatures
            .iter()
            .map(|signature| {
                let mut entry = Map::new();
                entry.insert("method".into(), signature.method.into());
                entry.insert(
                    "params".into(),
                    format!("{params_file}#/definitions/{}", signature.params).into(),
                );
                if let Some(result) = signature.result {
                    entry.insert(
                        "result".into(),
                        format!("{result_file}#/definitions/{result}").into(),
                    );
                }
                Value::Object(entry)
            })
            .collect::<Vec<_>>()
    };
    json!({
        "clientRequests": list(CLIENT_REQUEST_SIGNATURES, INPUT_FILE, OUTPUT_FILE),
        "serverNotifications": list(SERVER_NOTIFICATION_SIGNATURES, OUTPUT_FILE, OUTPUT_FILE),
        "serverRequests": list(SERVER_REQUEST_SIGNATURES, OUTPUT_FILE, INPUT_FILE),
    })
}

/// Pretty JSON with every object's keys sorted and a final newline, whatever the map order
/// of `serde_json` is.
fn render(value: &Value) -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&sorted(value))?;
    text.push('\n');
    Ok(text)
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::protocol::client_request_signature;

    const CAPTURED: &str = include_str!("testdata/codex-0.169.0.jsonl");

    fn file(name: &str) -> Value {
        let files = generate().expect("generate");
        serde_json::from_str(&files[name]).expect("schema is JSON")
    }

    /// A validator for one definition of a bundle.
    fn validator(bundle: &Value, definition: &str) -> jsonschema::Validator {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": bundle["definitions"],
            "allOf": [{"$ref": format!("#/definitions/{definition}")}],
        });
        jsonschema::validator_for(&schema).expect("valid schema")
    }

    fn check(bundle: &Value, definition: &str, instance: &Value) {
        let errors: Vec<String> = validator(bundle, definition)
            .iter_errors(instance)
            .map(|error| format!("{error} at {}", error.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{definition}: {errors:?}\n{instance}");
    }

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate().expect("first"), generate().expect("second"));
    }

    #[test]
    fn the_schema_rejects_what_the_types_reject() {
        let output = file(OUTPUT_FILE);
        let notifications = validator(&output, "ServerNotification");
        let missing_turn = json!({"method": "turn/completed", "params": {"threadId": "t"}});
        assert!(!notifications.is_valid(&missing_turn));
        let unknown_method = json!({"method": "no/such", "params": {}});
        assert!(!notifications.is_valid(&unknown_method));

        let input = file(INPUT_FILE);
        let bad_sandbox = json!({"sandbox": "nonsense"});
        assert!(!validator(&input, "ThreadStartParams").is_valid(&bad_sandbox));
        let no_text_elements = json!({"threadId": "t", "input": [{"type": "text", "text": "hi"}]});
        assert!(validator(&input, "TurnStartParams").is_valid(&no_text_elements));
    }

    #[test]
    fn captured_messages_fit_the_generated_schema() {
        let input = file(INPUT_FILE);
        let output = file(OUTPUT_FILE);
        for line in CAPTURED.lines() {
            let record: Value = serde_json::from_str(line).expect("fixture line is JSON");
            let method = record["method"].as_str().unwrap_or_default();
            match record["kind"].as_str().unwrap_or_default() {
                "notification" => check(&output, "ServerNotification", &record["msg"]),
                "serverRequest" => check(&output, "ServerRequest", &record["msg"]),
                "result" => {
                    let signature = client_request_signature(method).expect("method in the table");
                    let result = signature.result.expect("a result type");
                    check(&output, result, &record["msg"]);
                }
                "request" if record["parseError"].is_null() => {
                    let signature = client_request_signature(method).expect("method in the table");
                    // Absent params are read as `null` (methods without params take that).
                    let params = match &record["params"] {
                        Value::String(absent) if absent == "<absent>" => &Value::Null,
                        params => params,
                    };
                    check(&input, signature.params, params);
                }
                _ => {}
            }
        }
    }
}
