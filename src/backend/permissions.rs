//! What a turn's `approvalPolicy` and sandbox ask of its backend, kind by kind: the flags of
//! Claude Code, Gemini CLI and `codex exec` (an ACP agent's session mode is
//! `backend::acp::modes`), the environment every backend gets, and the settings a kind cannot
//! hold, which `turn/start` refuses. The rule throughout: a backend never runs with
//! more permission than the client asked for; where a kind can only hold a setting by giving
//! less (a request nobody can be asked about is denied), it gives less, and
//! `docs/backends.md` says so.

use std::ffi::OsString;

use serde_json::Value;

use crate::protocol::{AskForApproval, SandboxPolicy};
use crate::spec::{BackendKind, InputMode, Spec};

/// The environment variable with the turn's approval policy (`untrusted`, `on-request`,
/// `never`, `granular`).
pub const APPROVAL_POLICY_ENV: &str = "AGENT_HOST_APPROVAL_POLICY";
/// The environment variable with the turn's sandbox mode (`read-only`, `workspace-write`,
/// `danger-full-access`, `external-sandbox`).
pub const SANDBOX_ENV: &str = "AGENT_HOST_SANDBOX";
/// The environment variable with the turn's whole sandbox policy, as JSON in Codex's shape.
pub const SANDBOX_POLICY_ENV: &str = "AGENT_HOST_SANDBOX_POLICY";

/// When the backend must ask before it acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Ask before anything but known-safe reads.
    Untrusted,
    /// Ask when the agent wants more than its sandbox gives.
    OnRequest,
    /// Never ask: what the sandbox allows runs, the rest is refused.
    Never,
    /// Codex's fine-grained policy, which no CLI but Codex can express.
    Granular,
}

impl Approval {
    /// The name in the protocol (kebab-case, as `approvalPolicy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Untrusted => "untrusted",
            Approval::OnRequest => "on-request",
            Approval::Never => "never",
            Approval::Granular => "granular",
        }
    }

    /// Whether the client is to be asked at all.
    pub fn asks(self) -> bool {
        match self {
            Approval::Untrusted | Approval::OnRequest | Approval::Granular => true,
            Approval::Never => false,
        }
    }
}

/// Where the backend may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    ReadOnly,
    /// The working directory and `extra_roots`; `network`: whether commands may use it.
    WorkspaceWrite {
        extra_roots: Vec<String>,
        network: bool,
    },
    DangerFullAccess,
    /// The client runs us inside a sandbox of its own: no restriction of ours.
    External,
}

impl Sandbox {
    /// The mode's name (as the `sandbox` of `thread/start`, plus `external-sandbox`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Sandbox::ReadOnly => "read-only",
            Sandbox::WorkspaceWrite { .. } => "workspace-write",
            Sandbox::DangerFullAccess => "danger-full-access",
            Sandbox::External => "external-sandbox",
        }
    }
}

/// A turn's approval policy and sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub approval: Approval,
    pub sandbox: Sandbox,
}

impl Permissions {
    /// The spec's settings; a spec without them (written before they were recorded) asks
    /// for the defaults of a new thread, `on-request` and `read-only`.
    pub fn of(spec: &Spec) -> Permissions {
        Permissions {
            approval: approval(spec.approval_policy.as_ref()),
            sandbox: sandbox(spec.sandbox_policy.as_ref(), &spec.cwd.to_string_lossy()),
        }
    }
}

fn approval(value: Option<&Value>) -> Approval {
    match value.map(|v| serde_json::from_value::<AskForApproval>(v.clone())) {
        Some(Ok(AskForApproval::Untrusted)) => Approval::Untrusted,
        Some(Ok(AskForApproval::Never)) => Approval::Never,
        Some(Ok(AskForApproval::Granular(_))) => Approval::Granular,
        Some(Ok(AskForApproval::OnRequest)) | Some(Err(_)) | None => Approval::OnRequest,
    }
}

