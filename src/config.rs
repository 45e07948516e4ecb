//! The configuration file: which agent CLIs ("providers") turns run on, and how.
//!
//! A TOML file (`--config FILE`, `AGENT_HOST_CONFIG`, or the per-user default) is laid over
//! the built-in providers, then `-c key=value` overrides are laid over that, and only then is
//! the whole table validated. Validation is by hand rather than by serde so that every error
//! names the exact key (`providers.fake.args[2]: …`) and no unknown key passes silently.
//! See `docs/configuration.md` for the user-facing reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::{Table, Value};

/// The provider used when none is configured.
pub const BUILTIN_DEFAULT_PROVIDER: &str = "codex";
/// The placeholders an argument may hold.
pub const PLACEHOLDERS: [&str; 3] = ["prompt", "cwd", "session"];
/// The grace periods of the interrupt ladder when none are configured.
pub const DEFAULT_GRACE_MS: u64 = 2000;

const TOP_LEVEL_KEYS: &[&str] = &["default_provider", "providers", "interrupt"];
const PROVIDER_KEYS: &[&str] = &[
    "kind",
    "command",
    "args",
    "resume_args",
    "env",
    "prompt_via",
    "continue_session",
    "model",
    "approvals",
    "input",
];
const INTERRUPT_KEYS: &[&str] = &["cancel_grace_ms", "term_grace_ms"];

/// The built-in providers, as TOML, laid under the user's file. Their `args` are empty: the
/// runner then builds the kind's own command line, which knows the model flag and the resume
/// form (`src/backend/mod.rs`).
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
"#;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    default_provider: String,
    providers: BTreeMap<String, Provider>,
    /// The grace periods of the interrupt ladder.
    pub interrupt: InterruptConfig,
    /// The file that was read, if any (a missing default file reads nothing).
    pub file: Option<PathBuf>,
}

/// One agent CLI that turns can run on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    /// The key under `[providers]`.
    pub name: String,
    pub kind: ProviderKind,
    /// The program to run (looked up in `PATH` when it has no slash).
    pub command: String,
    /// The arguments of a turn that starts a new backend session; elements may hold
    /// `{prompt}` and `{cwd}` (never `{session}`: there is none yet).
    pub args: Vec<String>,
    /// The arguments of a turn that resumes the backend session recorded by the thread's
    /// previous turn, used instead of `args` when there is one; they may hold `{session}`.
    /// `None`: such a turn runs `args` (for kinds `codex` and `claude` with `args` empty, the
    /// kind's own command line, which has its resume form).
    pub resume_args: Option<Vec<String>>,
    /// Extra environment variables for the backend.
    pub env: BTreeMap<String, String>,
    pub prompt_via: PromptVia,
    /// Whether a thread's later turns resume the backend's own session.
    pub continue_session: bool,
    /// The default model, when the client does not name one.
    pub model: Option<String>,
    /// How the backend takes approval answers.
    pub approvals: Approvals,
    /// Whether the backend takes its input once or as a stream of messages (`turn/steer`).
    pub input: InputMode,
}

impl Provider {
    /// Whether a turn can resume the backend session a previous turn recorded: the provider
    /// has `resume_args`, or runs the kind's own command line (kinds `codex` and `claude`
    /// with `args` empty), which has its resume form.
    pub fn can_resume(&self) -> bool {
        self.resume_args.is_some()
            || (matches!(
                self.kind,
                ProviderKind::Codex | ProviderKind::Claude | ProviderKind::Gemini
            ) && self.args.is_empty())
    }
}

/// How a provider's output is understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Our canonical event records, one JSON object per line.
    Jsonl,
    /// `codex exec --json`.
    Codex,
    /// `claude -p --output-format stream-json`.
    Claude,
    /// `gemini -p PROMPT -o stream-json`.
    Gemini,
}

impl ProviderKind {
    const ALL: [ProviderKind; 4] = [
        ProviderKind::Jsonl,
        ProviderKind::Codex,
        ProviderKind::Claude,
        ProviderKind::Gemini,
    ];

    /// The name used in the configuration file and in `spec.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Jsonl => "jsonl",
            ProviderKind::Codex => "codex",
            ProviderKind::Claude => "claude",
            ProviderKind::Gemini => "gemini",
        }
    }
}

