//! TypeScript types of the protocol (`agent-host app-server generate-ts --out DIR`; the
//! committed `schema/typescript/` is checked against it), made from our JSON Schema
//! ([`super::schema`]) rather than from a second derive on every protocol type: the schema
//! is already generated from the types, checked against Codex's and committed, so one source
//! describes the wire for both languages, and a new protocol type needs nothing more.
//!
//! The layout follows `codex app-server generate-ts`: one `<Type>.ts` per type with
//! `export type <Type> = …`, an `index.ts` exporting every type and the `v2` namespace,
//! `serde_json/JsonValue.ts` for free-form JSON, and `v2/` (an `index.ts` and one `<Type>.ts`
//! per type) re-exporting the same types, so that the import paths of both Codex
//! namespaces resolve. A type the server both reads and writes gets one definition, in which
//! a member is required only if it is required both ways.
//!
//! Only the schema constructs that `schemars` produces for our types are translated:
//! `$ref`, `allOf` of one schema, `const`, `enum`, `oneOf`/`anyOf`, `type` (one or a list),
//! `properties`/`required`, `additionalProperties`, `items`, and `description` (as JSDoc).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::schema::{INPUT_FILE, OUTPUT_FILE};

/// The first line of every generated file.
const HEADER: &str = "// GENERATED CODE! DO NOT MODIFY BY HAND!\n\
                      // Made by `agent-host app-server generate-ts` from agent-host's protocol types.\n";

/// The free-form JSON type, in the file Codex keeps it in.
const JSON_VALUE: &str = "JsonValue";
const JSON_VALUE_FILE: &str = "serde_json/JsonValue.ts";

/// Generates every file: path relative to the output directory → contents.
pub fn generate() -> Result<BTreeMap<String, String>, serde_json::Error> {
    let schemas = super::schema::generate()?;
    let input: Value = serde_json::from_str(&schemas[INPUT_FILE])?;
    let output: Value = serde_json::from_str(&schemas[OUTPUT_FILE])?;
    Ok(files(&definitions(&input, &output)))
}

/// The definitions of both bundles, one per name.
fn definitions(input: &Value, output: &Value) -> BTreeMap<String, Value> {
    let mut all: BTreeMap<String, Value> = BTreeMap::new();
    for bundle in [input, output] {
        let Some(definitions) = bundle["definitions"].as_object() else {
            continue;
        };
        for (name, schema) in definitions {
            let merged = match all.get(name) {
                Some(seen) => merge(seen, schema),
                None => schema.clone(),
            };
            all.insert(name.clone(), merged);
        }
    }
    all
}

/// One schema for a type described twice: the same structure, where a member is required
/// only if both say so.
fn merge(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let mut merged = Map::new();
            for (key, value) in a {
                let value = match (key.as_str(), b.get(key)) {
                    ("required", Some(Value::Array(other))) => Value::Array(
                        value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|name| other.contains(name))
                            .cloned()
                            .collect(),
                    ),
                    (_, Some(other)) => merge(value, other),
                    (_, None) => value.clone(),
                };
                merged.insert(key.clone(), value);
            }
            for (key, value) in b {
                if !merged.contains_key(key) {
                    merged.insert(key.clone(), value.clone());
                }
            }
            Value::Object(merged)
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            Value::Array(a.iter().zip(b).map(|(a, b)| merge(a, b)).collect())
        }
        _ => a.clone(),
    }
}

fn files(definitions: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut index = String::from(HEADER);
    let mut v2_index = String::from(HEADER);
    index.push('\n');
    v2_index.push('\n');
    for (name, schema) in definitions {
        files.insert(format!("{name}.ts"), type_file(name, schema));
        files.insert(
            format!("v2/{name}.ts"),
            format!("{HEADER}\nexport type {{ {name} }} from \"../{name}\";\n"),
        );
        index.push_str(&format!("export type {{ {name} }} from \"./{name}\";\n"));
        v2_index.push_str(&format!("export type {{ {name} }} from \"../{name}\";\n"));
    }
    index.push_str("export * as v2 from \"./v2\";\n");
    files.insert("index.ts".to_owned(), index);
    files.insert("v2/index.ts".to_owned(), v2_index);
    files.insert(
        JSON_VALUE_FILE.to_owned(),
        format!(
            "{HEADER}\nexport type {JSON_VALUE} = number | string | boolean | Array<{JSON_VALUE}> | \
             {{ [key in string]?: {JSON_VALUE} }} | null;\n"
        ),
    );
    files
}

