//! The transcript fixture format: one JSON object per line (`docs/testing.md`).
//!
//! - `{"dir":"c2s","msg":<json>}` sends the message as one compact line; a `msg` that is a JSON
//!   string is sent verbatim (invalid JSON, a blank line); `"newline":false` leaves out the
//!   final newline.
//! - `{"dir":"c2s","generate":{"prefix":…,"fill":"x","bytes":N,"suffix":…}}` sends a generated
//!   line of exactly N bytes (before the newline): prefix, fill repeated, suffix.
//! - `{"dir":"s2c","msg":<pattern>}` expects the next line the server writes.
//! - `{"dir":"ctl","ctl":…}` directives: `restart`, `closeStdin`, `expectExit` (`code`),
//!   `spawn`, `env` (`env`: name → value or null), `args` (`args`), `settle` (`until`),
//!   `timeout` (`ms`), `file` (`path`, and `from` or `text`).
//!
//! Blank lines and lines starting with `#` are comments. `t_ms` is accepted and ignored, so a
//! real capture reads as a fixture.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

/// One line of a fixture.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written, kept so bless mode can write it back unchanged.
    pub raw: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone)]
pub enum EntryKind {
    Comment,
    Send(Send),
    Expect(Value),
    Ctl(Ctl),
}

/// Whether a sent line ends with a newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newline {
    Yes,
    No,
}

#[derive(Debug, Clone)]
pub enum Send {
    Json(Value, Newline),
    Raw(String, Newline),
    Generated {
        prefix: String,
        fill: String,
        bytes: usize,
        suffix: String,
    },
}

#[derive(Debug, Clone)]
pub enum Ctl {
    /// Close stdin, expect exit code 0 and no unread output, spawn again on the same state dir.
    Restart,
    CloseStdin,
    /// Wait for the process to exit; `None` accepts any exit code.
    ExpectExit(Option<i32>),
    /// Start the server again after `expectExit`.
    Spawn,
    /// Environment for the following spawns: a value sets, `null` removes.
    Env(BTreeMap<String, Option<String>>),
    /// Extra command-line arguments for the following spawns.
    Args(Vec<String>),
    /// Bless mode: keep reading until a message matches this pattern (objects as subsets).
    Settle(Value),
    /// The timeout of every following wait.
    Timeout(Duration),
    /// Write a file into the sandbox (`path`, placeholders replaced): a copy of a file of
    /// the repository (`from`) or `text`, with the placeholders in its text replaced.
    File {
        path: String,
        content: FileContent,
    },
}

/// What a `file` directive writes.
#[derive(Debug, Clone)]
pub enum FileContent {
    /// The text of this file (a path with placeholders, such as `<repo>/fixtures/…`).
    From(String),
    Text(String),
}

/// Reads and parses a fixture file.
pub fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}:{e}", path.display()))
}

/// Parses fixture text; errors are `line: message`.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    text.lines()
        .enumerate()
        .map(|(index, raw)| {
            let line = index + 1;
            let kind = parse_line(raw).map_err(|e| format!("{line}: {e}"))?;
            Ok(Entry {
                line,
                raw: raw.to_owned(),
                kind,
            })
        })
        .collect()
}

fn parse_line(raw: &str) -> Result<EntryKind, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(EntryKind::Comment);
    }
    let value: Value = serde_json::from_str(trimmed).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("an entry must be a JSON object".to_owned());
    };
    map.remove("t_ms");
    let dir = take_str(&mut map, "dir")?;
    let kind = match dir.as_str() {
        "c2s" => EntryKind::Send(parse_send(&mut map)?),
        "s2c" => EntryKind::Expect(map.remove("msg").ok_or("an s2c entry needs `msg`")?),
        "ctl" => EntryKind::Ctl(parse_ctl(&mut map)?),
        other => return Err(format!("unknown dir {other:?} (c2s, s2c or ctl)")),
    };
    match map.keys().next() {
        Some(extra) => Err(format!("unknown key {extra:?}")),
        None => Ok(kind),
    }
}