/// How the prompt reaches the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptVia {
    /// Substituted into `{prompt}` in the arguments.
    Arg,
    /// Written to the backend's stdin, which is then closed.
    Stdin,
}

impl PromptVia {
    const ALL: [PromptVia; 2] = [PromptVia::Arg, PromptVia::Stdin];

    /// The name used in the configuration file and in `spec.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptVia::Arg => "arg",
            PromptVia::Stdin => "stdin",
        }
    }
}

/// How a provider takes the answers to its approval requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Approvals {
    /// It asks for none; its stdin is `/dev/null` (needed by `codex exec`, which blocks on
    /// an open stdin).
    None,
    /// It prints `approval.requested` and reads `approval.response` lines on its stdin.
    Stdin,
}

impl Approvals {
    const ALL: [Approvals; 2] = [Approvals::None, Approvals::Stdin];

    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Approvals::None => "none",
            Approvals::Stdin => "stdin",
        }
    }
}

/// How a provider takes the user's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputMode {
    /// The prompt once, at the start (`prompt_via`); nothing can be added mid-turn.
    Once,
    /// Claude Code's `--input-format stream-json`: the prompt is the first user message on
    /// stdin, which stays open for `turn/steer` until the answer to the last message.
    StreamJson,
}

impl InputMode {
    const ALL: [InputMode; 2] = [InputMode::Once, InputMode::StreamJson];

    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            InputMode::Once => "once",
            InputMode::StreamJson => "stream-json",
        }
    }
}

/// The grace periods of the interrupt ladder (cancel, then SIGTERM, then SIGKILL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptConfig {
    /// How long the backend gets to stop after a polite cancel, in milliseconds.
    pub cancel_grace_ms: u64,
    /// How long it gets after SIGTERM before SIGKILL, in milliseconds.
    pub term_grace_ms: u64,
}

impl Default for InterruptConfig {
    fn default() -> InterruptConfig {
        InterruptConfig {
            cancel_grace_ms: DEFAULT_GRACE_MS,
            term_grace_ms: DEFAULT_GRACE_MS,
        }
    }
}

/// A configuration that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("invalid override `{text}`: {message}")]
    Override { text: String, message: String },
    #[error("unknown key `{key}` (expected one of {})", expected.join(", "))]
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
    },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Config {
    /// Loads the configuration: `path` if given (it must exist), else the default file if
    /// it exists, else the built-in defaults; then applies `overrides` (`key=value`).
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        Config::load_or_default(path, default_config_path(), overrides)
    }

    fn load_or_default(
        path: Option<&Path>,
        default_path: Option<PathBuf>,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        let (text, file) = match path {
            Some(path) => (read_file(path)?, Some(path.to_owned())),
            None => match default_path {
                Some(path) if path.exists() => (read_file(&path)?, Some(path)),
                Some(_) | None => (String::new(), None),
            },
        };
        let mut config = Config::parse(&text, file.as_deref(), overrides)?;
        config.file = file;
        Ok(config)
    }

    /// Builds the configuration from TOML text instead of a file.
    pub fn from_toml(text: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        Config::parse(text, None, overrides)
    }

    fn parse(text: &str, file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut table: Table =
            toml::from_str(BUILTIN_PROVIDERS).map_err(|err| ConfigError::Parse {
                path: PathBuf::from("<built-in providers>"),
                message: err.to_string(),
            })?;
        let user: Table = toml::from_str(text).map_err(|err| ConfigError::Parse {
            path: file.map_or_else(|| PathBuf::from("<text>"), Path::to_owned),
            message: err.to_string().trim_end().to_owned(),
        })?;
        merge(&mut table, user);
        for text in overrides {
            apply_override(&mut table, text)?;
        }
        validate(table)
    }

    /// The provider named `name`, if configured (or built in).
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.get(name)
    }

    /// Every provider, by name.
    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }

    /// The name of the provider used when a thread does not choose one.
    pub fn default_provider_name(&self) -> &str {
        &self.default_provider
    }

    /// The provider used when a thread does not choose one; always `Some` (validated at load).
    pub fn default_provider(&self) -> Option<&Provider> {
        self.providers.get(&self.default_provider)
    }
}

