//! Expected-message patterns: JSON with wildcards, matched against what a server wrote, and the
//! reverse (`generalize`) that turns an actual message into a pattern for bless mode.
//!
//! Whole-value wildcards (a JSON string that is exactly the token):
//! `"<ms>"` a time in milliseconds since the epoch, `"<secs>"` one in seconds, `"<int>"` an
//! integer, `"<uuid>"` a UUID string, `"<fill:C*N>"` a string of N times the character C,
//! `"<$name>"` bound at first sight and equal at every later use (a name of the kinds bless
//! writes, `thread1`, `turn2`, `item3`, `id4`, binds only a UUID), and the wide ones kept for
//! hand-written checks, `"<string>"` any string and `"<*>"` any value.
//! Inside strings: `<state_dir>`, `<work_dir>`, `<sandbox>` and `<repo>` stand for the test's
//! paths, `<version>`, `<os_release>` and `<arch>` for facts of the build and the machine,
//! `<$name>` for a bound value (or binds the shortest text that fits), `<*>` any text.
//! Objects match key by key (no key may be missing or extra); arrays match by position.
//!
//! A fixture's patterns must be as narrow as their fields allow: [`too_wide`] lists every
//! place where one is wider, and the transcript tests fail on any.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Variables bound while a transcript runs, and the path placeholders of its sandbox.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    vars: BTreeMap<String, Value>,
    /// `(placeholder, text)`, longest text first so nested paths are replaced innermost first.
    paths: Vec<(String, String)>,
    /// `(placeholder, text)` of the build and the machine (`<version>`, `<os_release>`,
    /// `<arch>`); bless writes them only into `userAgent`, where they are known to stand.
    facts: Vec<(String, String)>,
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

    /// Declares a placeholder for a fact of the build or the machine, such as `<arch>`.
    pub fn add_fact(&mut self, placeholder: &str, text: &str) {
        self.facts.push((placeholder.to_owned(), text.to_owned()));
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
                Token::Rfc3339 => out.push_str("<rfc3339>"),
            }
        }
        Ok(out)
    }

    fn path_text<'a>(&'a self, placeholder: &'a str) -> &'a str {
        self.paths
            .iter()
            .chain(&self.facts)
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
    match pattern {
        Value::String(text) => match_string(text, actual, bindings, path),
        Value::Object(expected) => match_object(expected, actual, bindings, path, shape),
        Value::Array(expected) => match_array(expected, actual, bindings, path, shape),
        _ if pattern == actual => Ok(()),
        _ => mismatch(path, format!("expected {pattern}, found {actual}")),
    }
}

fn mismatch(path: &str, reason: String) -> Result<(), Mismatch> {
    Err(Mismatch {
        path: path.to_owned(),
        reason,
    })
}

/// A string pattern: a whole variable (bound, or bound now), a whole wildcard, or a template.
fn match_string(
    text: &str,
    actual: &Value,
    bindings: &mut Bindings,
    path: &str,
) -> Result<(), Mismatch> {
    if let Some(name) = whole_var(text) {
        return match bindings.get(name) {
            Some(bound) if bound == actual => Ok(()),
            Some(bound) => mismatch(
                path,
                format!("<${name}> is bound to {bound}, found {actual}"),
            ),
            None if binds_only_uuids(name) && !actual.as_str().is_some_and(is_uuid) => {
                mismatch(path, format!("<${name}> binds a UUID, found {actual}"))
            }
            None => {
                bindings.bind(name, actual.clone());
                Ok(())
            }
        };
    }
    if let Some(expected) = whole_wildcard(text) {
        return if expected.matches(actual) {
            Ok(())
        } else {
            mismatch(path, format!("expected {text}, found {actual}"))
        };
    }
    match actual {
        Value::String(actual_text) if match_template(&tokenize(text), actual_text, bindings) => {
            Ok(())
        }
        _ => mismatch(
            path,
            format!("expected {}, found {actual}", Value::from(text)),
        ),
    }
}

