//! The pure step of `command/exec`: params in, what to run (or the error) out. No IO: what the
//! kernel can confine is given as [`Confiners`].
//!
//! The checks and their texts are Codex's, in Codex's order, except where noted: a relative
//! `cwd` is refused (Codex resolves it against its own cwd), and a sandbox policy that cannot
//! be enforced here is refused rather than run with more permission than asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::jsonrpc::ErrorObject;
use crate::process::command::{CommandSpec, Input};
use crate::process::pty::Size;
use crate::process::sandbox::{FileSystem, Network, Policy};
use crate::protocol::{CommandExecParams, CommandExecTerminalSize, NetworkAccess, SandboxPolicy};

/// Codex's default timeout of a command (`DEFAULT_EXEC_COMMAND_TIMEOUT_MS`).
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Codex's default cap of each output stream.
pub(crate) const DEFAULT_OUTPUT_BYTES_CAP: usize = 1024 * 1024;
/// The terminal size when a `tty` command gives none.
const DEFAULT_TERMINAL: Size = Size { rows: 24, cols: 80 };

/// What this kernel can enforce without privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Confiners {
    pub landlock: bool,
    pub seccomp: bool,
}

/// What to run, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The client's process id, if it gave one.
    pub process_id: Option<String>,
    pub spec: CommandSpec,
    pub input: Input,
    /// Output goes out as `command/exec/outputDelta` instead of into the result.
    pub stream_output: bool,
    /// `command/exec/write` may write stdin.
    pub stream_stdin: bool,
    /// Per stream; `None`: no cap.
    pub output_cap: Option<usize>,
}

/// Decides what `params` asks for, or why it cannot run. `server_cwd` is the directory of a
/// command that names none.
pub(crate) fn plan(
    params: CommandExecParams,
    server_cwd: &Path,
    confiners: Confiners,
) -> Result<Plan, ErrorObject> {
    let tty = params.tty.unwrap_or(false);
    let size = terminal_size(params.size, tty)?;
    let output_cap = output_cap(params.output_bytes_cap, params.disable_output_cap)?;
    let timeout_ms = timeout(params.timeout_ms, params.disable_timeout)?;
    let cwd = cwd(params.cwd.as_deref(), server_cwd)?;
    let sandbox = sandbox(params.sandbox_policy.as_ref(), confiners)?;
    let stream_stdin = tty || params.stream_stdin.unwrap_or(false);
    let stream_output = tty || params.stream_stdout_stderr.unwrap_or(false);
    if params.process_id.is_none() && (tty || stream_stdin || stream_output) {
        return Err(ErrorObject::request_failed(
            "command/exec tty or streaming requires a client-supplied processId",
        ));
    }
    if params.command.is_empty() {
        return Err(ErrorObject::request_failed("command must not be empty"));
    }
    let (env_set, env_remove) = env(params.env.unwrap_or_default());
    let input = match (tty, stream_stdin) {
        (true, _) => Input::Terminal(size.unwrap_or(DEFAULT_TERMINAL)),
        (false, true) => Input::Pipe,
        (false, false) => Input::Null,
    };
    Ok(Plan {
        process_id: params.process_id,
        spec: CommandSpec {
            argv: params.command,
            cwd,
            env_set,
            env_remove,
            terminal: tty,
            timeout_ms,
            sandbox,
        },
        input,
        stream_output,
        stream_stdin,
        output_cap,
    })
}

/// A terminal size: only with `tty`, and never zero (checked again by `command/exec/resize`).
pub(crate) fn terminal_size(
    size: Option<CommandExecTerminalSize>,
    tty: bool,
) -> Result<Option<Size>, ErrorObject> {
    let Some(size) = size else {
        return Ok(None);
    };
    if !tty {
        return Err(ErrorObject::invalid_params_verbatim(
            "command/exec size requires tty: true",
        ));
    }
    checked_size(size).map(Some)
}

/// A size whose rows and columns are both positive.
pub(crate) fn checked_size(size: CommandExecTerminalSize) -> Result<Size, ErrorObject> {
    if size.rows == 0 || size.cols == 0 {
        return Err(ErrorObject::invalid_params_verbatim(
            "command/exec size rows and cols must be greater than 0",
        ));
    }
    Ok(Size {
        rows: size.rows,
        cols: size.cols,
    })
}

