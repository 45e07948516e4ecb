//! The layers of the configuration: the built-in providers, the file, the `-c` overrides,
//! merged into one TOML table; and, for an error, which layer wrote the offending value
//! and where.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeArray, DeTable};
use toml::{Table, Value};

use super::de::{Problem, type_name};
use super::error::{ConfigError, Fault, KeyPath, Origin, Segment};
use super::{BUILTIN_DEFAULT_PROVIDER, DEFAULT_GRACE_MS};

/// The built-in providers, as TOML, laid under the user's file. The `args` of `codex`, `claude`
/// and `gemini` are empty: the runner then builds the kind's own command line, which knows the
/// model flag and the resume form (`src/backend/mod.rs`). The ACP agents (kind `acp`) are
/// started as written: Gemini CLI in ACP mode and the npm adapters
/// `@zed-industries/codex-acp` and `@agentclientprotocol/claude-agent-acp`.
const BUILTIN_PROVIDERS: &str = r#"
[providers.codex]
kind = "codex"
command = "codex"
args = []

[providers.claude]
kind = "claude"
command = "claude"
args = []

[providers.gemini]
kind = "gemini"
command = "gemini"
args = []

[providers.gemini-acp]
kind = "acp"
command = "gemini"
args = ["--acp"]

[providers.codex-acp]
kind = "acp"
command = "codex-acp"
args = []

[providers.claude-acp]
kind = "acp"
command = "claude-agent-acp"
args = []
"#;

/// What the merged table was made of, to tell where a value came from.
pub(super) struct Sources<'a> {
    /// The file's text (empty when there is no file).
    text: &'a str,
    file: Option<&'a Path>,
    overrides: Vec<Override>,
}

/// One `-c key=value` override: its text as given and the key it sets.
struct Override {
    text: String,
    path: KeyPath,
}

/// Each layer's table as it was written: what `config/read` shows of it.
pub(super) struct Written {
    /// The built-in defaults.
    pub builtin: Table,
    /// The file's table (empty without a file).
    pub file: Table,
    /// The `-c` overrides laid over an empty table; `None` when there are none.
    pub overrides: Option<Table>,
}

/// What [`lay`] makes: the merged table, where its values came from, and each layer alone.
pub(super) struct Laid<'a> {
    pub table: Table,
    pub sources: Sources<'a>,
    pub written: Written,
}

/// Lays the file over the built-in defaults and the overrides over that, in order.
pub(super) fn lay<'a>(
    text: &'a str,
    file: Option<&'a Path>,
    overrides: &[String],
) -> Result<Laid<'a>, ConfigError> {
    let builtin = builtin_table()?;
    let user: Table = toml::from_str(text).map_err(|err| ConfigError::Parse {
        path: file.map_or_else(|| PathBuf::from("<text>"), Path::to_owned),
        message: err.to_string().trim_end().to_owned(),
    })?;
    let mut table = builtin.clone();
    merge(&mut table, user.clone());
    let mut only_overrides = Table::new();
    let overrides = overrides
        .iter()
        .map(|text| {
            apply_override(&mut only_overrides, text)?;
            apply_override(&mut table, text)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let written = Written {
        builtin,
        file: user,
        overrides: (!overrides.is_empty()).then_some(only_overrides),
    };
    let sources = Sources {
        text,
        file,
        overrides,
    };
    Ok(Laid {
        table,
        sources,
        written,
    })
}

/// The built-in layer: the built-in providers, the default provider and the grace periods.
fn builtin_table() -> Result<Table, ConfigError> {
    let mut table: Table = toml::from_str(BUILTIN_PROVIDERS).map_err(|err| ConfigError::Parse {
        path: PathBuf::from("<built-in providers>"),
        message: err.to_string(),
    })?;
    if let Some(Value::Table(providers)) = table.get_mut("providers") {
        providers.insert("demo".to_owned(), Value::Table(demo_provider()));
    }
    table.insert(
        "default_provider".to_owned(),
        Value::String(BUILTIN_DEFAULT_PROVIDER.to_owned()),
    );
    let grace = Value::Integer(i64::try_from(DEFAULT_GRACE_MS).unwrap_or(i64::MAX));
    let interrupt = Table::from_iter([
        ("cancel_grace_ms".to_owned(), grace.clone()),
        ("term_grace_ms".to_owned(), grace),
    ]);
    table.insert("interrupt".to_owned(), Value::Table(interrupt));
    Ok(table)
}

/// The built-in `demo` provider: this very executable as a `jsonl` backend, its hidden
/// `demo-agent` subcommand (`src/commands/demo_agent.rs`), a scripted turn that needs no
/// install and no network. Its command is the path of the running executable (where the
/// runner finds it as it finds itself); when that cannot be read, `agent-host` in `PATH`.
fn demo_provider() -> Table {
    let command = std::env::current_exe()
        .ok()
        .and_then(|path| path.to_str().map(str::to_owned))
        .unwrap_or_else(|| "agent-host".to_owned());
    let args = ["demo-agent", "--", "{prompt}"]
        .iter()
        .map(|arg| Value::String((*arg).to_owned()))
        .collect();
    Table::from_iter([
        ("kind".to_owned(), Value::String("jsonl".to_owned())),
        ("command".to_owned(), Value::String(command)),
        ("args".to_owned(), Value::Array(args)),
    ])
}

/// Lays `over` onto `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(over_table)) => {
                merge(base_table, over_table);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies one `key=value` override; the value is TOML, or else taken as a bare string.
fn apply_override(table: &mut Table, text: &str) -> Result<Override, ConfigError> {
    let fail = |message: &str| ConfigError::Override {
        text: text.to_owned(),
        message: message.to_owned(),
    };
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| fail("expected key=value"))?;
    let path = parse_key_path(key.trim()).ok_or_else(|| fail("invalid key"))?;
    let value = parse_override_value(value.trim());
    let Some((last, parents)) = path.split_last() else {
        return Err(fail("invalid key"));
    };
    let mut current = table;
    for (depth, segment) in parents.iter().enumerate() {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(inner) => inner,
            other => {
                return Err(fail(&format!(
                    "{} is {}, not a table",
                    path[..=depth].join("."),
                    type_name(other)
                )));
            }
        };
    }
    current.insert(last.clone(), value);
    Ok(Override {
        text: text.to_owned(),
        path: KeyPath(path.into_iter().map(Segment::Key).collect()),
    })
}

