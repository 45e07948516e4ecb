//! Expected-message patterns: JSON with wildcards, matched against what a server wrote, and the
//! reverse (`generalize`) that turns an actual message into a pattern for bless mode.
//!
//! Whole-value wildcards (a JSON string that is exactly the token):
//! `"<*>"` any value, `"<int>"` an integer, `"<string>"` a string, `"<uuid>"` a UUID string,
//! `"<$name>"` any value, bound at first sight and equal at every later use.
//! Inside strings: `<state_dir>`, `<work_dir>` and `<sandbox>` stand for the test's temp
//! paths, `<$name>` for a bound value (or binds the shortest text that fits), `<*>` any text.
//! Objects match key by key (no key may be missing or extra); arrays match by position.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Variables bound while a transcript runs, and the path placeholders of its sandbox.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    vars: BTreeMap<String, Value>,
    /// `(placeholder, text)`, longest text first so nested paths are replaced innermost first.
    paths: Vec<(String, String)>,
}

/// Where and why a pattern did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// A JSON pointer into the actual message.
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "at {at}: {}", self.reason)
    }
}

impl Bindings {
    pub fn new() -> Bindings {
        Bindings::default()
    }

    /// Declares a path placeholder such as `<state_dir>`.
    pub fn add_path(&mut self, placeholder: &str, text: &str) {
        self.paths.push((placeholder.to_owned(), text.to_owned()));
        self.paths
            .sort_by_key(|(_, text)| std::cmp::Reverse(text.len()));
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    pub fn bind(&mut self, name: &str, value: Value) {
        self.vars.insert(name.to_owned(), value);
    }

    /// The name bound to exactly this value, if any.
    pub fn name_of(&self, value: &Value) -> Option<&str> {
        self.vars
            .iter()
            .find(|(_, bound)| *bound == value)
            .map(|(name, _)| name.as_str())
    }

    /// Replaces `<$name>` and path placeholders in every string of `template` (a message to
    /// send). A whole-string `"<$name>"` becomes the bound value itself, of any JSON type.
    pub fn substitute(&self, template: &Value) -> Result<Value, String> {
        Ok(match template {
            Value::String(text) => match whole_var(text) {
                Some(name) => self
                    .vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("variable <${name}> is used before it is bound"))?,
                None => Value::String(self.substitute_str(text)?),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.substitute(item))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, value) in map {
                    out.insert(key.clone(), self.substitute(value)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Replaces `<$name>` and path placeholders inside one string.
    pub fn substitute_str(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        for token in tokenize(text) {
            match token {
                Token::Lit(lit) => out.push_str(&lit),
                Token::Path(placeholder) => out.push_str(self.path_text(&placeholder)),
                Token::Var(name) => match self.vars.get(&name) {
                    Some(value) => out.push_str(&value_text(value)),
                    None => return Err(format!("variable <${name}> is used before it is bound")),
                },
                Token::Any => out.push_str("<*>"),
            }
        }
        Ok(out)
    }

    fn path_text<'a>(&'a self, placeholder: &'a str) -> &'a str {
        self.paths
            .iter()
            .find(|(name, _)| name == placeholder)
            .map_or(placeholder, |(_, text)| text.as_str())
    }
}

/// Matches `actual` against `pattern`, binding variables in `bindings` on success. On failure
/// `bindings` is left unchanged.
pub fn match_value(
    pattern: &Value,
    actual: &Value,
    bindings: &mut Bindings,
) -> Result<(), Mismatch> {
    let mut trial = bindings.clone();
    match_at(
        pattern,
        actual,
        &mut trial,
        &mut String::new(),
        Shape::Exact,
    )?;
    *bindings = trial;
    Ok(())
}

/// Like `match_value`, but objects in `pattern` may leave keys of `actual` out.
pub fn match_subset(
    pattern: &Value,
    actual: &Value,
    bindings: &mut Bindings,
) -> Result<(), Mismatch> {
    let mut trial = bindings.clone();
    match_at(
        pattern,
        actual,
        &mut trial,
        &mut String::new(),
        Shape::Subset,
    )?;
    *bindings = trial;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Exact,
    Subset,
}

fn match_at(
    pattern: &Value,
    actual: &Value,
    bindings: &mut Bindings,
    path: &mut String,
    shape: Shape,
) -> Result<(), Mismatch> {
    let fail = |path: &str, reason: String| {
        Err(Mismatch {
            path: path.to_owned(),
            reason,
        })
    };
    match pattern {
        Value::String(text) => {
            if let Some(name) = whole_var(text) {
                return match bindings.get(name) {
                    Some(bound) if bound == actual => Ok(()),
                    Some(bound) => fail(
                        path,
                        format!("<${name}> is bound to {bound}, found {actual}"),
                    ),
                    None => {
                        bindings.bind(name, actual.clone());
                        Ok(())
                    }
                };
            }
            match text.as_str() {
                "<*>" => Ok(()),
                "<int>" if actual.is_i64() || actual.is_u64() => Ok(()),
                "<string>" if actual.is_string() => Ok(()),
                "<uuid>" if actual.as_str().is_some_and(is_uuid) => Ok(()),
                "<int>" | "<string>" | "<uuid>" => {
                    fail(path, format!("expected {text}, found {actual}"))
                }
                _ => match actual {
                    Value::String(actual_text) => {
                        if match_template(&tokenize(text), actual_text, bindings) {
                            Ok(())
                        } else {
                            fail(path, format!("expected {pattern}, found {actual}"))
                        }
                    }
                    _ => fail(path, format!("expected {pattern}, found {actual}")),
                },
            }
        }
        Value::Object(expected) => {
            let Value::Object(found) = actual else {
                return fail(path, format!("expected an object, found {actual}"));
            };
            for (key, sub) in expected {
                let Some(value) = found.get(key) else {
                    return fail(path, format!("missing key {key:?}"));
                };
                let len = path.len();
                path.push('/');
                path.push_str(key);
                match_at(sub, value, bindings, path, shape)?;
                path.truncate(len);
            }
            if shape == Shape::Exact
                && let Some(extra) = found.keys().find(|key| !expected.contains_key(*key))
            {
                return fail(
                    path,
                    format!("unexpected key {extra:?} = {}", found[extra.as_str()]),
                );
            }
            Ok(())
        }
        Value::Array(expected) => {
            let Value::Array(found) = actual else {
                return fail(path, format!("expected an array, found {actual}"));
            };
            if expected.len() != found.len() {
                return fail(
                    path,
                    format!(
                        "expected {} elements, found {}: {actual}",
                        expected.len(),
                        found.len()
                    ),
                );
            }
            for (index, (sub, value)) in expected.iter().zip(found).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{index}"));
                match_at(sub, value, bindings, path, shape)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ if pattern == actual => Ok(()),
        _ => fail(path, format!("expected {pattern}, found {actual}")),
    }
}

/// One piece of a string pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(String),
    Path(String),
    Var(String),
    Any,
}

const PATH_PLACEHOLDERS: [&str; 3] = ["<state_dir>", "<work_dir>", "<sandbox>"];

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let special =
            if let Some(placeholder) = PATH_PLACEHOLDERS.iter().find(|p| rest.starts_with(**p)) {
                Some((Token::Path((*placeholder).to_owned()), placeholder.len()))
            } else if rest.starts_with("<*>") {
                Some((Token::Any, 3))
            } else {
                rest.strip_prefix("<$")
                    .and_then(var_name_prefix)
                    .map(|name| (Token::Var(name.to_owned()), name.len() + 3))
            };
        match special {
            Some((token, len)) => {
                if !lit.is_empty() {
                    tokens.push(Token::Lit(std::mem::take(&mut lit)));
                }
                tokens.push(token);
                rest = &rest[len..];
            }
            None => {
                let ch = rest.chars().next().expect("non-empty");
                lit.push(ch);
                rest = &rest[ch.len_utf8()..];
            }
        }
    }
    if !lit.is_empty() {
        tokens.push(Token::Lit(lit));
    }
    tokens
}

/// `name` when `rest` (after `<$`) starts with `name>`.
fn var_name_prefix(rest: &str) -> Option<&str> {
    let end = rest.find('>')?;
    let name = &rest[..end];
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    valid.then_some(name)
}

/// `name` when the whole string is `<$name>`.
fn whole_var(text: &str) -> Option<&str> {
    let name = text.strip_prefix("<$")?.strip_suffix('>')?;
    (var_name_prefix(&format!("{name}>")) == Some(name)).then_some(name)
}

fn match_template(tokens: &[Token], text: &str, bindings: &mut Bindings) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return text.is_empty();
    };
    match first {
        Token::Lit(lit) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|after| match_template(rest, after, bindings)),
        Token::Path(placeholder) => {
            let path = bindings.path_text(placeholder).to_owned();
            text.strip_prefix(path.as_str())
                .is_some_and(|after| match_template(rest, after, bindings))
        }
        Token::Var(name) => match bindings.get(name) {
            Some(bound) => {
                let bound = value_text(bound);
                text.strip_prefix(bound.as_str())
                    .is_some_and(|after| match_template(rest, after, bindings))
            }
            None => {
                for end in char_boundaries(text) {
                    let mut trial = bindings.clone();
                    trial.bind(name, Value::String(text[..end].to_owned()));
                    if match_template(rest, &text[end..], &mut trial) {
                        *bindings = trial;
                        return true;
                    }
                }
                false
            }
        },
        Token::Any => char_boundaries(text).any(|end| {
            let mut trial = bindings.clone();
            let ok = match_template(rest, &text[end..], &mut trial);
            if ok {
                *bindings = trial;
            }
            ok
        }),
    }
}