/// `$XDG_CONFIG_HOME/agent-host/config.toml`, else `~/.config/agent-host/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let base = match non_empty("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(non_empty("HOME")?).join(".config"),
    };
    Some(base.join("agent-host").join("config.toml"))
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
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
fn apply_override(table: &mut Table, text: &str) -> Result<(), ConfigError> {
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
    Ok(())
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

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn wrong_type(key: &str, expected: &str, found: &Value) -> ConfigError {
    invalid(
        key,
        format!("expected {expected}, found {}", type_name(found)),
    )
}

fn reject_unknown_keys(
    table: &Table,
    prefix: &str,
    known: &'static [&'static str],
) -> Result<(), ConfigError> {
    match table.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(ConfigError::UnknownKey {
            key: format!("{prefix}{key}"),
            expected: known,
        }),
        None => Ok(()),
    }
}

fn validate(mut table: Table) -> Result<Config, ConfigError> {
    reject_unknown_keys(&table, "", TOP_LEVEL_KEYS)?;
    let providers = match table.remove("providers") {
        Some(Value::Table(providers)) => providers,
        Some(other) => return Err(wrong_type("providers", "a table", &other)),
        None => Table::new(),
    };
    let providers = providers
        .into_iter()
        .map(|(name, value)| validate_provider(&name, value).map(|provider| (name, provider)))
        .collect::<Result<BTreeMap<_, _>, _>>()?;

    let default_provider = match table.remove("default_provider") {
        Some(Value::String(name)) => name,
        Some(other) => return Err(wrong_type("default_provider", "a string", &other)),
        None => BUILTIN_DEFAULT_PROVIDER.to_owned(),
    };
    if !providers.contains_key(&default_provider) {
        let known: Vec<&str> = providers.keys().map(String::as_str).collect();
        return Err(invalid(
            "default_provider",
            format!(
                "unknown provider \"{default_provider}\", expected one of {}",
                known.join(", ")
            ),
        ));
    }

    let interrupt = match table.remove("interrupt") {
        Some(Value::Table(interrupt)) => validate_interrupt(interrupt)?,
        Some(other) => return Err(wrong_type("interrupt", "a table", &other)),
        None => InterruptConfig::default(),
    };
    Ok(Config {
        default_provider,
        providers,
        interrupt,
        file: None,
    })
}

fn validate_interrupt(mut table: Table) -> Result<InterruptConfig, ConfigError> {
    reject_unknown_keys(&table, "interrupt.", INTERRUPT_KEYS)?;
    let mut grace = |name: &str| -> Result<u64, ConfigError> {
        let key = format!("interrupt.{name}");
        match table.remove(name) {
            None => Ok(DEFAULT_GRACE_MS),
            Some(Value::Integer(ms)) => u64::try_from(ms)
                .map_err(|_| invalid(&key, format!("must not be negative, found {ms}"))),
            Some(other) => Err(wrong_type(&key, "an integer (milliseconds)", &other)),
        }
    };
    Ok(InterruptConfig {
        cancel_grace_ms: grace("cancel_grace_ms")?,
        term_grace_ms: grace("term_grace_ms")?,
    })
}

