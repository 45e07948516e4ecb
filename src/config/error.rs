//! Configuration errors: what is wrong, at which key, and where the value was written.

use std::fmt;
use std::path::PathBuf;

use super::de::Problem;

/// A configuration that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A `-c` argument that is not `key=value`, or that sets a key below a value.
    #[error("invalid override `{text}`: {message}")]
    Override { text: String, message: String },
    /// A key that its table does not have (`table` is empty at the top level).
    #[error("{}unknown key `{key}`{}", prefix(at.as_ref()), unknown_key_hint(table, key, expected))]
    UnknownKey {
        at: Option<Origin>,
        table: String,
        key: String,
        expected: &'static [&'static str],
    },
    /// A value that is wrong, or a required key that is missing (`key` names it).
    #[error("{}{key}: {message}", prefix(at.as_ref()))]
    Invalid {
        at: Option<Origin>,
        key: String,
        message: String,
    },
}

/// Where the offending value (or key) was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line and column, counted from 1, of the file (`path` is `None` for the text given
    /// to `Config::from_toml`).
    File {
        path: Option<PathBuf>,
        line: usize,
        column: usize,
    },
    /// A `-c key=value` argument, as given.
    Override(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path: Some(path),
                line,
                column,
            } => write!(
                f,
                "config file {}, line {line}, column {column}",
                path.display()
            ),
            Origin::File {
                path: None,
                line,
                column,
            } => write!(f, "line {line}, column {column}"),
            Origin::Override(text) => write!(f, "override `{text}`"),
        }
    }
}

fn prefix(at: Option<&Origin>) -> String {
    at.map_or_else(String::new, |origin| format!("{origin}: "))
}

/// ` in `TABLE`; did you mean `KEY`?`, or the keys the table has when none is close.
fn unknown_key_hint(table: &str, key: &str, expected: &[&str]) -> String {
    let table = if table.is_empty() {
        String::new()
    } else {
        format!(" in `{table}`")
    };
    match closest(key, expected) {
        Some(close) => format!("{table}; did you mean `{close}`?"),
        None => format!("{table}, expected one of {}", expected.join(", ")),
    }
}

/// The candidate nearest to `key`, if it is near enough to be a typo of it: at most one
/// edit per three characters (as rustc suggests names).
fn closest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = key.chars().count().max(3) / 3;
    candidates
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The edit distance between two strings, in characters, where swapping two neighbours
/// counts as one edit (the optimal string alignment distance).
fn edit_distance(from: &str, to: &str) -> usize {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    // `rows[i][j]`: the distance between the first `i` characters of `from` and `j` of `to`.
    let mut rows: Vec<Vec<usize>> = (0..=from.len())
        .map(|i| (0..=to.len()).map(|j| if i == 0 { j } else { i }).collect())
        .collect();
    for i in 1..=from.len() {
        for j in 1..=to.len() {
            let substitution = rows[i - 1][j - 1] + usize::from(from[i - 1] != to[j - 1]);
            let mut best = substitution.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && from[i - 1] == to[j - 2] && from[i - 2] == to[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[from.len()][to.len()]
}

/// One step of a key path: a table key or an array position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// The path of a key in the merged table, as `providers.x.args[2]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyPath(pub(super) Vec<Segment>);

impl KeyPath {
    /// `providers.NAME.FIELD`.
    pub(super) fn provider(name: &str, field: &str) -> KeyPath {
        KeyPath::default().key("providers").key(name).key(field)
    }

    pub(super) fn key(mut self, key: &str) -> KeyPath {
        self.0.push(Segment::Key(key.to_owned()));
        self
    }

    pub(super) fn index(mut self, index: usize) -> KeyPath {
        self.0.push(Segment::Index(index));
        self
    }

    /// The path serde_path_to_error recorded.
    pub(super) fn from_serde(path: &serde_path_to_error::Path) -> KeyPath {
        use serde_path_to_error::Segment as Serde;
        let segments = path.iter().filter_map(|segment| match segment {
            Serde::Seq { index } => Some(Segment::Index(*index)),
            Serde::Map { key } => Some(Segment::Key(key.clone())),
            Serde::Enum { variant } => Some(Segment::Key(variant.clone())),
            Serde::Unknown => None,
        });
        KeyPath(segments.collect())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Key(key) => {
                    if position > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A problem at a key of the merged table, before it is placed in the file or an override.
#[derive(Debug)]
pub(super) struct Fault {
    pub(super) key: KeyPath,
    pub(super) problem: Problem,
}

impl Fault {
    /// A problem that a check found, in words.
    pub(super) fn invalid(key: KeyPath, message: impl Into<String>) -> Fault {
        Fault {
            key,
            problem: Problem::Message(message.into()),
        }
    }
}