/// An object pattern: every key matches; with `Shape::Exact`, no other key is there.
fn match_object(
    expected: &Map<String, Value>,
    actual: &Value,
    bindings: &mut Bindings,
    path: &mut String,
    shape: Shape,
) -> Result<(), Mismatch> {
    let Value::Object(found) = actual else {
        return mismatch(path, format!("expected an object, found {actual}"));
    };
    for (key, sub) in expected {
        let Some(value) = found.get(key) else {
            return mismatch(path, format!("missing key {key:?}"));
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
        return mismatch(
            path,
            format!("unexpected key {extra:?} = {}", found[extra.as_str()]),
        );
    }
    Ok(())
}

/// An array pattern: as many elements, each matching.
fn match_array(
    expected: &[Value],
    actual: &Value,
    bindings: &mut Bindings,
    path: &mut String,
    shape: Shape,
) -> Result<(), Mismatch> {
    let Value::Array(found) = actual else {
        return mismatch(path, format!("expected an array, found {actual}"));
    };
    if expected.len() != found.len() {
        return mismatch(
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

/// One piece of a string pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(String),
    Path(String),
    Var(String),
    /// `<rfc3339>`: a UTC time as `2026-11-23T08:05:17Z` or `2026-11-23T08:05:17.123Z`.
    Rfc3339,
    Any,
}

/// The placeholders inside strings that stand for a text of the test (`Bindings::add_path`).
const PATH_PLACEHOLDERS: [&str; 8] = [
    "<state_dir>",
    "<work_dir>",
    "<sandbox>",
    "<repo>",
    "<agent_host>",
    "<version>",
    "<os_release>",
    "<arch>",
];

/// A whole-value wildcard other than a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    Any,
    String,
    Int,
    Secs,
    Ms,
    Uuid,
    Fill(char, usize),
}

/// Epoch times a test can meet: from 2001 to 2286.
const SECS: std::ops::Range<u64> = 1_000_000_000..10_000_000_000;
const MS: std::ops::Range<u64> = 1_000_000_000_000..10_000_000_000_000;

impl Wildcard {
    /// How a pattern writes it.
    fn token(self) -> String {
        match self {
            Wildcard::Any => "<*>".to_owned(),
            Wildcard::String => "<string>".to_owned(),
            Wildcard::Int => "<int>".to_owned(),
            Wildcard::Secs => "<secs>".to_owned(),
            Wildcard::Ms => "<ms>".to_owned(),
            Wildcard::Uuid => "<uuid>".to_owned(),
            Wildcard::Fill(ch, count) => format!("<fill:{ch}*{count}>"),
        }
    }

    fn matches(self, actual: &Value) -> bool {
        match self {
            Wildcard::Any => true,
            Wildcard::String => actual.is_string(),
            Wildcard::Int => actual.is_i64() || actual.is_u64(),
            Wildcard::Secs => actual.as_u64().is_some_and(|n| SECS.contains(&n)),
            Wildcard::Ms => actual.as_u64().is_some_and(|n| MS.contains(&n)),
            Wildcard::Uuid => actual.as_str().is_some_and(is_uuid),
            Wildcard::Fill(ch, count) => actual.as_str().is_some_and(|text| {
                text.len() == ch.len_utf8() * count && text.chars().all(|c| c == ch)
            }),
        }
    }
}

/// The wildcard a whole pattern string is, if it is one.
fn whole_wildcard(text: &str) -> Option<Wildcard> {
    Some(match text {
        "<*>" => Wildcard::Any,
        "<string>" => Wildcard::String,
        "<int>" => Wildcard::Int,
        "<secs>" => Wildcard::Secs,
        "<ms>" => Wildcard::Ms,
        "<uuid>" => Wildcard::Uuid,
        _ => {
            let (ch, count) = text
                .strip_prefix("<fill:")?
                .strip_suffix('>')?
                .split_once('*')?;
            let mut chars = ch.chars();
            let (Some(ch), None) = (chars.next(), chars.next()) else {
                return None;
            };
            Wildcard::Fill(ch, count.parse().ok()?)
        }
    })
}

/// Whether the variable `name` is of a kind bless writes for UUIDs (`thread1`, `turn2`,
/// `item3`, `id4`), so that its first sight binds only a UUID.
fn binds_only_uuids(name: &str) -> bool {
    ["thread", "turn", "item", "id"].iter().any(|kind| {
        name.strip_prefix(kind)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// The narrowest whole-value wildcard a field may have, by its key: times in milliseconds
/// (`…AtMs`) are `<ms>`, Codex's times in seconds `<secs>`, durations `<int>`; any other field
/// takes no type wildcard (write the value, a variable, or `<uuid>`).
fn allowed_wildcard(key: Option<&str>) -> Option<Wildcard> {
    match key? {
        key if key.ends_with("AtMs") => Some(Wildcard::Ms),
        key if is_secs_key(key) => Some(Wildcard::Secs),
        // Durations: Codex's `durationMs` of a turn, `timeUsedSeconds` of a goal.
        "durationMs" | "timeUsedSeconds" => Some(Wildcard::Int),
        _ => None,
    }
}

/// Keys whose values are Codex's times in seconds since the epoch.
fn is_secs_key(key: &str) -> bool {
    matches!(
        key,
        "createdAt" | "updatedAt" | "startedAt" | "completedAt" | "recencyAt"
    )
}

/// Every place in `pattern` (a fixture's expected server message) where a wildcard is wider
/// than its field allows, as `pointer: why`: `<*>` anywhere, `<string>`, and a type wildcard
/// other than the one [`allowed_wildcard`] names for its key. Empty when the pattern is as
/// narrow as it can be.
pub fn too_wide(pattern: &Value) -> Vec<String> {
    let mut found = Vec::new();
    too_wide_at(pattern, None, &mut String::new(), &mut found);
    found
}

fn too_wide_at(pattern: &Value, key: Option<&str>, path: &mut String, found: &mut Vec<String>) {
    match pattern {
        Value::String(text) => {
            if let Some(wildcard) = whole_wildcard(text) {
                let fits = match wildcard {
                    Wildcard::Uuid | Wildcard::Fill(..) => true,
                    other => allowed_wildcard(key) == Some(other),
                };
                if !fits {
                    let narrow = allowed_wildcard(key).map_or_else(
                        || "the value itself, a variable or <uuid>".to_owned(),
                        Wildcard::token,
                    );
                    found.push(format!(
                        "{path}: {text} is wider than the field allows ({narrow})"
                    ));
                }
            } else if tokenize(text).contains(&Token::Any) {
                found.push(format!("{path}: <*> inside {text:?} matches any text"));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{index}"));
                too_wide_at(item, None, path, found);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (sub_key, value) in map {
                let len = path.len();
                path.push('/');
                path.push_str(sub_key);
                too_wide_at(value, Some(sub_key), path, found);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

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
            } else if rest.starts_with("<rfc3339>") {
                Some((Token::Rfc3339, "<rfc3339>".len()))
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
        Token::Rfc3339 => [20, 24].iter().any(|&len| {
            text.get(..len).is_some_and(is_rfc3339) && match_template(rest, &text[len..], bindings)
        }),
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

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ`, digits where digits belong.
fn is_rfc3339(text: &str) -> bool {
    let shape = match text.len() {
        20 => "dddd-dd-ddTdd:dd:ddZ",
        24 => "dddd-dd-ddTdd:dd:dd.dddZ",
        _ => return false,
    };
    text.chars()
        .zip(shape.chars())
        .all(|(ch, want)| match want {
            'd' => ch.is_ascii_digit(),
            other => ch == other,
        })
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, ch)| match index {
            8 | 13 | 18 | 23 => ch == '-',
            _ => ch.is_ascii_hexdigit(),
        })
}

/// Turns an actual message into a pattern (bless mode): integers under time keys become the
/// narrowest wildcard of their key (`"<ms>"`, `"<secs>"`, `"<int>"` for durations), the
/// test's paths and machine facts become placeholders, and every UUID becomes a variable, named
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
        Value::Number(_) if allowed_wildcard(key).is_some_and(|w| w.matches(actual)) => {
            Value::String(allowed_wildcard(key).expect("checked").token())
        }
        Value::String(text) if is_uuid(text) => {
            let name = uuid_var(text, kind_of(key, parent_key), bindings);
            Value::String(format!("<${name}>"))
        }
        Value::String(text) if key == Some("userAgent") => {
            let mut text = text.clone();
            for (placeholder, fact) in &bindings.facts {
                text = text.replacen(fact.as_str(), placeholder, 1);
            }
            Value::String(text)
        }
        Value::String(text) if text.len() > 256 && text.chars().all(|c| text.starts_with(c)) => {
            let ch = text.chars().next().expect("long");
            Value::String(Wildcard::Fill(ch, text.chars().count()).token())
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
        if let Some(len) = [24, 20]
            .into_iter()
            .find(|&len| rest.get(..len).is_some_and(is_rfc3339))
        {
            out.push_str("<rfc3339>");
            rest = &rest[len..];
        } else if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
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
        let actual = json!({"method": "thread/started", "emittedAtMs": 1_764_000_000_123_u64, "params": {"thread": {"id": t, "createdAt": 1_764_000_000, "path": format!("/tmp/x/state/threads/{t}")}, "count": 2}});
        let pattern = generalize(&actual, &mut b);
        assert_eq!(
            pattern,
            json!({"method": "thread/started", "emittedAtMs": "<ms>", "params": {"thread": {"id": "<$thread1>", "createdAt": "<secs>", "path": "<state_dir>/threads/<$thread1>"}, "count": 2}})
        );
        let mut fresh = Bindings::new();
        fresh.add_path("<state_dir>", "/tmp/x/state");
        assert_eq!(match_value(&pattern, &actual, &mut fresh), Ok(()));
        assert_eq!(
            fresh.substitute(&json!({"threadId": "<$thread1>"})),
            Ok(json!({"threadId": t}))
        );
    }

    #[test]
    fn narrow_wildcards_check_ranges_uuids_times_and_fills() {
        let mut b = Bindings::new();
        assert!(match_value(&json!("<ms>"), &json!(1_764_000_000_123_u64), &mut b).is_ok());
        assert!(match_value(&json!("<ms>"), &json!(1_764_000_000), &mut b).is_err());
        assert!(match_value(&json!("<secs>"), &json!(1_764_000_000), &mut b).is_ok());
        assert!(match_value(&json!("<secs>"), &json!(1_764_000_000_123_u64), &mut b).is_err());
        assert!(match_value(&json!("<secs>"), &json!(-5), &mut b).is_err());
        assert!(match_value(&json!("<$thread1>"), &json!("not-a-uuid"), &mut b).is_err());
        assert!(match_value(&json!("<$name>"), &json!("anything"), &mut b).is_ok());
        assert!(match_value(&json!("<fill:n*3>"), &json!("nnn"), &mut b).is_ok());
        assert!(match_value(&json!("<fill:n*3>"), &json!("nnnn"), &mut b).is_err());
        assert!(match_value(&json!("<fill:n*3>"), &json!("nmn"), &mut b).is_err());
        let cursor = json!("<rfc3339>|x");
        assert!(match_value(&cursor, &json!("2026-11-23T08:05:17Z|x"), &mut b).is_ok());
        assert!(match_value(&cursor, &json!("2026-11-23T08:05:17.123Z|x"), &mut b).is_ok());
        assert!(match_value(&cursor, &json!("2026-11-23 08:05:17Z|x"), &mut b).is_err());
    }

    #[test]
    fn a_pattern_wider_than_its_field_is_found() {
        let narrow = json!({"id": 1, "emittedAtMs": "<ms>", "params": {"thread": {"id": "<$thread1>",
            "createdAt": "<secs>", "durationMs": "<int>", "name": "<fill:x*300>",
            "cursor": "<rfc3339>|<$thread1>", "other": "<uuid>"}}});
        assert_eq!(too_wide(&narrow), Vec::<String>::new());
        let wide = json!({"emittedAtMs": "<int>", "params": {"thread": {"id": "<string>",
            "createdAt": "<ms>", "preview": "<*>", "items": ["<int>"],
            "error": {"message": "failed: <*>"}}}});
        let found = too_wide(&wide);
        let places: Vec<&str> = found.iter().map(|f| f.split(':').next().unwrap()).collect();
        assert_eq!(
            places,
            [
                "/emittedAtMs",
                "/params/thread/id",
                "/params/thread/createdAt",
                "/params/thread/preview",
                "/params/thread/items/0",
                "/params/thread/error/message"
            ],
            "{found:#?}"
        );
        assert!(found[0].contains("(<ms>)"), "{}", found[0]);
    }
}