fn validate_provider(name: &str, value: Value) -> Result<Provider, ConfigError> {
    let prefix = format!("providers.{name}");
    let key = |field: &str| format!("{prefix}.{field}");
    let mut table = match value {
        Value::Table(table) => table,
        other => return Err(wrong_type(&prefix, "a table", &other)),
    };
    reject_unknown_keys(&table, &format!("{prefix}."), PROVIDER_KEYS)?;

    let kind_names = || {
        ProviderKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let kind = match table.remove("kind") {
        Some(Value::String(text)) => ProviderKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    &key("kind"),
                    format!("unknown kind \"{text}\", expected one of {}", kind_names()),
                )
            })?,
        Some(other) => return Err(wrong_type(&key("kind"), "a string", &other)),
        None => {
            return Err(invalid(
                &key("kind"),
                format!("missing, expected one of {}", kind_names()),
            ));
        }
    };

    let command = match table.remove("command") {
        Some(Value::String(command)) if command.is_empty() => {
            return Err(invalid(&key("command"), "must not be empty"));
        }
        Some(Value::String(command)) => command,
        Some(other) => return Err(wrong_type(&key("command"), "a string", &other)),
        None => return Err(invalid(&key("command"), "missing")),
    };

    let args = match table.remove("args") {
        None => Vec::new(),
        Some(value) => string_array(&prefix, "args", value)?,
    };
    if let Some(position) = args.iter().position(|arg| has_placeholder(arg, "session")) {
        return Err(invalid(
            &format!("{prefix}.args[{position}]"),
            "{session} cannot be used in args: they also start a thread's first turn, which \
             has no session yet; put the command line that resumes a session in resume_args",
        ));
    }
    let resume_args = table
        .remove("resume_args")
        .map(|value| string_array(&prefix, "resume_args", value))
        .transpose()?;

    let env = match table.remove("env") {
        None => BTreeMap::new(),
        Some(Value::Table(vars)) => vars
            .into_iter()
            .map(|(var, value)| {
                let var_key = format!("{prefix}.env.{var}");
                if var.is_empty() || var.contains('=') || var.contains('\0') {
                    return Err(invalid(&var_key, "not a valid environment variable name"));
                }
                match value {
                    Value::String(text) if text.contains('\0') => {
                        Err(invalid(&var_key, "must not contain a NUL character"))
                    }
                    Value::String(text) => Ok((var, text)),
                    other => Err(wrong_type(&var_key, "a string", &other)),
                }
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?,
        Some(other) => return Err(wrong_type(&key("env"), "a table of strings", &other)),
    };

    let prompt_via = match table.remove("prompt_via") {
        None => PromptVia::Arg,
        Some(Value::String(text)) => PromptVia::ALL
            .into_iter()
            .find(|via| via.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    &key("prompt_via"),
                    format!("unknown value \"{text}\", expected one of arg, stdin"),
                )
            })?,
        Some(other) => return Err(wrong_type(&key("prompt_via"), "a string", &other)),
    };

    let continue_session = match table.remove("continue_session") {
        None => false,
        Some(Value::Boolean(flag)) => flag,
        Some(other) => return Err(wrong_type(&key("continue_session"), "a boolean", &other)),
    };
    let own_resume_form = matches!(
        kind,
        ProviderKind::Codex | ProviderKind::Claude | ProviderKind::Gemini
    ) && args.is_empty();
    if continue_session && resume_args.is_none() && !own_resume_form {
        return Err(invalid(
            &key("continue_session"),
            "true needs resume_args, the command line that resumes the recorded session \
             (only kinds codex, claude and gemini with args empty have their own)",
        ));
    }

    let model = match table.remove("model") {
        None => None,
        Some(Value::String(model)) => Some(model),
        Some(other) => return Err(wrong_type(&key("model"), "a string", &other)),
    };

    let approvals = match table.remove("approvals") {
        None => Approvals::None,
        Some(Value::String(text)) => Approvals::ALL
            .into_iter()
            .find(|approvals| approvals.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    &key("approvals"),
                    format!("unknown value \"{text}\", expected one of none, stdin"),
                )
            })?,
        Some(other) => return Err(wrong_type(&key("approvals"), "a string", &other)),
    };
    if approvals == Approvals::Stdin {
        if kind != ProviderKind::Jsonl {
            return Err(invalid(
                &key("approvals"),
                format!(
                    "\"stdin\" needs kind \"jsonl\" (kind \"{}\" does not read answers on stdin)",
                    kind.as_str()
                ),
            ));
        }
        if prompt_via == PromptVia::Stdin {
            return Err(invalid(
                &key("approvals"),
                "\"stdin\" cannot be combined with prompt_via = \"stdin\" (stdin carries the answers)",
            ));
        }
    }

    // Kind `claude` with its own command line takes stream-json input by default: the same
    // events and end rule as one-shot `-p`, plus `turn/steer` and a cancel that needs no
    // signal. Arguments written in the file are used as written, so they keep the prompt.
    let default_input = match kind {
        ProviderKind::Claude if args.is_empty() => InputMode::StreamJson,
        ProviderKind::Claude | ProviderKind::Jsonl | ProviderKind::Codex | ProviderKind::Gemini => {
            InputMode::Once
        }
    };
    let input = match table.remove("input") {
        None => default_input,
        Some(Value::String(text)) => InputMode::ALL
            .into_iter()
            .find(|input| input.as_str() == text)
            .ok_or_else(|| {
                invalid(
                    &key("input"),
                    format!("unknown value \"{text}\", expected one of once, stream-json"),
                )
            })?,
        Some(other) => return Err(wrong_type(&key("input"), "a string", &other)),
    };
    if input == InputMode::StreamJson {
        if kind != ProviderKind::Claude {
            return Err(invalid(
                &key("input"),
                format!(
                    "\"stream-json\" needs kind \"claude\" (kind \"{}\" takes its input once)",
                    kind.as_str()
                ),
            ));
        }
        if prompt_via == PromptVia::Stdin {
            return Err(invalid(
                &key("input"),
                "\"stream-json\" cannot be combined with prompt_via = \"stdin\" (stdin carries the messages)",
            ));
        }
        let with_prompt = args
            .iter()
            .chain(resume_args.iter().flatten())
            .any(|arg| has_placeholder(arg, "prompt"));
        if with_prompt {
            return Err(invalid(
                &key("input"),
                "\"stream-json\" writes the prompt to stdin: the args cannot hold {prompt}",
            ));
        }
    }

    Ok(Provider {
        name: name.to_owned(),
        kind,
        command,
        args,
        resume_args,
        env,
        prompt_via,
        continue_session,
        model,
        approvals,
        input,
    })
}

