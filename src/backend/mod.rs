//! Backend adapters: how a backend kind is started, cancelled, and how its stdout maps onto
//! canonical events.
//!
//! An adapter is fed the backend's stdout one line at a time and appends canonical
//! [`Event`]s; a bad line becomes a `warning` and is skipped, never fatal. The end-of-turn
//! marker is an ordinary [`Event::Marker`] among them; the runner, not the adapter, decides
//! the turn's status from (marker, interrupt, exit status) together.

pub mod claude;
pub mod codex_jsonl;

use std::ffi::OsString;
use std::path::PathBuf;

use rustix::process::Signal;
use serde_json::Value;

use crate::events::{Event, TokenBreakdown};
use crate::runner::spec::{Approvals, BackendKind, PromptVia, Spec};

/// How to start the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Written to the backend's stdin, which is then closed; `None` means stdin is `/dev/null`.
    pub stdin: Option<String>,
}

/// The backend's own graceful cancel, the first rung of the interrupt ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Send this signal to the backend leader (one-shot CLIs: SIGINT).
    SignalLeader(Signal),
}

/// Where a turn's token counts start, from its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBase {
    /// The thread's total before this turn (`previousTotalUsage`): `tokenUsage.total` is
    /// this plus the turn's own usage.
    pub thread_total: TokenBreakdown,
    /// The resumed session's own cumulative figure before this turn
    /// (`resumedSessionUsage`); zero for a fresh session.
    pub session_total: TokenBreakdown,
    /// The session the turn resumes (`resumeSessionId`). A backend that announces another
    /// session started a fresh one, whose figures count from zero.
    pub session_id: Option<String>,
}

impl UsageBase {
    pub fn of(spec: &Spec) -> UsageBase {
        UsageBase {
            thread_total: spec.previous_total_usage.unwrap_or_default(),
            session_total: spec.resumed_session_usage.unwrap_or_default(),
            session_id: spec.resume_session_id.clone(),
        }
    }
}

/// The adapter of one backend kind.
#[derive(Debug)]
pub enum Adapter {
    /// `jsonl` and `codex`: the codex `exec --json` event stream.
    CodexJsonl(codex_jsonl::Stream),
    /// `claude`: Claude Code `-p --output-format stream-json` (one-shot).
    Claude(claude::Stream),
}

impl Adapter {
    /// The adapter for the spec's backend kind, or a readable reason why there is none.
    pub fn new(spec: &Spec) -> Result<Adapter, String> {
        match spec.provider.kind {
            BackendKind::Jsonl | BackendKind::Codex => {
                Ok(Adapter::CodexJsonl(codex_jsonl::Stream::new(
                    &spec.turn_id,
                    &spec.cwd.to_string_lossy(),
                    UsageBase::of(spec),
                )))
            }
            BackendKind::Claude => Ok(Adapter::Claude(claude::Stream::new(
                &spec.turn_id,
                &spec.cwd.to_string_lossy(),
                UsageBase::of(spec),
            ))),
        }
    }

    /// Maps one complete stdout line (without its newline) onto canonical events.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        match self {
            Adapter::CodexJsonl(stream) => stream.on_line(line, out),
            Adapter::Claude(stream) => stream.on_line(line, out),
        }
    }

    /// Called once at stdout EOF: flushes anything held back.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Adapter::CodexJsonl(stream) => stream.finish(out),
            Adapter::Claude(stream) => stream.finish(out),
        }
    }

    /// The backend's own cancel.
    pub fn cancel(&self) -> Cancel {
        match self {
            // One-shot Claude writes an `error_during_execution` result on SIGINT and kills
            // its tool groups itself.
            Adapter::CodexJsonl(_) | Adapter::Claude(_) => Cancel::SignalLeader(Signal::INT),
        }
    }
}

