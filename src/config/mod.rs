//! The configuration file: which agent CLIs ("providers") turns run on, and how.
//!
//! A TOML file (`--config FILE`, `AGENT_HOST_CONFIG`, or the per-user default) is laid over
//! the built-in providers, then `-c key=value` overrides are laid over that (`layers.rs`),
//! and only then is the whole table read: by serde derive, every table denying unknown keys
//! (`raw.rs`, through `de.rs`, which keeps serde's errors as data), then by the checks serde
//! cannot express (`raw.rs`). An error names the key, and where its value was written: the
//! file's line and column, or the `-c` override (`error.rs`).
//! See `docs/configuration.md` for the user-facing reference.

mod de;
mod error;
mod launcher;
mod layers;
mod raw;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Origin};
pub use launcher::{KubernetesConfig, LauncherConfig, LauncherKind, SlurmConfig};

/// The provider used when none is configured.
pub const BUILTIN_DEFAULT_PROVIDER: &str = "codex";
/// The placeholders an argument may hold.
pub const PLACEHOLDERS: [&str; 3] = ["prompt", "cwd", "session"];
/// The grace periods of the interrupt ladder when none are configured.
pub const DEFAULT_GRACE_MS: u64 = 2000;
/// How long the completion notice's program may run when no timeout is configured.
pub const DEFAULT_NOTIFY_TIMEOUT_MS: u64 = 30_000;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    default_provider: String,
    providers: BTreeMap<String, Provider>,
    /// The grace periods of the interrupt ladder.
    pub interrupt: InterruptConfig,
    /// The completion notice.
    pub notify: NotifyConfig,
    /// Where turns' runners run (`[launcher]`).
    pub launcher: LauncherConfig,
    /// The file that was read, if any (a missing default file reads nothing).
    pub file: Option<PathBuf>,
    layers: Layers,
}

/// The configuration's layers as they were written, as JSON objects, and the merged table
/// they make together (lowest first: built-in defaults, the file, the `-c` overrides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    /// The built-in defaults: the built-in providers, `default_provider`, `[interrupt]`.
    pub builtin: JsonObject,
    /// The file's table (empty without a file).
    pub file: JsonObject,
    /// The overrides laid over an empty table; `None` without `-c`.
    pub overrides: Option<JsonObject>,
    /// Everything laid together: the table the configuration was read from.
    pub merged: JsonObject,
}

/// A JSON object (the layers are shown as JSON by `config/read`).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

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
    /// The variables of agent-host's own environment the backend inherits: `None`, all of
    /// them; a list, only those named (what agent-host sets for the backend, `env` among it,
    /// comes on top). Codex's `shell_environment_policy` with `include_only`.
    pub env_inherit: Option<Vec<String>>,
    pub prompt_via: PromptVia,
    /// Whether a thread's later turns resume the backend's own session.
    pub continue_session: bool,
    /// The default model, when the client does not name one.
    pub model: Option<String>,
    /// How the backend takes approval answers.
    pub approvals: Approvals,
    /// Whether the backend takes its input once or as a stream of messages (`turn/steer`).
    pub input: InputMode,
    /// The models `model/list` offers; `None`: the kind's own list (`src/backend/models.rs`).
    pub models: Option<Vec<String>>,
    /// The sandbox modes the backend holds; a turn asking for another is refused. `None`:
    /// the kind decides (`src/backend/permissions.rs`).
    pub sandbox_modes: Option<Vec<SandboxModeName>>,
    /// The approval policies the backend holds; a turn asking for another is refused.
    /// `None`: the kind decides.
    pub approval_policies: Option<Vec<ApprovalPolicyName>>,
    /// Whether the server keeps a warm spare of this provider's backend: started before the
    /// next turn needs it, used by one turn at most (`docs/arch/runner.md`, "Warm spares").
    pub warm_spare: bool,
}

impl Provider {
    /// Whether a turn can resume the backend session a previous turn recorded: the provider
    /// has `resume_args`, or runs the kind's own command line (kinds `codex`, `claude` and
    /// `gemini` with `args` empty), which has its resume form, or is an ACP agent (its
    /// `session/load`).
    pub fn can_resume(&self) -> bool {
        self.resume_args.is_some() || self.runs_own_command_line() || self.kind == ProviderKind::Acp
    }

    /// Whether the runner builds the kind's own command line: a built-in kind, `args` empty.
    pub fn runs_own_command_line(&self) -> bool {
        matches!(
            self.kind,
            ProviderKind::Codex
                | ProviderKind::CodexExec
                | ProviderKind::Claude
                | ProviderKind::Gemini
        ) && self.args.is_empty()
    }
}