/// `<Type>.ts`: the imports of the types it names, then the type.
fn type_file(name: &str, schema: &Value) -> String {
    let mut names = BTreeSet::new();
    let body = render(schema, 0, &mut names);
    let mut text = String::from(HEADER);
    text.push('\n');
    names.remove(name);
    if names.remove(JSON_VALUE) {
        text.push_str(&format!(
            "import type {{ {JSON_VALUE} }} from \"./{}\";\n",
            JSON_VALUE_FILE.trim_end_matches(".ts")
        ));
    }
    for used in &names {
        text.push_str(&format!("import type {{ {used} }} from \"./{used}\";\n"));
    }
    if text.ends_with(";\n") {
        text.push('\n');
    }
    text.push_str(&doc_comment(schema, 0));
    text.push_str(&format!("export type {name} = {body};\n"));
    text
}

/// The TypeScript type of `schema`, for a position at `depth` (for indentation); every
/// type it names is added to `names`.
fn render(schema: &Value, depth: usize, names: &mut BTreeSet<String>) -> String {
    let Value::Object(object) = schema else {
        // `true` (anything) or `false` (nothing).
        return if schema == &Value::Bool(false) {
            "never".to_owned()
        } else {
            names.insert(JSON_VALUE.to_owned());
            JSON_VALUE.to_owned()
        };
    };
    if let Some(Value::String(reference)) = object.get("$ref") {
        let name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        names.insert(name.clone());
        return name;
    }
    if let Some(Value::Array(all)) = object.get("allOf")
        && let [only] = all.as_slice()
    {
        return render(only, depth, names);
    }
    if let Some(value) = object.get("const") {
        return value.to_string();
    }
    if let Some(Value::Array(values)) = object.get("enum") {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let variants = object
        .get("oneOf")
        .or_else(|| object.get("anyOf"))
        .and_then(Value::as_array);
    match variants {
        Some(variants) => {
            let union = variants
                .iter()
                .map(|variant| parenthesized(render(variant, depth, names)))
                .collect::<Vec<_>>()
                .join(" | ");
            if object.contains_key("properties") {
                format!("{} & ({union})", render_typed(object, depth, names))
            } else {
                union
            }
        }
        None => render_typed(object, depth, names),
    }
}

/// A union member that is an intersection needs parentheses.
fn parenthesized(text: String) -> String {
    if text.contains(" & ") && !text.starts_with('{') {
        format!("({text})")
    } else {
        text
    }
}

/// The type of a schema by its `type` member (one type or a list of them).
fn render_typed(object: &Map<String, Value>, depth: usize, names: &mut BTreeSet<String>) -> String {
    let types: Vec<&str> = match object.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ if object.contains_key("properties") => vec!["object"],
        _ => {
            names.insert(JSON_VALUE.to_owned());
            return JSON_VALUE.to_owned();
        }
    };
    types
        .iter()
        .map(|kind| match *kind {
            "string" => "string".to_owned(),
            "integer" | "number" => "number".to_owned(),
            "boolean" => "boolean".to_owned(),
            "null" => "null".to_owned(),
            "array" => match object.get("items") {
                Some(items) => format!("Array<{}>", render(items, depth, names)),
                None => {
                    names.insert(JSON_VALUE.to_owned());
                    format!("Array<{JSON_VALUE}>")
                }
            },
            _ => render_object(object, depth, names),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An object type: its properties (optional unless required), or a map.
fn render_object(
    object: &Map<String, Value>,
    depth: usize,
    names: &mut BTreeSet<String>,
) -> String {
    let properties = object.get("properties").and_then(Value::as_object);
    let map = match object.get("additionalProperties") {
        Some(Value::Bool(false)) => None,
        Some(values) => Some(render(values, depth, names)),
        None if properties.is_none() => {
            names.insert(JSON_VALUE.to_owned());
            Some(JSON_VALUE.to_owned())
        }
        None => None,
    };
    let map = map.map(|values| format!("{{ [key in string]?: {values} }}"));
    let Some(properties) = properties.filter(|p| !p.is_empty()) else {
        return map.unwrap_or_else(|| "Record<string, never>".to_owned());
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let indent = "  ".repeat(depth + 1);
    let mut text = String::from("{\n");
    for (name, schema) in properties {
        text.push_str(&doc_comment(schema, depth + 1));
        let optional = if required.contains(&name.as_str()) {
            ""
        } else {
            "?"
        };
        let value = render(schema, depth + 1, names);
        text.push_str(&format!(
            "{indent}{}{optional}: {value};\n",
            property_name(name)
        ));
    }
    text.push_str(&"  ".repeat(depth));
    text.push('}');
    match map {
        Some(map) => format!("{text} & {map}"),
        None => text,
    }
}

/// A property name as TypeScript needs it: bare when it is an identifier, else quoted.
fn property_name(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_owned()
    } else {
        Value::String(name.to_owned()).to_string()
    }
}

/// The schema's `description` as a JSDoc comment at `depth`, or nothing.
fn doc_comment(schema: &Value, depth: usize) -> String {
    let Some(description) = schema.get("description").and_then(Value::as_str) else {
        return String::new();
    };
    let indent = "  ".repeat(depth);
    let mut text = format!("{indent}/**\n");
    for line in description.replace("*/", "*\\/").lines() {
        let line = line.trim_end();
        if line.is_empty() {
            text.push_str(&format!("{indent} *\n"));
        } else {
            text.push_str(&format!("{indent} * {line}\n"));
        }
    }
    text.push_str(&format!("{indent} */\n"));
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(schema: Value) -> String {
        type_file("T", &schema)
    }

    #[test]
    fn objects_unions_and_references_become_types() {
        let text = one(json!({
            "description": "A thing.",
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "count": {"type": ["integer", "null"], "format": "int64"},
                "kind": {"$ref": "#/definitions/Kind"},
                "text_elements": {"type": "array", "items": {"$ref": "#/definitions/Element"}},
                "_meta": true,
                "odd-name": {"enum": ["a", "b"]}
            },
            "required": ["id", "kind"]
        }));
        assert_eq!(
            text,
            format!(
                "{HEADER}\nimport type {{ JsonValue }} from \"./serde_json/JsonValue\";\n\
                 import type {{ Element }} from \"./Element\";\n\
                 import type {{ Kind }} from \"./Kind\";\n\n\
                 /**\n * A thing.\n */\n\
                 export type T = {{\n  id: string;\n  count?: number | null;\n  kind: Kind;\n  \
                 text_elements?: Array<Element>;\n  _meta?: JsonValue;\n  \"odd-name\"?: \"a\" | \"b\";\n}};\n"
            )
        );
    }

    #[test]
    fn tagged_variants_flattened_members_and_maps() {
        let text = one(json!({
            "oneOf": [
                {"type": "object", "properties": {"type": {"const": "idle", "type": "string"}},
                 "required": ["type"]},
                {"type": "object", "properties": {"type": {"const": "active"}, "flags":
                 {"type": "array", "items": {"type": "string"}}}, "required": ["type", "flags"]}
            ],
            "properties": {"at": {"type": "integer"}},
            "required": ["at"],
            "type": "object"
        }));
        assert!(
            text.contains(
                "export type T = {\n  at: number;\n} & ({\n  type: \"idle\";\n} | {\n  type: \"active\";\n  flags: Array<string>;\n});"
            ),
            "{text}"
        );
        let map = one(json!({"type": "object", "additionalProperties": {"type": "string"}}));
        assert!(
            map.contains("export type T = { [key in string]?: string };"),
            "{map}"
        );
    }

    #[test]
    fn a_type_read_and_written_is_required_only_where_both_require_it() {
        let input = json!({"definitions": {"T": {"type": "object", "properties":
            {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a"]}}});
        let output = json!({"definitions": {"T": {"type": "object", "properties":
            {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a", "b"]}}});
        let merged = definitions(&input, &output);
        assert_eq!(merged["T"]["required"], json!(["a"]));
    }

    #[test]
    fn every_type_has_its_file_its_index_line_and_its_v2_path() {
        let files = generate().expect("generate");
        let index = &files["index.ts"];
        for name in [
            "ThreadStartParams",
            "ServerNotification",
            "ClientRequest",
            "Thread",
        ] {
            assert!(files.contains_key(&format!("{name}.ts")), "{name}.ts");
            assert!(files.contains_key(&format!("v2/{name}.ts")), "v2/{name}.ts");
            assert!(index.contains(&format!("export type {{ {name} }} from \"./{name}\";")));
        }
        assert!(files.contains_key(JSON_VALUE_FILE));
        assert_eq!(generate().expect("again"), files, "deterministic");
    }
}