fn output_cap(cap: Option<u64>, disable: Option<bool>) -> Result<Option<usize>, ErrorObject> {
    match (cap, disable.unwrap_or(false)) {
        (Some(_), true) => Err(ErrorObject::invalid_params_verbatim(
            "command/exec cannot set both outputBytesCap and disableOutputCap",
        )),
        (None, true) => Ok(None),
        (Some(cap), false) => Ok(Some(usize::try_from(cap).unwrap_or(usize::MAX))),
        (None, false) => Ok(Some(DEFAULT_OUTPUT_BYTES_CAP)),
    }
}

fn timeout(timeout: Option<i64>, disable: Option<bool>) -> Result<Option<u64>, ErrorObject> {
    match (timeout, disable.unwrap_or(false)) {
        (Some(_), true) => Err(ErrorObject::invalid_params_verbatim(
            "command/exec cannot set both timeoutMs and disableTimeout",
        )),
        (None, true) => Ok(None),
        (Some(ms), false) => u64::try_from(ms).map(Some).map_err(|_| {
            ErrorObject::invalid_params_verbatim(format!(
                "command/exec timeoutMs must be non-negative, got {ms}"
            ))
        }),
        (None, false) => Ok(Some(DEFAULT_TIMEOUT_MS)),
    }
}

/// The command's directory: absolute (a missing one fails at the spawn, with Codex's error),
/// else the server's.
fn cwd(cwd: Option<&str>, server_cwd: &Path) -> Result<PathBuf, ErrorObject> {
    match cwd {
        None => Ok(server_cwd.to_path_buf()),
        Some(dir) if Path::new(dir).is_absolute() => Ok(PathBuf::from(dir)),
        Some(dir) => Err(ErrorObject::invalid_params(
            "command/exec",
            format!(
                "`cwd` is not an absolute path: {}",
                crate::jsonrpc::quote(dir)
            ),
        )),
    }
}

/// `env`: a string sets the variable, `null` removes it.
fn env(env: BTreeMap<String, Option<String>>) -> (Vec<(String, String)>, Vec<String>) {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for (key, value) in env {
        match value {
            Some(value) => set.push((key, value)),
            None => remove.push(key),
        }
    }
    (set, remove)
}

/// The confinement that enforces `policy` (default: read-only without network, Codex's
/// default), or the reason it cannot be enforced here.
fn sandbox(policy: Option<&SandboxPolicy>, confiners: Confiners) -> Result<Policy, ErrorObject> {
    let read_only_without_network = SandboxPolicy::ReadOnly {
        network_access: false,
    };
    let (file_system, network) = match policy.unwrap_or(&read_only_without_network) {
        SandboxPolicy::DangerFullAccess => return Ok(Policy::unrestricted()),
        SandboxPolicy::ExternalSandbox { network_access } => (
            FileSystem::Unrestricted,
            match network_access {
                NetworkAccess::Enabled => Network::Allowed,
                NetworkAccess::Restricted => Network::Denied,
            },
        ),
        SandboxPolicy::ReadOnly { network_access } => (
            FileSystem::ReadOnly {
                writable: Vec::new(),
            },
            if *network_access {
                Network::Allowed
            } else {
                Network::Denied
            },
        ),
        SandboxPolicy::WorkspaceWrite { .. } => {
            return Err(refused(
                "workspaceWrite",
                "it keeps `.git`, `.agents` and `.codex` inside each writable root read-only, \
                 and Landlock, the file-system sandbox agent-host uses without privileges, \
                 cannot make a directory inside a writable one read-only; use readOnly or \
                 dangerFullAccess",
            ));
        }
    };
    if matches!(file_system, FileSystem::ReadOnly { .. }) && !confiners.landlock {
        return Err(refused(
            "readOnly",
            "Landlock, the file-system sandbox agent-host uses without privileges, is not \
             available in this kernel",
        ));
    }
    if network == Network::Denied && !confiners.seccomp {
        return Err(refused(
            "without network access",
            "seccomp, which agent-host uses to deny network sockets, is not available in \
             this kernel",
        ));
    }
    Ok(Policy {
        file_system,
        network,
    })
}