fn parse_send(map: &mut Map<String, Value>) -> Result<Send, String> {
    let newline = match map.remove("newline") {
        None | Some(Value::Bool(true)) => Newline::Yes,
        Some(Value::Bool(false)) => Newline::No,
        Some(other) => return Err(format!("`newline` must be a boolean, not {other}")),
    };
    if let Some(generate) = map.remove("generate") {
        let Value::Object(mut spec) = generate else {
            return Err("`generate` must be an object".to_owned());
        };
        let bytes = spec
            .remove("bytes")
            .and_then(|b| b.as_u64())
            .ok_or("`generate` needs `bytes` (an integer)")?;
        let send = Send::Generated {
            prefix: take_str_or(&mut spec, "prefix", "")?,
            fill: take_str_or(&mut spec, "fill", "x")?,
            bytes: usize::try_from(bytes).map_err(|e| e.to_string())?,
            suffix: take_str_or(&mut spec, "suffix", "")?,
        };
        if let Some(extra) = spec.keys().next() {
            return Err(format!("unknown key {extra:?} in `generate`"));
        }
        return Ok(send);
    }
    match map.remove("msg") {
        Some(Value::String(raw)) => Ok(Send::Raw(raw, newline)),
        Some(value) => Ok(Send::Json(value, newline)),
        None => Err("a c2s entry needs `msg` or `generate`".to_owned()),
    }
}

fn parse_ctl(map: &mut Map<String, Value>) -> Result<Ctl, String> {
    let ctl = take_str(map, "ctl")?;
    Ok(match ctl.as_str() {
        "restart" => Ctl::Restart,
        "closeStdin" => Ctl::CloseStdin,
        "spawn" => Ctl::Spawn,
        "expectExit" => match map.remove("code") {
            None | Some(Value::Null) => Ctl::ExpectExit(None),
            Some(code) => Ctl::ExpectExit(Some(
                code.as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or("`code` must be an integer")?,
            )),
        },
        "env" => {
            let Some(Value::Object(vars)) = map.remove("env") else {
                return Err("`env` needs an `env` object".to_owned());
            };
            let mut env = BTreeMap::new();
            for (name, value) in vars {
                let value = match value {
                    Value::Null => None,
                    Value::String(text) => Some(text),
                    other => return Err(format!("env {name}: a string or null, not {other}")),
                };
                env.insert(name, value);
            }
            Ctl::Env(env)
        }
        "args" => {
            let Some(Value::Array(args)) = map.remove("args") else {
                return Err("`args` needs an `args` array".to_owned());
            };
            Ctl::Args(
                args.into_iter()
                    .map(|a| a.as_str().map(str::to_owned).ok_or("args are strings"))
                    .collect::<Result<_, _>>()?,
            )
        }
        "settle" => Ctl::Settle(map.remove("until").ok_or("`settle` needs `until`")?),
        "timeout" => Ctl::Timeout(Duration::from_millis(
            map.remove("ms")
                .and_then(|ms| ms.as_u64())
                .ok_or("`timeout` needs `ms`")?,
        )),
        "file" => Ctl::File {
            path: take_str(map, "path")?,
            content: match (map.remove("from"), map.remove("text")) {
                (Some(Value::String(from)), None) => FileContent::From(from),
                (None, Some(Value::String(text))) => FileContent::Text(text),
                _ => return Err("`file` needs a string `from` or a string `text`".to_owned()),
            },
        },
        other => return Err(format!("unknown ctl {other:?}")),
    })
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Result<String, String> {
    match map.remove(key) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
        None => Err(format!("missing `{key}`")),
    }
}

fn take_str_or(map: &mut Map<String, Value>, key: &str, default: &str) -> Result<String, String> {
    match map.remove(key) {
        None => Ok(default.to_owned()),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

/// The line bless mode writes for an expected message: `dir` first, then `msg`.
pub fn expect_line(pattern: &Value) -> String {
    format!("{{\"dir\":\"s2c\",\"msg\":{pattern}}}")
}

/// The `expectExit` line with the code observed.
pub fn expect_exit_line(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("{{\"dir\":\"ctl\",\"ctl\":\"expectExit\",\"code\":{code}}}"),
        None => "{\"dir\":\"ctl\",\"ctl\":\"expectExit\"}".to_owned(),
    }
}
