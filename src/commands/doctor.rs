//! `agent-host doctor [--json]`: can each configured provider run a turn on this machine?
//!
//! For every provider of the configuration (the built-in ones and the user's): its kind, the
//! program a turn would start, found as the runner finds it (`PATH`, the provider's own
//! `PATH` when its `env` sets one), the program's version (for the kinds whose CLI we know,
//! `--version`, run through [`crate::process::capture`] with the turn's environment and
//! bounded in time), the command line of a new turn (with `{prompt}` and `{cwd}` in place of
//! the prompt and the thread's directory), and what is missing. The exit code is 1 when the
//! default provider cannot run a turn.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::print;
use super::select::OpsError;
use crate::backend::{self, BackendCommand, Stdin};
use crate::cli::DoctorOptions;
use crate::config::{Config, Provider, ProviderKind};
use crate::events::{Mode, RECORD_VERSION};
use crate::process::EnvPolicy;
use crate::process::capture::{self, Limits};
use crate::spec::{GraceMs, Spec};

/// How long a CLI may take to print its version (Gemini CLI, a Node program, takes seconds).
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// What `doctor` found (`--json` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    default_provider: String,
    /// Whether the default provider can run a turn.
    ready: bool,
    providers: Vec<Checked>,
}

/// One provider.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Checked {
    name: String,
    kind: ProviderKind,
    default: bool,
    /// The program as configured.
    command: String,
    /// Where it was found; `None` when it was not.
    binary: Option<String>,
    /// The first line its `--version` printed; `None` when not asked or it failed.
    version: Option<String>,
    /// The program and arguments of a new turn.
    command_line: Vec<String>,
    /// How the prompt reaches the program: `argument` (in the command line), `stdin`,
    /// `streamJson` (the first user message on stdin), `protocol` (in the `turn/start`
    /// request of the backend's own protocol on stdin, kind `codex`) or `sessionPrompt` (an
    /// ACP agent's `session/prompt` request); `None` without a command line.
    prompt: Option<&'static str>,
    /// Why a turn cannot run; empty when it can.
    missing: Vec<String>,
    ready: bool,
}

/// Checks every provider and prints the report; exit code 1 when the default provider
/// cannot run a turn.
pub(super) fn run(options: DoctorOptions) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let config = Config::load(options.config.as_deref(), &options.overrides)?;
    let default = config.default_provider_name().to_owned();
    let providers: Vec<&Provider> = config.providers().collect();
    // The version calls run side by side: one slow CLI does not add up with the others.
    let checked: Vec<Checked> = std::thread::scope(|scope| {
        let tasks: Vec<_> = providers
            .iter()
            .map(|provider| scope.spawn(|| check(provider, provider.name == default)))
            .collect();
        tasks
            .into_iter()
            .filter_map(|task| task.join().ok())
            .collect()
    });
    let ready = checked.iter().any(|c| c.default && c.ready);
    let report = Report {
        default_provider: default,
        ready,
        providers: checked,
    };
    if options.json {
        print::json(&report);
    } else {
        print_text(&report);
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Checks one provider.
fn check(provider: &Provider, default: bool) -> Checked {
    let mut missing = Vec::new();
    let command = match backend::command_for(&new_turn(provider)) {
        Ok(command) => Some(command),
        Err(reason) => {
            missing.push(format!("no command line: {reason}"));
            None
        }
    };
    let command_line = command.as_ref().map(argv).unwrap_or_default();
    let prompt = command.as_ref().map(|command| match command.stdin {
        Stdin::Null | Stdin::ApprovalAnswers => "argument",
        Stdin::Prompt(_) => "stdin",
        Stdin::UserMessages { .. } if provider.kind == ProviderKind::Acp => "sessionPrompt",
        Stdin::UserMessages { .. } => "streamJson",
        // The prompt is in the `turn/start` request of the backend's own protocol.
        Stdin::Protocol => "protocol",
    });
    let binary =
        command
            .as_ref()
            .and_then(|command| match find_program(&command.program, provider) {
                Ok(path) => Some(path),
                Err(reason) => {
                    missing.push(reason);
                    None
                }
            });
    let version = match (&binary, &command) {
        (Some(path), Some(command)) if knows_version_flag(provider.kind) => {
            match version(path, command, provider) {
                Ok(version) => Some(version),
                Err(reason) => {
                    missing.push(reason);
                    None
                }
            }
        }
        _ => None,
    };
    Checked {
        name: provider.name.clone(),
        kind: provider.kind,
        default,
        command: provider.command.clone(),
        binary: binary.map(|path| path.display().to_string()),
        version,
        command_line,
        prompt,
        ready: missing.is_empty(),
        missing,
    }
}

/// The spec of a new turn of `provider`, with the placeholders' names for the prompt and the
/// thread's directory.
fn new_turn(provider: &Provider) -> Spec {
    Spec {
        v: RECORD_VERSION,
        thread_id: String::new(),
        turn_id: String::new(),
        mode: Mode::Foreground,
        cwd: PathBuf::from("{cwd}"),
        provider: crate::server::spec_provider(provider, false),
        prompt: "{prompt}".to_owned(),
        images: Vec::new(),
        model: provider.model.clone(),
        resume_session_id: None,
        approval_policy: None,
        sandbox_policy: None,
        grace_ms: GraceMs::default(),
        previous_total_usage: None,
        resumed_session_usage: None,
    }
}

fn argv(command: &BackendCommand) -> Vec<String> {
    std::iter::once(command.program.as_os_str())
        .chain(command.args.iter().map(OsString::as_os_str))
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect()
}

/// Whether the kind's CLI is one we know to answer `--version` (a `jsonl` provider runs any
/// program, which might take the flag for a prompt; an `acp` agent may have no such flag
/// and start serving its stdin instead, as codex-acp and claude-agent-acp do).
fn knows_version_flag(kind: ProviderKind) -> bool {
    match kind {
        ProviderKind::Codex
        | ProviderKind::CodexExec
        | ProviderKind::Claude
        | ProviderKind::Gemini => true,
        ProviderKind::Jsonl | ProviderKind::Acp => false,
    }
}

/// The program as the runner would start it: a name without a slash is looked up in the
/// provider's `PATH` (its `env`), else ours (when `env_inherit` lets it through), else in
/// `execvp`'s default; a path is taken as it is.
fn find_program(program: &Path, provider: &Provider) -> Result<PathBuf, String> {
    let shown = program.display();
    if program.components().count() > 1 {
        return if is_executable(program) {
            Ok(program.to_owned())
        } else if program.exists() {
            Err(format!("{shown} is not an executable file"))
        } else {
            Err(format!("{shown} does not exist"))
        };
    }
    let inherits_path = provider
        .env_inherit
        .as_ref()
        .is_none_or(|names| names.iter().any(|name| name == "PATH"));
    let path = provider
        .env
        .get("PATH")
        .map(OsString::from)
        .or_else(|| inherits_path.then(|| std::env::var_os("PATH")).flatten())
        // What `execvp` searches when the backend has no `PATH` at all.
        .unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| format!("`{shown}` was not found in PATH"))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs `PROGRAM --version` with the environment a turn's backend gets (what `env_inherit`
/// lets through of ours, the kind's variables, then the provider's `env`); the first line it
/// printed.
fn version(path: &Path, command: &BackendCommand, provider: &Provider) -> Result<String, String> {
    let shown = format!("`{} --version`", path.display());
    let set = command
        .env
        .iter()
        .cloned()
        .chain(
            provider
                .env
                .iter()
                .map(|(key, value)| (OsString::from(key), OsString::from(value))),
        )
        .collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let limits = Limits {
        stdout_bytes: 4096,
        stderr_bytes: 4096,
        timeout: VERSION_TIMEOUT,
    };
    let args = [OsString::from("--version")];
    let env = EnvPolicy::inherit_from(provider.env_inherit.as_deref(), set, Vec::new());
    let captured = match capture::run(path, &args, &cwd, env, limits) {
        Ok(captured) => captured,
        Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
            return Err(format!(
                "{shown} did not answer within {} s",
                VERSION_TIMEOUT.as_secs()
            ));
        }
        Err(err) => return Err(format!("{shown} could not run: {err}")),
    };
    let stdout = first_line(&captured.stdout);
    if !captured.status.success() {
        let said = first_line(&captured.stderr).or(stdout).unwrap_or_default();
        return Err(format!("{shown} failed ({}): {said}", captured.status));
    }
    stdout
        .or_else(|| first_line(&captured.stderr))
        .ok_or_else(|| format!("{shown} printed nothing"))
}