/// `providers.NAME.FIELD`: an array of strings, each checked for unknown placeholders.
fn string_array(prefix: &str, field: &str, value: Value) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(position, item)| {
                let item_key = format!("{prefix}.{field}[{position}]");
                match item {
                    Value::String(arg) => check_placeholders(&item_key, &arg).map(|()| arg),
                    other => Err(wrong_type(&item_key, "a string", &other)),
                }
            })
            .collect(),
        other => Err(wrong_type(
            &format!("{prefix}.{field}"),
            "an array of strings",
            &other,
        )),
    }
}

/// Whether `arg` holds the placeholder `{name}`.
fn has_placeholder(arg: &str, name: &str) -> bool {
    arg.contains(&format!("{{{name}}}"))
}

/// Rejects `{name}` where `name` is not a known placeholder; other braces are literal.
fn check_placeholders(key: &str, arg: &str) -> Result<(), ConfigError> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        let name = &after[..close];
        let looks_like_placeholder = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if looks_like_placeholder && !PLACEHOLDERS.contains(&name) {
            return Err(invalid(
                key,
                format!(
                    "unknown placeholder {{{name}}}, expected one of {{prompt}}, {{cwd}}, {{session}}"
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|text| (*text).to_owned()).collect();
        Config::from_toml(text, &overrides)
    }

    fn error(text: &str, overrides: &[&str]) -> String {
        load(text, overrides).unwrap_err().to_string()
    }

    const FAKE: &str = r#"
default_provider = "fake"

[providers.fake]
kind = "jsonl"
command = "fake-agent"
args = ["--script", "s.json", "--cwd={cwd}", "{prompt}"]
resume_args = ["--script", "s.json", "--resume", "{session}", "{prompt}"]
env = { FAKE_MODE = "fast" }
prompt_via = "arg"
continue_session = true
model = "fake-1"

[interrupt]
cancel_grace_ms = 100
term_grace_ms = 300
"#;

    #[test]
    fn defaults_are_the_builtin_providers() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.default_provider_name(), "codex");
        let codex = config.provider("codex").unwrap();
        assert_eq!(codex.kind, ProviderKind::Codex);
        assert_eq!(codex.command, "codex");
        assert!(codex.args.is_empty(), "the runner builds codex's argv");
        assert_eq!(codex.prompt_via, PromptVia::Arg);
        assert!(!codex.continue_session);
        let claude = config.provider("claude").unwrap();
        assert_eq!(claude.kind, ProviderKind::Claude);
        assert!(claude.args.is_empty(), "the runner builds claude's argv");
        assert_eq!(claude.input, InputMode::StreamJson);
        assert_eq!(codex.input, InputMode::Once);
        assert_eq!(config.interrupt, InterruptConfig::default());
        assert!(config.provider("fake").is_none());
    }

    #[test]
    fn reads_a_full_provider() {
        let config = load(FAKE, &[]).unwrap();
        assert_eq!(config.default_provider_name(), "fake");
        let fake = config.default_provider().unwrap();
        assert_eq!(
            fake,
            &Provider {
                name: "fake".to_owned(),
                kind: ProviderKind::Jsonl,
                command: "fake-agent".to_owned(),
                args: vec![
                    "--script".to_owned(),
                    "s.json".to_owned(),
                    "--cwd={cwd}".to_owned(),
                    "{prompt}".to_owned()
                ],
                resume_args: Some(
                    ["--script", "s.json", "--resume", "{session}", "{prompt}"]
                        .map(str::to_owned)
                        .to_vec()
                ),
                env: BTreeMap::from([("FAKE_MODE".to_owned(), "fast".to_owned())]),
                prompt_via: PromptVia::Arg,
                continue_session: true,
                model: Some("fake-1".to_owned()),
                approvals: Approvals::None,
                input: InputMode::Once,
            }
        );
        assert_eq!(
            config.interrupt,
            InterruptConfig {
                cancel_grace_ms: 100,
                term_grace_ms: 300
            }
        );
        // Built-ins stay available next to configured providers.
        assert!(config.provider("codex").is_some());
    }

    #[test]
    fn a_configured_builtin_is_merged_key_by_key() {
        let config = load("[providers.codex]\nmodel = \"o3\"\n", &[]).unwrap();
        let codex = config.provider("codex").unwrap();
        assert_eq!(codex.model.as_deref(), Some("o3"));
        assert_eq!(codex.command, "codex");
    }

    #[test]
    fn overrides_apply_before_validation() {
        let config = load(
            FAKE,
            &[
                "providers.fake.command=\"/opt/fake\"",
                "providers.fake.args=[\"{prompt}\"]",
                "interrupt.term_grace_ms = 5",
                "providers.fake.model=bare words",
                "default_provider=claude",
                "providers.\"my.agent\".kind=\"jsonl\"",
                "providers.\"my.agent\".command=agent",
            ],
        )
        .unwrap();
        let fake = config.provider("fake").unwrap();
        assert_eq!(fake.command, "/opt/fake");
        assert_eq!(fake.args, ["{prompt}"]);
        assert_eq!(fake.model.as_deref(), Some("bare words"));
        assert_eq!(config.interrupt.term_grace_ms, 5);
        assert_eq!(config.default_provider_name(), "claude");
        assert_eq!(config.provider("my.agent").unwrap().command, "agent");
    }

    #[test]
    fn an_override_cannot_smuggle_extra_keys() {
        let config = load(
            FAKE,
            &["providers.fake.model=x\ndefault_provider = \"codex\""],
        )
        .unwrap();
        assert_eq!(config.default_provider_name(), "fake");
        assert_eq!(
            config.provider("fake").unwrap().model.as_deref(),
            Some("x\ndefault_provider = \"codex\"")
        );
    }

    #[test]
    fn override_errors() {
        assert_eq!(
            error("", &["no-equals-sign"]),
            "invalid override `no-equals-sign`: expected key=value"
        );
        assert_eq!(error("", &["=1"]), "invalid override `=1`: invalid key");
        assert_eq!(
            error("", &["providers.codex.command.x=1"]),
            "invalid override `providers.codex.command.x=1`: providers.codex.command is a string, \
             not a table"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(
            error("default_providr = \"codex\"", &[]),
            "unknown key `default_providr` (expected one of default_provider, providers, interrupt)"
        );
        assert_eq!(
            error("[providers.codex]\ncomand = \"x\"", &[]),
            "unknown key `providers.codex.comand` (expected one of kind, command, args, \
             resume_args, env, prompt_via, continue_session, model, approvals, input)"
        );
        assert_eq!(
            error("[interrupt]\ncancel_grace = 1", &[]),
            "unknown key `interrupt.cancel_grace` (expected one of cancel_grace_ms, term_grace_ms)"
        );
        assert_eq!(
            error("", &["providers.codex.typo=1"]),
            "unknown key `providers.codex.typo` (expected one of kind, command, args, \
             resume_args, env, prompt_via, continue_session, model, approvals, input)"
        );
    }

    #[test]
    fn invalid_values_are_named() {
        assert_eq!(
            error("[providers.x]\nkind = \"foo\"\ncommand = \"x\"", &[]),
            "providers.x.kind: unknown kind \"foo\", expected one of jsonl, codex, claude, gemini"
        );
        assert_eq!(
            error("[providers.x]\ncommand = \"x\"", &[]),
            "providers.x.kind: missing, expected one of jsonl, codex, claude, gemini"
        );
        assert_eq!(
            error("[providers.x]\nkind = \"jsonl\"", &[]),
            "providers.x.command: missing"
        );
        assert_eq!(
            error("[providers.x]\nkind = \"jsonl\"\ncommand = \"\"", &[]),
            "providers.x.command: must not be empty"
        );
        assert_eq!(
            error(
                "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nargs = [\"a\", \"b\", \"{promt}\"]",
                &[]
            ),
            "providers.x.args[2]: unknown placeholder {promt}, expected one of {prompt}, {cwd}, {session}"
        );
        assert_eq!(
            error(
                "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nargs = [\"a\", 3]",
                &[]
            ),
            "providers.x.args[1]: expected a string, found an integer"
        );
        assert_eq!(
            error(
                "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nargs = \"a\"",
                &[]
            ),
            "providers.x.args: expected an array of strings, found a string"
        );
        assert_eq!(
            error(
                "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nenv = { A = 1 }",
                &[]
            ),
            "providers.x.env.A: expected a string, found an integer"
        );
        assert_eq!(
            error(
                "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nprompt_via = \"pipe\"",
                &[]
            ),
            "providers.x.prompt_via: unknown value \"pipe\", expected one of arg, stdin"
        );
        assert_eq!(
            error("[providers.codex]\ncontinue_session = \"yes\"", &[]),
            "providers.codex.continue_session: expected a boolean, found a string"
        );
        assert_eq!(
            error("default_provider = \"nope\"", &[]),
            "default_provider: unknown provider \"nope\", expected one of claude, codex, gemini"
        );
        assert_eq!(
            error("[interrupt]\nterm_grace_ms = -1", &[]),
            "interrupt.term_grace_ms: must not be negative, found -1"
        );
        assert_eq!(
            error("providers = 3", &[]),
            "providers: expected a table, found an integer"
        );
        assert_eq!(
            error("[providers]\nx = 3", &[]),
            "providers.x: expected a table, found an integer"
        );
    }

    #[test]
    fn stream_json_input_is_for_claude_without_a_prompt_argument() {
        let claude = "[providers.c]\nkind = \"claude\"\ncommand = \"claude\"\n";
        let config = load(claude, &[]).unwrap();
        assert_eq!(config.provider("c").unwrap().input, InputMode::StreamJson);
        let once = load(&format!("{claude}input = \"once\""), &[]).unwrap();
        assert_eq!(once.provider("c").unwrap().input, InputMode::Once);
        // Written args keep their prompt: one-shot unless asked.
        let written = load(&format!("{claude}args = [\"-p\", \"{{prompt}}\"]"), &[]).unwrap();
        assert_eq!(written.provider("c").unwrap().input, InputMode::Once);
        assert_eq!(
            error(
                &format!("{claude}args = [\"-p\", \"{{prompt}}\"]\ninput = \"stream-json\""),
                &[]
            ),
            "providers.c.input: \"stream-json\" writes the prompt to stdin: the args cannot hold {prompt}"
        );
        assert_eq!(
            error(
                "[providers.j]\nkind = \"jsonl\"\ncommand = \"j\"\ninput = \"stream-json\"",
                &[]
            ),
            "providers.j.input: \"stream-json\" needs kind \"claude\" (kind \"jsonl\" takes its input once)"
        );
        assert_eq!(
            error(&format!("{claude}input = \"pipe\""), &[]),
            "providers.c.input: unknown value \"pipe\", expected one of once, stream-json"
        );
    }

    #[test]
    fn approvals_on_stdin_are_for_jsonl_providers_with_the_prompt_elsewhere() {
        let base = "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\n";
        let config = load(&format!("{base}approvals = \"stdin\""), &[]).unwrap();
        assert_eq!(config.provider("x").unwrap().approvals, Approvals::Stdin);
        assert_eq!(
            load(base, &[]).unwrap().provider("x").unwrap().approvals,
            Approvals::None
        );
        assert_eq!(
            error(&format!("{base}approvals = \"pipe\""), &[]),
            "providers.x.approvals: unknown value \"pipe\", expected one of none, stdin"
        );
        assert_eq!(
            error(&format!("{base}approvals = true"), &[]),
            "providers.x.approvals: expected a string, found a boolean"
        );
        assert_eq!(
            error("[providers.codex]\napprovals = \"stdin\"", &[]),
            "providers.codex.approvals: \"stdin\" needs kind \"jsonl\" (kind \"codex\" does not \
             read answers on stdin)"
        );
        assert_eq!(
            error(
                &format!("{base}approvals = \"stdin\"\nprompt_via = \"stdin\""),
                &[]
            ),
            "providers.x.approvals: \"stdin\" cannot be combined with prompt_via = \"stdin\" \
             (stdin carries the answers)"
        );
    }

    #[test]
    fn a_session_is_resumed_only_through_resume_args() {
        let base = "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\n";
        let config = load(
            &format!(
                "{base}args = [\"{{prompt}}\"]\nresume_args = [\"--resume\", \"{{session}}\", \
                 \"{{prompt}}\"]\ncontinue_session = true"
            ),
            &[],
        )
        .unwrap();
        let x = config.provider("x").unwrap();
        assert_eq!(x.args, ["{prompt}"]);
        assert_eq!(
            x.resume_args.as_deref(),
            Some(
                ["--resume", "{session}", "{prompt}"]
                    .map(str::to_owned)
                    .as_slice()
            )
        );
        assert_eq!(
            load(base, &[]).unwrap().provider("x").unwrap().resume_args,
            None
        );
        assert_eq!(
            error(
                &format!("{base}args = [\"run\", \"--resume={{session}}\", \"{{prompt}}\"]"),
                &[]
            ),
            "providers.x.args[1]: {session} cannot be used in args: they also start a thread's \
             first turn, which has no session yet; put the command line that resumes a session \
             in resume_args"
        );
        assert_eq!(
            error(&format!("{base}resume_args = [\"{{sesion}}\"]"), &[]),
            "providers.x.resume_args[0]: unknown placeholder {sesion}, expected one of {prompt}, \
             {cwd}, {session}"
        );
        assert_eq!(
            error(&format!("{base}resume_args = \"--resume\""), &[]),
            "providers.x.resume_args: expected an array of strings, found a string"
        );
        assert_eq!(
            error(&format!("{base}continue_session = true"), &[]),
            "providers.x.continue_session: true needs resume_args, the command line that resumes \
             the recorded session (only kinds codex, claude and gemini with args empty have their own)"
        );
        assert_eq!(
            error(
                "[providers.codex]\nargs = [\"exec\", \"{prompt}\"]\ncontinue_session = true",
                &[]
            ),
            "providers.codex.continue_session: true needs resume_args, the command line that \
             resumes the recorded session (only kinds codex, claude and gemini with args empty have their \
             own)"
        );
        // The built-in kinds resume with their own command line.
        let builtin = load("[providers.codex]\ncontinue_session = true", &[]).unwrap();
        assert!(builtin.provider("codex").unwrap().continue_session);
        // An override is checked the same way.
        assert!(
            error("", &["providers.claude.args=[\"-p\", \"{session}\"]"])
                .starts_with("providers.claude.args[1]: {session} cannot be used in args")
        );
    }

    #[test]
    fn literal_braces_are_not_placeholders() {
        let config = load(
            "[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\nargs = ['{\"a\": 1}', \"{}\", \"{ prompt }\", \"{\"]",
            &[],
        )
        .unwrap();
        assert_eq!(config.provider("x").unwrap().args.len(), 4);
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "default_provider = ").unwrap();
        let err = Config::load(Some(&path), &[]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("config file {}: ", path.display())),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
        assert!(
            err.contains("TOML parse error at line 1, column 20"),
            "{err}"
        );
    }

    #[test]
    fn files_explicit_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FAKE).unwrap();
        let config = Config::load(Some(&path), &[]).unwrap();
        assert_eq!(config.default_provider_name(), "fake");
        assert_eq!(config.file.as_deref(), Some(path.as_path()));

        let missing = dir.path().join("missing.toml");
        let err = Config::load(Some(&missing), &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cannot read config file "),
            "{err}"
        );

        // A missing default file means the defaults; an existing one is read.
        let config = Config::load_or_default(None, Some(missing), &[]).unwrap();
        assert_eq!(config.default_provider_name(), "codex");
        assert_eq!(config.file, None);
        let config = Config::load_or_default(None, Some(path.clone()), &[]).unwrap();
        assert_eq!(config.default_provider_name(), "fake");
        let config = Config::load_or_default(None, None, &[]).unwrap();
        assert_eq!(config.default_provider_name(), "codex");
    }
}