fn char_boundaries(text: &str) -> impl Iterator<Item = usize> + '_ {
    (0..=text.len()).filter(|index| text.is_char_boundary(*index))
}

/// The text a bound value stands for inside a string.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, ch)| match index {
            8 | 13 | 18 | 23 => ch == '-',
            _ => ch.is_ascii_hexdigit(),
        })
}

/// Keys whose integer values are times or durations, so bless writes `"<int>"` for them.
pub fn is_time_key(key: &str) -> bool {
    matches!(
        key,
        "createdAt" | "updatedAt" | "startedAt" | "completedAt" | "durationMs"
    ) || key.ends_with("AtMs")
        || key.ends_with("At")
}

/// Keys whose string values describe the machine the test runs on (kernel version, OS), so
/// bless writes `"<string>"` for them.
pub fn is_machine_key(key: &str) -> bool {
    matches!(key, "userAgent")
}

/// Turns an actual message into a pattern (bless mode): integers under time keys become
/// `"<int>"`, strings under machine keys (`userAgent`) `"<string>"`, the sandbox paths become placeholders, and every UUID becomes a variable, named
/// after what it identifies (`<$thread1>`, `<$turn1>`, `<$item1>`, `<$id1>`) and reused where
/// the same UUID appears again. New variables are bound in `bindings`.
pub fn generalize(actual: &Value, bindings: &mut Bindings) -> Value {
    generalize_at(actual, None, None, bindings)
}

