//! The backend-version pin of kind `codex`: every method and field the `codex` adapter uses
//! (`agent_host::backend::codex_turn::SCHEMA_USES`) must be in the JSON schema that the
//! installed Codex generates (`codex app-server generate-json-schema --out DIR`). A Codex
//! that renamed or dropped one fails here with one line per change, before any turn runs.
//!
//! Moving the pin to a newer Codex: `scripts/move-codex-pin.sh VERSION` (installs it and runs
//! this test and the real-Codex tests).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use agent_host::backend::codex_turn::{SCHEMA_USES, SchemaPlace};

use crate::support::paths::CODEX_VERSION;
use crate::support::procs::installed_cli;

/// Generates the installed Codex's schema into a fresh directory.
fn generate_schema(dir: &Path) {
    let codex = installed_cli("codex-bin", "Codex CLI");
    let home = dir.join("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(&codex)
        .args(["app-server", "generate-json-schema", "--out"])
        .arg(dir.join("schema"))
        .env("CODEX_HOME", &home)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", codex.display()));
    assert!(
        output.status.success(),
        "codex app-server generate-json-schema failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_schema(dir: &Path, name: &str) -> Value {
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The schemas a value may take at `schema`: `$ref`s followed (within `root`), every branch
/// of `oneOf`, `anyOf` and `allOf`.
fn alternatives<'a>(root: &'a Value, schema: &'a Value, out: &mut Vec<&'a Value>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/definitions/");
        alternatives(root, &root["definitions"][name], out);
        return;
    }
    let mut branched = false;
    for key in ["oneOf", "anyOf", "allOf"] {
        for branch in schema[key].as_array().into_iter().flatten() {
            branched = true;
            alternatives(root, branch, out);
        }
    }
    if schema["items"].is_object() {
        alternatives(root, &schema["items"], out);
    }
    if !branched {
        out.push(schema);
    }
}

/// Whether `path` (`a.b.c`, or `a.b=value`) exists below `schema`.
fn has_path(root: &Value, schema: &Value, path: &str) -> bool {
    let (path, value) = match path.split_once('=') {
        Some((path, value)) => (path, Some(value)),
        None => (path, None),
    };
    let mut at = vec![schema];
    for key in path.split('.').filter(|k| !k.is_empty()) {
        let mut options = Vec::new();
        for schema in at {
            alternatives(root, schema, &mut options);
        }
        at = options
            .into_iter()
            .filter_map(|schema| schema["properties"].get(key))
            .collect();
        if at.is_empty() {
            return false;
        }
    }
    let Some(value) = value else { return true };
    let mut options = Vec::new();
    for schema in at {
        alternatives(root, schema, &mut options);
    }
    options.iter().any(|schema| {
        schema["enum"]
            .as_array()
            .is_some_and(|values| values.iter().any(|v| v == value))
            || schema["const"] == value
    })
}

/// The `params` schema of `method` in a message union (`ClientRequest`, …), if it has it.
fn method_params<'a>(union: &'a Value, method: &str) -> Option<&'a Value> {
    union["oneOf"].as_array()?.iter().find_map(|branch| {
        let names = &branch["properties"]["method"]["enum"];
        names
            .as_array()
            .is_some_and(|names| names.iter().any(|n| n == method))
            .then(|| &branch["properties"]["params"])
    })
}

/// What the adapter uses that the schema in `dir` lacks, one line each.
fn missing_uses(dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    for used in SCHEMA_USES {
        let (file, method) = match used.place {
            SchemaPlace::ClientRequest(method) => ("ClientRequest", Some(method)),
            SchemaPlace::ClientNotification(method) => ("ClientNotification", Some(method)),
            SchemaPlace::ServerNotification(method) => ("ServerNotification", Some(method)),
            SchemaPlace::ServerRequest(method) => ("ServerRequest", Some(method)),
            SchemaPlace::Type(name) => (name, None),
        };
        let root = read_schema(dir, file);
        let schema = match method {
            Some(method) => match method_params(&root, method) {
                Some(params) => params,
                None => {
                    missing.push(format!("- {file}: method {method} is gone"));
                    continue;
                }
            },
            None => &root,
        };
        let place = method.unwrap_or(file);
        for field in used.fields {
            if !has_path(&root, schema, field) {
                missing.push(format!("- {place}: {field} is gone"));
            }
        }
    }
    missing
}

#[test]
fn every_method_and_field_the_codex_adapter_uses_is_in_the_installed_codex_schema() {
    let dir = tempfile::tempdir().unwrap();
    generate_schema(dir.path());
    let missing = missing_uses(&dir.path().join("schema"));
    assert!(
        missing.is_empty(),
        "the installed Codex (pinned: {CODEX_VERSION}) no longer has what the codex adapter \
         (src/backend/codex_turn.rs) uses:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_pin_check_names_what_a_changed_schema_lacks() {
    // The pinned schema with one method renamed and one field dropped: the check must say so.
    let dir = tempfile::tempdir().unwrap();
    generate_schema(dir.path());
    let schema = dir.path().join("schema");
    let path = schema.join("ServerNotification.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text
        .replace(
            "\"item/agentMessage/delta\"",
            "\"item/agentMessage/textDelta\"",
        )
        .replace("\"willRetry\"", "\"retrying\"");
    std::fs::write(&path, changed).unwrap();
    let missing = missing_uses(&schema);
    assert_eq!(
        missing,
        [
            "- ServerNotification: method item/agentMessage/delta is gone",
            "- error: willRetry is gone",
        ],
        "{missing:#?}"
    );
}