/// The segments of a TOML key (`a.b."c.d"` is `a`, `b`, `c.d`), or `None` if it is not one.
fn parse_key_path(key: &str) -> Option<Vec<String>> {
    let parsed: Table = toml::from_str(&format!("{key} = 0")).ok()?;
    let mut path = Vec::new();
    let mut current = &parsed;
    loop {
        let mut entries = current.iter();
        let (segment, value) = entries.next()?;
        if entries.next().is_some() {
            return None;
        }
        path.push(segment.clone());
        match value {
            Value::Table(inner) => current = inner,
            Value::Integer(0) => return Some(path),
            _ => return None,
        }
    }
}

/// A TOML value, or the text itself as a string when it is not exactly one TOML value.
fn parse_override_value(text: &str) -> Value {
    let parsed: Option<Table> = toml::from_str(&format!("value = {text}")).ok();
    match parsed {
        Some(mut table) if table.len() == 1 => table
            .remove("value")
            .unwrap_or_else(|| Value::String(text.to_owned())),
        Some(_) | None => Value::String(text.to_owned()),
    }
}

/// What of an entry an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// The key: it is unknown, or its table lacks a required key.
    Key,
    /// The value (for a table, its key or header all the same).
    Value,
}

impl Sources<'_> {
    /// The error for `fault`, naming where the offending value was written.
    pub(super) fn place(&self, fault: Fault) -> ConfigError {
        let Fault { key: path, problem } = fault;
        match problem {
            Problem::UnknownKey { key, expected } => {
                // serde_path_to_error records the unknown key itself as the last segment.
                let mut table = path;
                if table.0.last() == Some(&Segment::Key(key.clone())) {
                    table.0.pop();
                }
                ConfigError::UnknownKey {
                    at: self.origin(&table.clone().key(&key), Mark::Key),
                    table: table.to_string(),
                    key,
                    expected,
                }
            }
            Problem::Missing { key } => ConfigError::Invalid {
                at: self.origin(&path, Mark::Key),
                key: path.key(key).to_string(),
                message: "missing".to_owned(),
            },
            problem => ConfigError::Invalid {
                at: self.origin(&path, Mark::Value),
                key: path.to_string(),
                message: problem.to_string(),
            },
        }
    }

    /// Which layer wrote the value at `path` last, and where. An override that set it, or a
    /// table or array holding it, wins; else the file, as deep as it goes, unless an
    /// override made more of the path (a provider of its own, say).
    fn origin(&self, path: &KeyPath, mark: Mark) -> Option<Origin> {
        let by_override = |over: &Override| Some(Origin::Override(over.text.clone()));
        let setting = self
            .overrides
            .iter()
            .rev()
            .find(|over| starts_with(path, &over.path));
        if let Some(over) = setting {
            return by_override(over);
        }
        let (depth, span) = written_in(self.text, path, mark);
        let deepest = self
            .overrides
            .iter()
            .map(|over| (common_length(path, &over.path), over))
            .filter(|(length, _)| *length > depth)
            .max_by_key(|(length, _)| *length);
        if let Some((_, over)) = deepest {
            return by_override(over);
        }
        let (line, column) = line_column(self.text, span?.start);
        Some(Origin::File {
            path: self.file.map(Path::to_owned),
            line,
            column,
        })
    }
}

fn starts_with(path: &KeyPath, prefix: &KeyPath) -> bool {
    common_length(path, prefix) == prefix.0.len()
}

/// How many leading segments two paths share.
fn common_length(one: &KeyPath, other: &KeyPath) -> usize {
    one.0
        .iter()
        .zip(&other.0)
        .take_while(|(a, b)| a == b)
        .count()
}

/// How many segments of `path` the file writes, and the span of the deepest one.
fn written_in(text: &str, path: &KeyPath, mark: Mark) -> (usize, Option<Range<usize>>) {
    let Ok(root) = DeTable::parse(text) else {
        return (0, None);
    };
    let mut found = (0, None);
    let mut table = Some(root.get_ref());
    let mut array: Option<&DeArray<'_>> = None;
    for (depth, segment) in path.0.iter().enumerate() {
        let (key_span, value) = match (segment, table, array) {
            (Segment::Key(name), Some(table), _) => {
                match table.iter().find(|(key, _)| key.get_ref() == name) {
                    Some((key, value)) => (Some(key.span()), value),
                    None => break,
                }
            }
            (Segment::Index(index), _, Some(array)) => match array.get(*index) {
                Some(value) => (None, value),
                None => break,
            },
            (Segment::Key(_) | Segment::Index(_), _, _) => break,
        };
        let point_at_key = mark == Mark::Key || value.get_ref().is_table();
        let span = match key_span {
            Some(span) if point_at_key => span,
            Some(_) | None => value.span(),
        };
        found = (depth + 1, Some(span));
        table = value.get_ref().as_table();
        array = value.get_ref().as_array();
    }
    found
}

/// The line and column, counted from 1 (the column in characters), of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}