fn refused(what: &str, why: &str) -> ErrorObject {
    ErrorObject::request_failed(format!(
        "command/exec sandboxPolicy {what} cannot be enforced: {why}"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ALL: Confiners = Confiners {
        landlock: true,
        seccomp: true,
    };

    fn try_plan(params: serde_json::Value, confiners: Confiners) -> Result<Plan, ErrorObject> {
        plan(
            serde_json::from_value(params).unwrap(),
            Path::new("/srv"),
            confiners,
        )
    }

    fn message(params: serde_json::Value) -> (i64, String) {
        let err = try_plan(params, ALL).unwrap_err();
        (err.code, err.message)
    }

    #[test]
    fn defaults_are_codex_s_read_only_without_network_ten_seconds_one_mebibyte() {
        let plan = try_plan(json!({"command": ["true"]}), ALL).unwrap();
        assert_eq!(plan.spec.timeout_ms, Some(DEFAULT_TIMEOUT_MS));
        assert_eq!(plan.output_cap, Some(DEFAULT_OUTPUT_BYTES_CAP));
        assert_eq!(plan.spec.cwd, PathBuf::from("/srv"));
        assert_eq!(plan.input, Input::Null);
        assert_eq!(
            plan.spec.sandbox,
            Policy {
                file_system: FileSystem::ReadOnly { writable: vec![] },
                network: Network::Denied,
            }
        );
    }

    #[test]
    fn tty_implies_both_streams_and_a_terminal_of_the_default_size() {
        let plan = try_plan(
            json!({"command": ["sh"], "processId": "p", "tty": true}),
            ALL,
        );
        let plan = plan.unwrap();
        assert!(plan.stream_output && plan.stream_stdin && plan.spec.terminal);
        assert_eq!(plan.input, Input::Terminal(DEFAULT_TERMINAL));
    }

    #[test]
    fn each_bad_param_gets_codex_s_error() {
        let cases = [
            (
                json!({"command": ["x"], "size": {"rows": 1, "cols": 1}}),
                -32602,
            ),
            (
                json!({"command": ["x"], "tty": true, "processId": "p", "size": {"rows": 0, "cols": 1}}),
                -32602,
            ),
            (
                json!({"command": ["x"], "outputBytesCap": 1, "disableOutputCap": true}),
                -32602,
            ),
            (
                json!({"command": ["x"], "timeoutMs": 1, "disableTimeout": true}),
                -32602,
            ),
            (json!({"command": ["x"], "timeoutMs": -5}), -32602),
            (json!({"command": ["x"], "cwd": "relative"}), -32602),
            (json!({"command": ["x"], "streamStdin": true}), -32600),
            (json!({"command": []}), -32600),
        ];
        for (params, code) in cases {
            assert_eq!(message(params.clone()).0, code, "{params}");
        }
        assert_eq!(
            message(json!({"command": ["x"], "timeoutMs": -5})).1,
            "command/exec timeoutMs must be non-negative, got -5"
        );
    }

    #[test]
    fn a_policy_that_cannot_be_enforced_is_refused_never_loosened() {
        let none = Confiners {
            landlock: false,
            seccomp: false,
        };
        let read_only = try_plan(json!({"command": ["x"]}), none).unwrap_err();
        assert!(read_only.message.contains("Landlock"), "{read_only:?}");
        let no_net = json!({"command": ["x"], "sandboxPolicy": {"type": "externalSandbox"}});
        assert!(
            try_plan(no_net, none)
                .unwrap_err()
                .message
                .contains("seccomp")
        );
        let workspace = json!({"command": ["x"], "sandboxPolicy": {"type": "workspaceWrite"}});
        assert!(try_plan(workspace, ALL).is_err());
        let full = json!({"command": ["x"], "sandboxPolicy": {"type": "dangerFullAccess"}});
        assert_eq!(
            try_plan(full, none).unwrap().spec.sandbox,
            Policy::unrestricted()
        );
    }

    #[test]
    fn null_in_env_removes_the_variable() {
        let plan = try_plan(json!({"command": ["x"], "env": {"A": "1", "B": null}}), ALL);
        let spec = plan.unwrap().spec;
        assert_eq!(spec.env_set, vec![("A".to_owned(), "1".to_owned())]);
        assert_eq!(spec.env_remove, vec!["B".to_owned()]);
    }
}
