//! `spec.json`: what the runner must do, written by the server before it starts the runner.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{Mode, TokenBreakdown, check_version};

/// The file name of the spec inside a turn directory.
pub use crate::store::turn_dir::SPEC_FILE;

/// The turn to run (`docs/contracts.md`, "spec.json").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub v: u32,
    pub thread_id: String,
    pub turn_id: String,
    pub mode: Mode,
    pub cwd: PathBuf,
    pub provider: Provider,
    pub prompt: String,
    /// Local images (absolute paths) to attach with the backend's own flag; only set when the
    /// backend takes one (see [`crate::backend::takes_image_flags`]), else the prompt names
    /// them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PathBuf>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub resume_session_id: Option<String>,
    /// The turn's `approvalPolicy` (the request's, else the thread's), in Codex's shape.
    #[serde(default)]
    pub approval_policy: Option<Value>,
    /// The turn's sandbox (the request's `sandboxPolicy`, else the thread's `sandbox`), as
    /// Codex's `SandboxPolicy` object; how each kind holds it: `backend::permissions`.
    #[serde(default)]
    pub sandbox_policy: Option<Value>,
    #[serde(default)]
    pub grace_ms: GraceMs,
    /// The thread's token usage total before this turn: the turn's `tokenUsage.total` is
    /// this plus the turn's own usage (optional; zero when absent).
    #[serde(default)]
    pub previous_total_usage: Option<TokenBreakdown>,
    /// When the turn resumes a backend session (`resumeSessionId`): that session's own
    /// cumulative usage as the backend last reported it. A backend that reports session
    /// totals (codex) is measured from it, so earlier turns are not counted twice
    /// (optional; zero when absent).
    #[serde(default)]
    pub resumed_session_usage: Option<TokenBreakdown>,
}

/// The backend to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub name: String,
    pub kind: BackendKind,
    /// The program; for `codex` an empty command means `codex` from `PATH`.
    #[serde(default)]
    pub command: String,
    /// Arguments with whole-element placeholders `{prompt}`, `{cwd}`, `{session}`; for `codex`
    /// an empty list means the standard `codex exec --json` argv.
    #[serde(default)]
    pub args: Vec<String>,
    /// The names of the provider's environment variables; their values reach the runner in
    /// its own environment ([`crate::runner::PROVIDER_ENV_ENV`]), never in this file.
    #[serde(default, deserialize_with = "env_names")]
    pub env: Vec<String>,
    /// The names of the runner's variables the backend inherits (the provider's
    /// `env_inherit`); absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_inherit: Option<Vec<String>>,
    #[serde(default)]
    pub prompt_via: PromptVia,
    /// How the backend takes approval answers (`docs/backend-jsonl.md`, "Approvals").
    #[serde(default)]
    pub approvals: Approvals,
    /// How the backend takes the user's input; `streamJson` keeps stdin open for steering.
    #[serde(default)]
    pub input: InputMode,
}

/// `provider.env` as names; a spec written before values left the file (an object) gives its
/// keys, and its values are ignored.
fn env_names<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Map(serde_json::Map<String, Value>),
    }
    Ok(match Names::deserialize(deserializer)? {
        Names::List(names) => names,
        Names::Map(map) => map.into_iter().map(|(name, _)| name).collect(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BackendKind {
    /// Any command printing the codex `exec --json` event stream (`docs/backend-jsonl.md`).
    Jsonl,
    /// A fresh `codex app-server` per turn, driven over JSON-RPC on its stdin and stdout.
    Codex,
    /// `codex exec --json`: the `jsonl` stream with codex's argv.
    #[serde(rename = "codex-exec")]
    CodexExec,
    /// Claude Code `--output-format stream-json`.
    Claude,
    /// Gemini CLI `-o stream-json`.
    Gemini,
    /// An Agent Client Protocol agent over stdio.
    Acp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PromptVia {
    /// The prompt is an argument (`{prompt}`); stdin is `/dev/null`.
    #[default]
    Arg,
    /// The prompt is written to stdin, which is then closed.
    Stdin,
}

/// How a backend takes the user's input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InputMode {
    /// The prompt once, as [`PromptVia`] says.
    #[default]
    Once,
    /// Claude Code stream-json: user messages as lines on stdin, which stays open until the
    /// answer to the last one (`turn/steer` adds messages).
    StreamJson,
}

impl From<crate::config::InputMode> for InputMode {
    fn from(input: crate::config::InputMode) -> InputMode {
        match input {
            crate::config::InputMode::Once => InputMode::Once,
            crate::config::InputMode::StreamJson => InputMode::StreamJson,
        }
    }
}

/// How a backend receives the answers to its approval requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Approvals {
    /// The backend asks for nothing; its stdin is `/dev/null` (or the prompt, see
    /// [`PromptVia`]). `codex exec` needs this: it blocks forever on an open stdin.
    #[default]
    None,
    /// The backend prints `approval.requested` and reads one `approval.response` line per
    /// request on its stdin, which stays an open pipe for the whole turn.
    Stdin,
}

impl From<crate::config::Approvals> for Approvals {
    fn from(approvals: crate::config::Approvals) -> Approvals {
        match approvals {
            crate::config::Approvals::None => Approvals::None,
            crate::config::Approvals::Stdin => Approvals::Stdin,
        }
    }
}

/// The decision the thread's `approvalPolicy` makes when no client can answer: `"never"`
/// (never ask the user) accepts, anything else declines.
pub fn policy_decision(approval_policy: Option<&Value>) -> &'static str {
    match approval_policy.and_then(Value::as_str) {
        Some("never") => "accept",
        Some(_) | None => "decline",
    }
}

/// The interrupt ladder's grace periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraceMs {
    /// After the backend's own cancel, before SIGTERM to every process of the turn.
    pub cancel: u64,
    /// After SIGTERM, before SIGKILL.
    pub term: u64,
    /// After the end marker, how long the backend may take to exit before it is stopped
    /// (its marker's outcome stands).
    #[serde(default = "default_marker_exit")]
    pub marker_exit: u64,
}

fn default_marker_exit() -> u64 {
    10_000
}

impl Default for GraceMs {
    fn default() -> GraceMs {
        GraceMs {
            cancel: 2000,
            term: 2000,
            marker_exit: default_marker_exit(),
        }
    }
}

/// Reads and checks `spec.json` in `turn_dir`.
pub fn read(turn_dir: &Path) -> io::Result<Spec> {
    let path = turn_dir.join(SPEC_FILE);
    let bytes = std::fs::read(&path)?;
    let spec: Spec = serde_json::from_slice(&bytes).map_err(|err| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {err}", path.display()),
        )
    })?;
    check_version(spec.v, "spec.json")
        .map_err(|msg| io::Error::new(io::ErrorKind::InvalidData, msg))?;
    Ok(spec)
}