/// How a provider's output is understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Our canonical event records, one JSON object per line.
    Jsonl,
    /// A fresh `codex app-server` per turn, driven as its client.
    Codex,
    /// `codex exec --json`.
    #[serde(rename = "codex-exec")]
    CodexExec,
    /// `claude -p --output-format stream-json`.
    Claude,
    /// `gemini -p PROMPT -o stream-json`.
    Gemini,
    /// An Agent Client Protocol agent over stdio (`command` and `args` start it).
    Acp,
}

impl ProviderKind {
    const ALL: [ProviderKind; 6] = [
        ProviderKind::Jsonl,
        ProviderKind::Codex,
        ProviderKind::CodexExec,
        ProviderKind::Claude,
        ProviderKind::Gemini,
        ProviderKind::Acp,
    ];

    /// The name used in the configuration file and in `spec.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Jsonl => "jsonl",
            ProviderKind::Codex => "codex",
            ProviderKind::CodexExec => "codex-exec",
            ProviderKind::Claude => "claude",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Acp => "acp",
        }
    }
}

/// How the prompt reaches the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptVia {
    /// Substituted into `{prompt}` in the arguments.
    #[default]
    Arg,
    /// Written to the backend's stdin, which is then closed.
    Stdin,
}

impl PromptVia {
    /// The name used in the configuration file and in `spec.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            PromptVia::Arg => "arg",
            PromptVia::Stdin => "stdin",
        }
    }
}

/// How a provider takes the answers to its approval requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approvals {
    /// It asks for none; its stdin is `/dev/null` (needed by `codex exec`, which blocks on
    /// an open stdin).
    #[default]
    None,
    /// It prints `approval.requested` and reads `approval.response` lines on its stdin.
    Stdin,
}

impl Approvals {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Approvals::None => "none",
            Approvals::Stdin => "stdin",
        }
    }
}

/// A sandbox mode a provider may list in `sandbox_modes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxModeName {
    ReadOnly,
    WorkspaceWrite,
    DangerFullAccess,
    ExternalSandbox,
}

impl SandboxModeName {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxModeName::ReadOnly => "read-only",
            SandboxModeName::WorkspaceWrite => "workspace-write",
            SandboxModeName::DangerFullAccess => "danger-full-access",
            SandboxModeName::ExternalSandbox => "external-sandbox",
        }
    }
}

/// An approval policy a provider may list in `approval_policies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalPolicyName {
    Untrusted,
    OnRequest,
    Never,
    Granular,
}

impl ApprovalPolicyName {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalPolicyName::Untrusted => "untrusted",
            ApprovalPolicyName::OnRequest => "on-request",
            ApprovalPolicyName::Never => "never",
            ApprovalPolicyName::Granular => "granular",
        }
    }
}

/// How a provider takes the user's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputMode {
    /// The prompt once, at the start (`prompt_via`); nothing can be added mid-turn.
    Once,
    /// Claude Code's `--input-format stream-json`: the prompt is the first user message on
    /// stdin, which stays open for `turn/steer` until the answer to the last message.
    StreamJson,
}

impl InputMode {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            InputMode::Once => "once",
            InputMode::StreamJson => "stream-json",
        }
    }
}

/// The completion notice: a program run once for every finished turn that ran in the
/// background (and, with `foreground`, for foreground turns too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// The program and its first arguments (`notify`); `None`: no notice.
    pub program: Option<Vec<String>>,
    /// Whether foreground turns get the notice too (`notify_foreground`).
    pub foreground: bool,
    /// How long the program may run before it is killed (`notify_timeout_ms`).
    pub timeout_ms: u64,
}

/// The grace periods of the interrupt ladder (cancel, then SIGTERM, then SIGKILL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table")]
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

impl Default for NotifyConfig {
    fn default() -> NotifyConfig {
        NotifyConfig {
            program: None,
            foreground: false,
            timeout_ms: DEFAULT_NOTIFY_TIMEOUT_MS,
        }
    }
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

    /// Lays the file and the overrides over the built-ins, then reads the result; an error
    /// is placed where its value was written.
    fn parse(text: &str, file: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
        let layers::Laid {
            table,
            sources,
            written,
        } = layers::lay(text, file, overrides)?;
        let merged = json_object(&table);
        let mut config = raw::read(table).map_err(|fault| sources.place(fault))?;
        config.layers = Layers {
            builtin: json_object(&written.builtin),
            file: json_object(&written.file),
            overrides: written.overrides.as_ref().map(json_object),
            merged,
        };
        Ok(config)
    }

    /// The layers the configuration was made of.
    pub fn layers(&self) -> &Layers {
        &self.layers
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

/// A TOML table as a JSON object. A loaded configuration holds no datetime (no key takes
/// one), so every value has its JSON counterpart.
fn json_object(table: &toml::Table) -> JsonObject {
    match serde_json::to_value(table) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) | Err(_) => JsonObject::new(),
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