fn generalize_at(
    actual: &Value,
    key: Option<&str>,
    parent_key: Option<&str>,
    bindings: &mut Bindings,
) -> Value {
    match actual {
        Value::Number(_)
            if key.is_some_and(is_time_key) && (actual.is_i64() || actual.is_u64()) =>
        {
            Value::String("<int>".to_owned())
        }
        Value::String(_) if key.is_some_and(is_machine_key) => Value::String("<string>".to_owned()),
        Value::String(text) if is_uuid(text) => {
            let name = uuid_var(text, kind_of(key, parent_key), bindings);
            Value::String(format!("<${name}>"))
        }
        Value::String(text) => Value::String(generalize_str(text, bindings)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| generalize_at(item, None, key, bindings))
                .collect(),
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (sub_key, value) in map {
                out.insert(
                    sub_key.clone(),
                    generalize_at(value, Some(sub_key), key, bindings),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn kind_of(key: Option<&str>, parent_key: Option<&str>) -> &'static str {
    match (key, parent_key) {
        (Some("threadId"), _) | (Some("id"), Some("thread")) => "thread",
        (Some("turnId"), _) | (Some("id"), Some("turn")) => "turn",
        (Some("itemId"), _) | (Some("id"), Some("item")) => "item",
        _ => "id",
    }
}

fn uuid_var(uuid: &str, kind: &str, bindings: &mut Bindings) -> String {
    let value = Value::String(uuid.to_owned());
    if let Some(name) = bindings.name_of(&value) {
        return name.to_owned();
    }
    let name = (1..)
        .map(|n| format!("{kind}{n}"))
        .find(|name| bindings.get(name).is_none())
        .expect("an unused name");
    bindings.bind(&name, value);
    name
}

fn generalize_str(text: &str, bindings: &mut Bindings) -> String {
    let mut text = text.to_owned();
    for (placeholder, path) in bindings.paths.clone() {
        if !path.is_empty() {
            text = text.replace(&path, &placeholder);
        }
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
            let name = uuid_var(&rest[..36], "id", bindings);
            out.push_str(&format!("<${name}>"));
            rest = &rest[36..];
        } else {
            let ch = rest.chars().next().expect("non-empty");
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn wildcards_bind_and_compare() {
        let mut b = Bindings::new();
        b.add_path("<state_dir>", "/tmp/x/state");
        let pattern = json!({"id": "<int>", "result": {"thread": {"id": "<$t>", "path": "<state_dir>/threads/<$t>"}, "at": "<*>"}});
        let actual = json!({"id": 3, "result": {"thread": {"id": "abc", "path": "/tmp/x/state/threads/abc"}, "at": [1]}});
        assert_eq!(match_value(&pattern, &actual, &mut b), Ok(()));
        assert_eq!(b.get("t"), Some(&json!("abc")));

        let other = json!({"threadId": "<$t>"});
        let err = match_value(&other, &json!({"threadId": "def"}), &mut b).unwrap_err();
        assert_eq!(err.path, "/threadId");
    }

    #[test]
    fn objects_must_have_exactly_the_expected_keys() {
        let mut b = Bindings::new();
        let err = match_value(&json!({"a": 1}), &json!({"a": 1, "b": 2}), &mut b).unwrap_err();
        assert!(err.reason.contains("unexpected key \"b\""), "{err}");
        let err = match_value(&json!({"a": 1, "b": 2}), &json!({"a": 1}), &mut b).unwrap_err();
        assert!(err.reason.contains("missing key \"b\""), "{err}");
        assert_eq!(
            match_subset(&json!({"a": 1}), &json!({"a": 1, "b": 2}), &mut b),
            Ok(())
        );
    }

    #[test]
    fn type_wildcards_check_types() {
        let mut b = Bindings::new();
        assert!(match_value(&json!("<int>"), &json!("1"), &mut b).is_err());
        assert!(match_value(&json!("<string>"), &json!(1), &mut b).is_err());
        assert!(
            match_value(
                &json!("<uuid>"),
                &json!("019a0000-0000-7000-8000-000000000000"),
                &mut b
            )
            .is_ok()
        );
        assert!(match_value(&json!("<uuid>"), &json!("not-a-uuid"), &mut b).is_err());
    }

    #[test]
    fn generalize_names_ids_times_and_paths() {
        let mut b = Bindings::new();
        b.add_path("<state_dir>", "/tmp/x/state");
        let t = "019a0000-0000-7000-8000-000000000001";
        let actual = json!({"method": "thread/started", "emittedAtMs": 5, "params": {"thread": {"id": t, "createdAt": 7, "path": format!("/tmp/x/state/threads/{t}")}, "count": 2}});
        let pattern = generalize(&actual, &mut b);
        assert_eq!(
            pattern,
            json!({"method": "thread/started", "emittedAtMs": "<int>", "params": {"thread": {"id": "<$thread1>", "createdAt": "<int>", "path": "<state_dir>/threads/<$thread1>"}, "count": 2}})
        );
        let mut fresh = Bindings::new();
        fresh.add_path("<state_dir>", "/tmp/x/state");
        assert_eq!(match_value(&pattern, &actual, &mut fresh), Ok(()));
        assert_eq!(
            fresh.substitute(&json!({"threadId": "<$thread1>"})),
            Ok(json!({"threadId": t}))
        );
    }
}