/// The sandbox of a spec: the policy object, or a bare mode name as a thread stores it.
fn sandbox(value: Option<&Value>, cwd: &str) -> Sandbox {
    let policy = value.and_then(|v| serde_json::from_value::<SandboxPolicy>(v.clone()).ok());
    match policy {
        Some(SandboxPolicy::DangerFullAccess) => Sandbox::DangerFullAccess,
        Some(SandboxPolicy::ExternalSandbox { .. }) => Sandbox::External,
        Some(SandboxPolicy::WorkspaceWrite {
            writable_roots,
            network_access,
            ..
        }) => Sandbox::WorkspaceWrite {
            extra_roots: writable_roots.into_iter().filter(|r| r != cwd).collect(),
            network: network_access,
        },
        Some(SandboxPolicy::ReadOnly { .. }) | None => match value.and_then(Value::as_str) {
            Some("workspace-write") => Sandbox::WorkspaceWrite {
                extra_roots: Vec::new(),
                network: false,
            },
            Some("danger-full-access") => Sandbox::DangerFullAccess,
            Some(_) | None => Sandbox::ReadOnly,
        },
    }
}

/// Why the spec's backend cannot hold the spec's settings, if it cannot. `as_root`: the
/// backend would run as root. Kind `jsonl` and providers
/// with arguments of their own get the settings in their environment and are trusted with
/// them (a provider lists what it holds with `sandbox_modes` and `approval_policies`).
pub fn refusal(spec: &Spec, as_root: bool) -> Option<String> {
    let provider = &spec.provider;
    let permissions = Permissions::of(spec);
    let own_command_line = provider.args.is_empty();
    let (cli, setting) = match provider.kind {
        // Its own command line or not, kind `codex` is an app-server client.
        BackendKind::Codex => (
            "codex app-server",
            super::codex_turn::refusal(&permissions)?,
        ),
        // `codex exec` holds every sandbox (`codex_exec_flags`) and every policy by asking
        // nobody; `granular` too.
        BackendKind::Jsonl | BackendKind::CodexExec => return None,
        // An ACP agent's `args` only start it: the settings reach it through the protocol.
        BackendKind::Acp => ("an ACP agent", acp_refusal(&permissions)?),
        _ if !own_command_line => return None,
        BackendKind::Claude => ("Claude Code", claude_refusal(&permissions, as_root)?),
        BackendKind::Gemini => ("Gemini CLI", gemini_refusal(&permissions)?),
    };
    Some(format!(
        "provider `{}` ({cli}) cannot hold {setting}",
        provider.name
    ))
}

fn claude_refusal(permissions: &Permissions, as_root: bool) -> Option<String> {
    let mode = ClaudeMode::of(permissions);
    match permissions.approval {
        Approval::Granular => Some(
            "approvalPolicy `granular`: its permission modes have no per-category policy"
                .to_owned(),
        ),
        Approval::Never if as_root && mode == ClaudeMode::BypassPermissions => Some(format!(
            "approvalPolicy `never` with sandbox `{}`: that needs its permission mode \
                 `bypassPermissions`, which it refuses to run as root",
            permissions.sandbox.as_str()
        )),
        Approval::Untrusted | Approval::OnRequest | Approval::Never => None,
    }
}

fn gemini_refusal(permissions: &Permissions) -> Option<String> {
    match permissions.approval {
        Approval::Granular => Some(
            "approvalPolicy `granular`: its approval modes have no per-category policy".to_owned(),
        ),
        Approval::Untrusted | Approval::OnRequest | Approval::Never => None,
    }
}

/// What no ACP agent can hold: the protocol has no per-category approval policy. (A
/// read-only sandbox needs a session mode of the agent's that only the agent names, in its
/// answer to `session/new`: without one the turn fails there, before its prompt;
/// `backend::acp::modes`.)
fn acp_refusal(permissions: &Permissions) -> Option<String> {
    match permissions.approval {
        Approval::Granular => Some(
            "approvalPolicy `granular`: the Agent Client Protocol has no per-category policy"
                .to_owned(),
        ),
        Approval::Untrusted | Approval::OnRequest | Approval::Never => None,
    }
}

/// Claude Code's permission flags: `--permission-mode`, and who answers its permission
/// prompts. With stream-json input and a policy that asks, `--permission-prompt-tool stdio`:
/// each prompt comes as a `control_request` `can_use_tool` on stdout, our client's answer
/// goes back on stdin. Without a way to ask (one-shot input, or `never`),
/// `--permission-prompts none`: what would prompt is denied.
pub fn claude_flags(permissions: &Permissions, input: InputMode) -> Vec<OsString> {
    let mode = ClaudeMode::of(permissions);
    let mut args = flags(&["--permission-mode", mode.as_str()]);
    if let Sandbox::WorkspaceWrite { extra_roots, .. } = &permissions.sandbox {
        for root in extra_roots {
            args.push("--add-dir".into());
            args.push(root.into());
        }
    }
    match (mode, permissions.approval.asks(), input) {
        // Nothing prompts in these modes: `dontAsk` denies by itself, `bypassPermissions`
        // allows everything.
        (ClaudeMode::DontAsk | ClaudeMode::BypassPermissions, _, _) => {}
        (ClaudeMode::Default | ClaudeMode::AcceptEdits, true, InputMode::StreamJson) => {
            args.extend(flags(&["--permission-prompt-tool", "stdio"]));
        }
        (ClaudeMode::Default | ClaudeMode::AcceptEdits, _, _) => {
            args.extend(flags(&["--permission-prompts", "none"]));
        }
    }
    args
}