/// The program, arguments and stdin of the spec's backend.
pub fn command_for(spec: &Spec) -> Result<BackendCommand, String> {
    let provider = &spec.provider;
    let (program, template): (String, Vec<String>) = match provider.kind {
        BackendKind::Codex => {
            let program = if provider.command.is_empty() {
                "codex".to_owned()
            } else {
                provider.command.clone()
            };
            let args = if provider.args.is_empty() {
                codex_default_args(spec)
            } else {
                provider.args.clone()
            };
            (program, args)
        }
        BackendKind::Claude => {
            let program = if provider.command.is_empty() {
                "claude".to_owned()
            } else {
                provider.command.clone()
            };
            let args = if provider.args.is_empty() {
                claude_default_args(spec)
            } else {
                provider.args.clone()
            };
            (program, args)
        }
        BackendKind::Jsonl => {
            if provider.command.is_empty() {
                return Err(format!(
                    "provider {:?} has kind {:?} but no command",
                    provider.name, provider.kind
                ));
            }
            (provider.command.clone(), provider.args.clone())
        }
    };
    let mut args = Vec::with_capacity(template.len());
    for element in template {
        args.push(substitute(&element, spec)?);
    }
    if provider.prompt_via == PromptVia::Stdin && provider.approvals == Approvals::Stdin {
        return Err(format!(
            "provider {:?} takes both its prompt and its approval answers on stdin; only one \
             can use it",
            provider.name
        ));
    }
    let stdin = match provider.prompt_via {
        PromptVia::Arg => None,
        PromptVia::Stdin => Some(spec.prompt.clone()),
    };
    Ok(BackendCommand {
        program: PathBuf::from(program),
        args,
        stdin,
    })
}

/// `codex exec --json --skip-git-repo-check -C {cwd} [-m MODEL] [resume {session}] -- {prompt}`.
fn codex_default_args(spec: &Spec) -> Vec<String> {
    let mut args: Vec<String> = ["exec", "--json", "--skip-git-repo-check", "-C", "{cwd}"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(model) = &spec.model {
        args.push("-m".to_owned());
        args.push(model.clone());
    }
    if spec.resume_session_id.is_some() {
        args.push("resume".to_owned());
        args.push("{session}".to_owned());
    }
    // After `--`, so that a prompt starting with `-` is not read as a flag.
    args.push("--".to_owned());
    args.push("{prompt}".to_owned());
    args
}

/// `claude -p --output-format stream-json --verbose [--model M] [--resume {session}] -- {prompt}`
/// (the prompt after `--`, or variadic flags swallow it).
fn claude_default_args(spec: &Spec) -> Vec<String> {
    let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    if let Some(model) = &spec.model {
        args.push("--model".to_owned());
        args.push(model.clone());
    }
    if spec.resume_session_id.is_some() {
        args.push("--resume".to_owned());
        args.push("{session}".to_owned());
    }
    args.push("--".to_owned());
    args.push("{prompt}".to_owned());
    args
}

/// Substitutes a whole-element placeholder; other elements pass through unchanged.
fn substitute(element: &str, spec: &Spec) -> Result<OsString, String> {
    Ok(match element {
        "{prompt}" => OsString::from(&spec.prompt),
        "{cwd}" => spec.cwd.clone().into_os_string(),
        "{session}" => match &spec.resume_session_id {
            Some(session) => OsString::from(session),
            None => {
                return Err(
                    "the provider's args use {session} but the spec has no resumeSessionId"
                        .to_owned(),
                );
            }
        },
        other => OsString::from(other),
    })
}

/// The most characters of a bad line quoted in its warning.
const QUOTE_LIMIT: usize = 200;

/// The warning recorded for a backend line that is skipped.
pub(crate) fn bad_line(line_number: u64, text: &str, why: &str) -> Event {
    let text = text.trim();
    let mut quoted: String = text.chars().take(QUOTE_LIMIT).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    Event::Warning {
        message: format!("skipped backend output line {line_number}: {why}: {quoted}"),
    }
}

/// One line of a backend's stdout read as a JSON object with a `type`: `Ok(None)` for a blank
/// line, `Err(warning)` for a line that is not one (recorded and skipped, never fatal).
pub(crate) fn read_typed_line(
    line: &[u8],
    line_number: u64,
) -> Result<Option<(String, Value)>, Box<Event>> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|err| Box::new(bad_line(line_number, text, &err.to_string())))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Box::new(bad_line(line_number, text, "no \"type\" member")))?
        .to_owned();
    Ok(Some((kind, value)))
}