/// The first non-empty line of `bytes`, trimmed and cut to 200 characters.
fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| line.chars().take(200).collect())
}

fn print_text(report: &Report) {
    for provider in &report.providers {
        let default = if provider.default { " (default)" } else { "" };
        print::line(&format!("{}{default}", provider.name));
        let rows = [
            ("kind", provider.kind.as_str().to_owned()),
            (
                "binary",
                provider
                    .binary
                    .clone()
                    .unwrap_or_else(|| "not found".to_owned()),
            ),
            (
                "version",
                provider.version.clone().unwrap_or_else(|| "-".to_owned()),
            ),
            ("turn", turn_line(provider)),
            (
                "missing",
                if provider.missing.is_empty() {
                    "nothing".to_owned()
                } else {
                    provider.missing.join("; ")
                },
            ),
        ];
        for (label, value) in rows {
            print::line(&format!("  {label:<8} {value}"));
        }
    }
    let verdict = if report.ready {
        "can run a turn"
    } else {
        "cannot run a turn"
    };
    print::line(&format!(
        "the default provider {} {verdict}",
        report.default_provider
    ));
}

/// The command line of a new turn, and where the prompt goes when it is not in it.
fn turn_line(provider: &Checked) -> String {
    let words = shell_words(&provider.command_line);
    match provider.prompt {
        Some("stdin") => format!("{words} (the prompt on stdin)"),
        Some("streamJson") => format!("{words} (the prompt on stdin, as stream-json)"),
        Some("protocol") => format!("{words} (the prompt in its turn/start request on stdin)"),
        Some(_) | None => words,
    }
}

/// A command line as a shell would take it: an argument with anything but plain characters
/// in single quotes.
fn shell_words(argv: &[String]) -> String {
    let plain = |arg: &str| {
        !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+{}%".contains(c))
    };
    argv.iter()
        .map(|arg| {
            if plain(arg) {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_shown_as_a_shell_would_take_it() {
        let argv = ["codex", "-C", "{cwd}", "a b", "it's", ""].map(str::to_owned);
        assert_eq!(shell_words(&argv), r"codex -C {cwd} 'a b' 'it'\''s' ''");
    }

    #[test]
    fn the_version_is_the_first_line_printed() {
        assert_eq!(
            first_line(b"\n  codex-cli 0.1.0 \nmore\n"),
            Some("codex-cli 0.1.0".to_owned())
        );
        assert_eq!(first_line(b" \n"), None);
    }
}