/// The Claude Code permission modes a turn's settings map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaudeMode {
    /// Runs what its rules classify as safe (reads, read-only commands), prompts for the rest.
    Default,
    /// As `Default`, and file edits and file-system commands in the working directories run.
    AcceptEdits,
    /// Runs what its rules allow, denies the rest without prompting.
    DontAsk,
    /// Runs everything (refused as root).
    BypassPermissions,
}

impl ClaudeMode {
    fn of(permissions: &Permissions) -> ClaudeMode {
        let asks = permissions.approval.asks();
        match &permissions.sandbox {
            Sandbox::ReadOnly if asks => ClaudeMode::Default,
            Sandbox::ReadOnly => ClaudeMode::DontAsk,
            Sandbox::WorkspaceWrite { .. } => ClaudeMode::AcceptEdits,
            Sandbox::DangerFullAccess | Sandbox::External if asks => ClaudeMode::Default,
            Sandbox::DangerFullAccess | Sandbox::External => ClaudeMode::BypassPermissions,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ClaudeMode::Default => "default",
            ClaudeMode::AcceptEdits => "acceptEdits",
            ClaudeMode::DontAsk => "dontAsk",
            ClaudeMode::BypassPermissions => "bypassPermissions",
        }
    }
}

/// Gemini CLI's flags: `--approval-mode` and `--sandbox`. Headless Gemini cannot ask
/// anyone: a tool its mode does not allow is refused. Read-only is its `plan` mode;
/// workspace-write is `auto_edit` (its file tools stay inside the workspace; commands are
/// refused), or with the network allowed and a policy that lets commands run, `yolo` inside
/// its `--sandbox` container; full access is `yolo`, or `default` when every action must be
/// asked about (`untrusted`).
pub fn gemini_flags(permissions: &Permissions) -> Vec<OsString> {
    let commands_may_run = matches!(permissions.approval, Approval::OnRequest | Approval::Never);
    match &permissions.sandbox {
        Sandbox::ReadOnly => flags(&["--approval-mode", "plan"]),
        Sandbox::WorkspaceWrite { network: true, .. } if commands_may_run => {
            flags(&["--sandbox", "--approval-mode", "yolo"])
        }
        Sandbox::WorkspaceWrite { .. } => flags(&["--approval-mode", "auto_edit"]),
        Sandbox::DangerFullAccess | Sandbox::External if commands_may_run => {
            flags(&["--approval-mode", "yolo"])
        }
        Sandbox::DangerFullAccess | Sandbox::External => flags(&["--approval-mode", "default"]),
    }
}

/// `codex exec`'s sandbox flags: `--sandbox MODE`, each extra writable root as `--add-dir`,
/// and the network of a workspace-write sandbox as a `-c` override, so the turn's sandbox
/// holds whatever the user's Codex configuration says. An external sandbox is Codex's
/// `danger-full-access` (Codex itself adds no sandbox inside one). `codex exec` never asks
/// for approval, whatever the policy: what would be asked is refused.
pub fn codex_exec_flags(permissions: &Permissions) -> Vec<OsString> {
    let mode = match &permissions.sandbox {
        Sandbox::External => Sandbox::DangerFullAccess.as_str(),
        sandbox @ (Sandbox::ReadOnly
        | Sandbox::WorkspaceWrite { .. }
        | Sandbox::DangerFullAccess) => sandbox.as_str(),
    };
    let mut args = flags(&["--sandbox", mode]);
    if let Sandbox::WorkspaceWrite {
        extra_roots,
        network,
    } = &permissions.sandbox
    {
        for root in extra_roots {
            args.push("--add-dir".into());
            args.push(root.into());
        }
        if *network {
            args.extend(flags(&[
                "-c",
                "sandbox_workspace_write.network_access=true",
            ]));
        }
    }
    args
}

