//! Every notification of our method table (`src/protocol/methods.rs`) is one Codex sends,
//! with the shape Codex gives it: its params type, as our committed schema declares it, is
//! walked beside Codex's own definition (the pinned Codex's experimental schema, which lists
//! every method) and every difference that a client could meet is reported. Wire messages
//! are built from these types only, so a type that drifts is caught here before any test
//! happens to send one.

use std::collections::BTreeSet;

use agent_host::protocol::SERVER_NOTIFICATION_SIGNATURES;
use serde_json::Value;

use crate::support::paths;

fn read(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run scripts/install-test-deps.sh)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// The definition a `$ref` names (`#/definitions/NAME`), or the schema itself.
fn resolve<'a>(defs: &'a Value, schema: &'a Value) -> (&'a Value, Option<String>) {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            (&defs[name], Some(name.to_owned()))
        }
        None => (schema, None),
    }
}

/// The branch of Codex's `ServerNotification` union for `method`: its params schema.
fn codex_params<'a>(union: &'a Value, method: &str) -> Option<&'a Value> {
    union["oneOf"].as_array()?.iter().find_map(|branch| {
        let enumerated = &branch["properties"]["method"]["enum"];
        (enumerated.as_array()?.first()?.as_str() == Some(method))
            .then(|| &branch["properties"]["params"])
    })
}

struct Walk<'a> {
    ours: &'a Value,
    codex: &'a Value,
    seen: BTreeSet<(String, String)>,
    problems: Vec<String>,
}

impl<'a> Walk<'a> {
    /// A walk of `ours` (our committed schema) beside `codex` (Codex's), nothing compared yet.
    fn new(ours: &'a Value, codex: &'a Value) -> Walk<'a> {
        Walk {
            ours,
            codex,
            seen: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// Compares two object schemas property by property: every member we write must be one
    /// Codex declares, every member Codex requires one we declare; members both declare are
    /// compared again when both are objects.
    fn compare(&mut self, at: &str, ours: &Value, codex: &Value) {
        let (ours, our_name) = resolve(&self.ours["definitions"], ours);
        let (codex, codex_name) = resolve(&self.codex["definitions"], codex);
        if let (Some(a), Some(b)) = (&our_name, &codex_name)
            && !self.seen.insert((a.clone(), b.clone()))
        {
            return;
        }
        if let (Some(our_branches), Some(codex_branches)) = (branches(ours), branches(codex)) {
            self.compare_branches(at, our_branches, codex_branches);
            return;
        }
        let (Some(our_props), Some(codex_props)) = (
            ours["properties"].as_object(),
            codex["properties"].as_object(),
        ) else {
            return;
        };
        for name in our_props.keys() {
            if !codex_props.contains_key(name) {
                self.problems.push(format!(
                    "{at}.{name}: we write it, Codex has no such member"
                ));
            }
        }
        for required in codex["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !our_props.contains_key(name) {
                self.problems
                    .push(format!("{at}.{name}: Codex requires it, our type lacks it"));
            }
        }
        for (name, our_prop) in our_props {
            if let Some(codex_prop) = codex_props.get(name) {
                self.compare(&format!("{at}.{name}"), our_prop, codex_prop);
            }
        }
    }
}

impl Walk<'_> {
    /// Compares the variants of two tagged unions (items, inputs), matched by their `type`.
    fn compare_branches(&mut self, at: &str, ours: &[Value], codex: &[Value]) {
        for our_branch in ours {
            let (resolved, _) = resolve(&self.ours["definitions"], our_branch);
            let Some(tag) = type_tag(resolved) else {
                continue;
            };
            let found = codex.iter().find(|branch| {
                type_tag(resolve(&self.codex["definitions"], branch).0) == Some(tag)
            });
            match found {
                Some(codex_branch) => {
                    self.compare(&format!("{at}<{tag}>"), our_branch, codex_branch)
                }
                None => self.problems.push(format!(
                    "{at}: we write type {tag:?}, Codex has no such variant"
                )),
            }
        }
    }
}

/// The variants of a union schema.
fn branches(schema: &Value) -> Option<&[Value]> {
    schema["oneOf"]
        .as_array()
        .or_else(|| schema["anyOf"].as_array())
        .map(Vec::as_slice)
}

/// The `type` a variant of a tagged union is tagged with.
fn type_tag(schema: &Value) -> Option<&str> {
    let tag = &schema["properties"]["type"];
    tag["enum"][0].as_str().or_else(|| tag["const"].as_str())
}

#[test]
fn every_notification_of_our_table_has_codexs_shape() {
    let ours = read(&paths::repo_root().join("schema/app-server-output.schema.json"));
    let codex = read(&paths::experimental_schema_dir().join("ServerNotification.json"));
    let mut walk = Walk::new(&ours, &codex);
    assert!(!SERVER_NOTIFICATION_SIGNATURES.is_empty());
    for signature in SERVER_NOTIFICATION_SIGNATURES {
        let Some(codex_params) = codex_params(&codex, signature.method) else {
            walk.problems
                .push(format!("{}: not a notification of Codex", signature.method));
            continue;
        };
        let ours_params = serde_json::json!({
            "$ref": format!("#/definitions/{}", signature.params)
        });
        assert!(
            ours["definitions"][signature.params].is_object(),
            "{} is not in our committed schema",
            signature.params
        );
        walk.compare(signature.method, &ours_params, codex_params);
    }
    // Not a vacuous walk: the nested types (items, turns, usage, errors) were compared too.
    assert!(
        walk.seen.len() > 30,
        "only {} types compared",
        walk.seen.len()
    );
    assert!(
        walk.problems.is_empty(),
        "our notification types differ from Codex's:\n{}",
        walk.problems.join("\n")
    );
}

/// The walk finds what it is for: a member Codex does not know, and one it requires.
#[test]
fn the_notification_walk_reports_a_foreign_and_a_missing_member() {
    let ours = serde_json::json!({"definitions": {"N": {"type": "object",
        "properties": {"threadId": {"type": "string"}, "extra": {"type": "string"}}}}});
    let codex = serde_json::json!({"definitions": {"N": {"type": "object",
        "properties": {"threadId": {"type": "string"}, "turnId": {"type": "string"}},
        "required": ["threadId", "turnId"]}}});
    let mut walk = Walk::new(&ours, &codex);
    let reference = serde_json::json!({"$ref": "#/definitions/N"});
    walk.compare("x", &reference, &reference);
    assert_eq!(
        walk.problems,
        [
            "x.extra: we write it, Codex has no such member",
            "x.turnId: Codex requires it, our type lacks it"
        ]
    );
}

/// Tagged unions are walked variant by variant.
#[test]
fn the_notification_walk_matches_union_variants_by_type() {
    let variant = |tag: &str, member: &str| {
        serde_json::json!({"type": "object", "properties": {
            "type": {"type": "string", "enum": [tag]}, member: {"type": "string"}}})
    };
    let ours = serde_json::json!({"definitions": {"Item": {"oneOf": [
        variant("agentMessage", "text"), variant("brandNew", "x")]}}});
    let codex = serde_json::json!({"definitions": {"Item": {"oneOf": [
        variant("agentMessage", "body")]}}});
    let mut walk = Walk::new(&ours, &codex);
    let reference = serde_json::json!({"$ref": "#/definitions/Item"});
    walk.compare("item", &reference, &reference);
    assert_eq!(
        walk.problems,
        [
            "item<agentMessage>.text: we write it, Codex has no such member",
            "item: we write type \"brandNew\", Codex has no such variant"
        ]
    );
}