/// The settings in every backend's environment ([`APPROVAL_POLICY_ENV`], [`SANDBOX_ENV`],
/// [`SANDBOX_POLICY_ENV`]); the provider's own `env` cannot override them.
pub fn env(spec: &Spec) -> Vec<(OsString, OsString)> {
    let permissions = Permissions::of(spec);
    let policy = spec
        .sandbox_policy
        .as_ref()
        .map_or_else(String::new, Value::to_string);
    vec![
        (
            APPROVAL_POLICY_ENV.into(),
            permissions.approval.as_str().into(),
        ),
        (SANDBOX_ENV.into(), permissions.sandbox.as_str().into()),
        (SANDBOX_POLICY_ENV.into(), policy.into()),
    ]
}

fn flags(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn permissions(approval: &str, sandbox: Value) -> Permissions {
        Permissions {
            approval: super::approval(Some(&json!(approval))),
            sandbox: super::sandbox(Some(&sandbox), "/w"),
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn claude_asks_over_stdio_only_with_stream_json_input_and_a_policy_that_asks() {
        let read_only = json!({"type": "readOnly"});
        let claude = |approval, sandbox: &Value, input| {
            strings(claude_flags(&permissions(approval, sandbox.clone()), input))
        };
        assert_eq!(
            claude("on-request", &read_only, InputMode::StreamJson),
            [
                "--permission-mode",
                "default",
                "--permission-prompt-tool",
                "stdio"
            ]
        );
        assert_eq!(
            claude("untrusted", &read_only, InputMode::Once),
            [
                "--permission-mode",
                "default",
                "--permission-prompts",
                "none"
            ]
        );
        assert_eq!(
            claude("never", &read_only, InputMode::StreamJson),
            ["--permission-mode", "dontAsk"]
        );
        let workspace = json!({"type": "workspaceWrite", "writableRoots": ["/w", "/data"]});
        assert_eq!(
            claude("never", &workspace, InputMode::StreamJson),
            [
                "--permission-mode",
                "acceptEdits",
                "--add-dir",
                "/data",
                "--permission-prompts",
                "none"
            ]
        );
        let full = json!({"type": "dangerFullAccess"});
        assert_eq!(
            claude("never", &full, InputMode::StreamJson),
            ["--permission-mode", "bypassPermissions"]
        );
        assert_eq!(
            claude(
                "on-request",
                &json!("danger-full-access"),
                InputMode::StreamJson
            ),
            [
                "--permission-mode",
                "default",
                "--permission-prompt-tool",
                "stdio"
            ]
        );
    }

    #[test]
    fn gemini_never_gets_more_than_asked() {
        let gemini =
            |approval, sandbox: Value| strings(gemini_flags(&permissions(approval, sandbox)));
        assert_eq!(
            gemini("never", json!("read-only")),
            ["--approval-mode", "plan"]
        );
        assert_eq!(
            gemini("never", json!({"type": "workspaceWrite"})),
            ["--approval-mode", "auto_edit"]
        );
        assert_eq!(
            gemini(
                "on-request",
                json!({"type": "workspaceWrite", "networkAccess": true})
            ),
            ["--sandbox", "--approval-mode", "yolo"]
        );
        assert_eq!(
            gemini(
                "untrusted",
                json!({"type": "workspaceWrite", "networkAccess": true})
            ),
            ["--approval-mode", "auto_edit"]
        );
        assert_eq!(
            gemini("never", json!({"type": "dangerFullAccess"})),
            ["--approval-mode", "yolo"]
        );
        assert_eq!(
            gemini("untrusted", json!({"type": "externalSandbox"})),
            ["--approval-mode", "default"]
        );
    }

    #[test]
    fn claude_refuses_granular_and_bypass_as_root() {
        let full = permissions("never", json!({"type": "dangerFullAccess"}));
        assert!(claude_refusal(&full, false).is_none());
        assert!(claude_refusal(&full, true).is_some_and(|why| why.contains("bypassPermissions")));
        let granular = Permissions {
            approval: Approval::Granular,
            sandbox: Sandbox::ReadOnly,
        };
        assert!(claude_refusal(&granular, false).is_some_and(|why| why.contains("granular")));
        assert!(gemini_refusal(&granular).is_some());
        assert!(acp_refusal(&granular).is_some_and(|why| why.contains("granular")));
        assert!(acp_refusal(&full).is_none());
    }
}
