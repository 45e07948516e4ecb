//! Backend adapters: how a backend kind is started, cancelled, and how its stdout maps onto
//! canonical events.
//!
//! An adapter is fed the backend's stdout one line at a time and appends canonical
//! [`Event`]s; a bad line becomes a `warning` and is skipped, never fatal. The end-of-turn
//! marker is an ordinary [`Event::Marker`] among them; the runner, not the adapter, decides
//! the turn's status from (marker, interrupt, exit status) together.

pub mod acp;
pub mod claude;
pub mod codex_app_server;
pub mod codex_jsonl;
pub mod codex_turn;
mod emit;
pub mod gemini;
mod lines;
pub mod models;
pub mod permissions;
#[cfg(test)]
mod test_support;
pub mod tool_items;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use rustix::process::Signal;
use serde_json::Value;

use crate::events::{Event, TokenBreakdown};
use crate::spec::{Approvals, BackendKind, InputMode, PromptVia, Provider, Spec};

/// How to start the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Environment variables the kind needs; the provider's own `env` wins over them.
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Stdin,
}

/// What the backend's stdin is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`.
    Null,
    /// The prompt is written, then stdin is closed.
    Prompt(String),
    /// An open pipe for `approval.response` lines (`approvals = "stdin"`).
    ApprovalAnswers,
    /// An open pipe for user messages (Claude stream-json): the prompt is the first one,
    /// `turn/steer` adds more, and the answers to Claude's permission requests go down it
    /// too; closed after the answer to the last message.
    UserMessages { prompt: String },
    /// An open pipe for the backend's own protocol (kind `codex`: JSON-RPC to its
    /// app-server): the adapter's requests and answers, written by the loop; closed at the
    /// end marker.
    Protocol,
}

/// The backend's own graceful cancel, the first rung of the interrupt ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// Send this signal to the backend leader (one-shot CLIs: SIGINT).
    SignalLeader(Signal),
    /// Write this line to the backend's stdin (Claude's `control_request` interrupt), then
    /// close stdin.
    InputLine(String),
    /// Write this request of the backend's own protocol to its stdin and keep stdin open:
    /// the backend ends its turn itself (`codex app-server` after its `turn/interrupt`, an
    /// ACP agent answering its prompt `cancelled` after `session/cancel`), may still send
    /// requests, which are answered, and its end marker closes stdin.
    Request(String),
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
    /// `jsonl` and `codex-exec`: the codex `exec --json` event stream.
    CodexJsonl(codex_jsonl::Stream),
    /// `codex`: the client of a `codex app-server` (`codex_turn.rs`).
    CodexAppServer(Box<codex_turn::Stream>),
    /// `claude`: Claude Code `-p --output-format stream-json`, one-shot or with stream-json
    /// input.
    Claude(claude::Stream),
    /// `gemini`: Gemini CLI `-p PROMPT -o stream-json`.
    Gemini(gemini::Stream),
    /// `acp`: an Agent Client Protocol agent, with the runner as its client.
    Acp(Box<acp::Stream>),
}

impl Adapter {
    /// The adapter for the spec's backend kind, or a readable reason why there is none.
    pub fn new(spec: &Spec) -> Result<Adapter, String> {
        match spec.provider.kind {
            BackendKind::Codex => Ok(Adapter::CodexAppServer(Box::new(codex_turn::Stream::new(
                spec,
            )))),
            BackendKind::Jsonl | BackendKind::CodexExec => {
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
                match spec.provider.input {
                    InputMode::Once => claude::InputKind::Once,
                    InputMode::StreamJson => claude::InputKind::Messages,
                },
            ))),
            BackendKind::Gemini => Ok(Adapter::Gemini(gemini::Stream::new(
                &spec.turn_id,
                &spec.cwd.to_string_lossy(),
                UsageBase::of(spec),
            ))),
            BackendKind::Acp => Ok(Adapter::Acp(Box::new(acp::Stream::new(
                &spec.turn_id,
                &spec.cwd.to_string_lossy(),
                UsageBase::of(spec),
                permissions::Permissions::of(spec),
            )))),
        }
    }

    /// The adapter of `spec`'s turn on a backend a warm spare started and talked to
    /// (`sent`; only kind `codex` keeps spares): it sends only the rest.
    pub fn after_spare(self, spec: &Spec, sent: &codex_turn::SpareSent) -> Adapter {
        match self {
            Adapter::CodexAppServer(_) => {
                Adapter::CodexAppServer(Box::new(codex_turn::Stream::after_spare(spec, sent)))
            }
            other @ (Adapter::CodexJsonl(_)
            | Adapter::Claude(_)
            | Adapter::Gemini(_)
            | Adapter::Acp(_)) => other,
        }
    }

    /// Maps one complete stdout line (without its newline) onto canonical events.
    pub fn on_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        match self {
            Adapter::CodexJsonl(stream) => stream.on_line(line, out),
            Adapter::CodexAppServer(stream) => stream.on_line(line, out),
            Adapter::Claude(stream) => stream.on_line(line, out),
            Adapter::Gemini(stream) => stream.on_line(line, out),
            Adapter::Acp(stream) => stream.on_line(line, out),
        }
    }

    /// Called once at stdout EOF: flushes anything held back.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Adapter::CodexJsonl(stream) => stream.finish(out),
            Adapter::CodexAppServer(stream) => stream.finish(out),
            Adapter::Claude(stream) => stream.finish(out),
            Adapter::Gemini(stream) => stream.finish(out),
            Adapter::Acp(stream) => stream.finish(out),
        }
    }

    /// The backend's own cancel.
    pub fn cancel(&mut self) -> Cancel {
        match self {
            Adapter::Claude(stream) => match stream.interrupt_line() {
                Some(line) => Cancel::InputLine(line),
                // One-shot Claude writes an `error_during_execution` result on SIGINT and
                // kills its tool groups itself.
                None => Cancel::SignalLeader(Signal::INT),
            },
            // Gemini ignores SIGINT over pipes (its cancel is a Ctrl-C keypress on a TTY);
            // the ladder's SIGTERM and SIGKILL to every process of the turn do the work.
            Adapter::CodexJsonl(_) | Adapter::Gemini(_) => Cancel::SignalLeader(Signal::INT),
            // Its own `turn/interrupt` once its turn is known; before that there is no turn
            // to interrupt, and SIGINT ends the app-server.
            Adapter::CodexAppServer(stream) => match stream.interrupt_request() {
                Some(line) => Cancel::Request(line),
                None => Cancel::SignalLeader(Signal::INT),
            },
            // `session/cancel`; before the session exists, SIGINT (and stdin's EOF).
            Adapter::Acp(stream) => match stream.cancel() {
                Some(lines) => Cancel::Request(lines),
                None => Cancel::SignalLeader(Signal::INT),
            },
        }
    }

    /// The stdin line of a new user message with `text`: Claude's user message, counted for
    /// the end of the turn, or Codex's `turn/steer` of its running turn; `None` when the
    /// backend takes no messages mid-turn.
    pub fn user_message(&mut self, text: &str) -> Option<String> {
        match self {
            Adapter::Claude(stream) => stream.user_message(text),
            Adapter::CodexAppServer(stream) => stream.steer_request(text),
            Adapter::Acp(stream) => stream.user_message(text),
            Adapter::CodexJsonl(_) | Adapter::Gemini(_) => None,
        }
    }

    /// The lines the adapter has for the backend's stdin since the last call (the requests
    /// and answers of its protocol: kind `codex`, an ACP client); written in order, before
    /// anything else; empty for every backend that speaks no protocol on stdin.
    pub fn take_input(&mut self) -> Vec<String> {
        match self {
            Adapter::CodexAppServer(stream) => stream.take_input(),
            Adapter::Acp(stream) => stream.take_input(),
            Adapter::CodexJsonl(_) | Adapter::Claude(_) | Adapter::Gemini(_) => Vec::new(),
        }
    }

    /// The stdin line that answers the backend's approval request `request_id` with the
    /// client's (or the policy's) `decision`; the events the decision causes (an ACP tool
    /// call declined) go to `out`. `None` when the adapter knows no such request (kind `codex`
    /// keeps Codex's request ids).
    pub fn approval_answer(
        &mut self,
        request_id: &str,
        decision: &Value,
        out: &mut Vec<Event>,
    ) -> Option<String> {
        match self {
            Adapter::Claude(stream) => Some(stream.approval_answer(request_id, decision)),
            Adapter::CodexAppServer(stream) => stream.approval_answer(request_id, decision),
            Adapter::Acp(stream) => stream.approval_answer(request_id, decision, out),
            Adapter::CodexJsonl(_) | Adapter::Gemini(_) => Some(
                serde_json::json!({
                    "type": "approval.response", "id": request_id, "decision": decision})
                .to_string(),
            ),
        }
    }
}

/// How long an ACP agent may take to exit after the answer to its prompt (its input is
/// closed then): Gemini CLI exits at once; codex-acp 0.16.0 does not exit at the end of its
/// input, and is stopped (SIGTERM) after this.
const ACP_MARKER_EXIT_MS: u64 = 1000;

/// The interrupt ladder's grace periods for the spec's backend: the spec's own, with the
/// exit after the end marker shortened for an ACP agent, whose process has nothing left to
/// do once its prompt is answered.
pub fn grace(spec: &Spec) -> crate::spec::GraceMs {
    let mut grace = spec.grace_ms;
    if spec.provider.kind == BackendKind::Acp {
        grace.marker_exit = grace.marker_exit.min(ACP_MARKER_EXIT_MS);
    }
    grace
}

/// Whether a running turn of the provider takes more user messages (`turn/steer`): Claude
/// with stream-json input, and kind `codex` (Codex's own `turn/steer`).
pub fn takes_steered_messages(provider: &Provider) -> bool {
    provider.kind == BackendKind::Codex || provider.input == InputMode::StreamJson
}

/// Whether the provider's command line attaches local images with the backend's own flag:
/// kind `codex` does (its `turn/start` takes `localImage` inputs), and kind `codex-exec` with the
/// kind's own argv (`args` empty) (`--image PATH`). Every
/// other provider gets each local image as a `[image: PATH]` line of the prompt: Claude
/// Code's `-p` has no image flag (it opens the file with its own tools when the prompt names
/// it), arguments written in the configuration are used as written, and a `jsonl` backend
/// reads the lines (`docs/backend-jsonl.md`, "The prompt").
pub fn takes_image_flags(provider: &Provider) -> bool {
    match provider.kind {
        // Its turn/start takes them as `localImage` inputs, whatever its command line.
        BackendKind::Codex => true,
        BackendKind::CodexExec => provider.args.is_empty(),
        BackendKind::Jsonl | BackendKind::Claude | BackendKind::Gemini | BackendKind::Acp => false,
    }
}

/// Why a local image cannot be given to this provider's image flag, if it cannot:
/// `codex exec --image` splits its value at commas (a list of paths).
pub fn image_flag_problem(provider: &Provider, path: &str) -> Option<String> {
    let exec = provider.kind == BackendKind::CodexExec;
    (exec && takes_image_flags(provider) && path.contains(',')).then(|| {
        "contains a comma, which `codex exec --image` reads as a separator between paths".to_owned()
    })
}

/// The program, arguments and stdin of the spec's backend.
pub fn command_for(spec: &Spec) -> Result<BackendCommand, String> {
    let provider = &spec.provider;
    let program = program(provider)?;
    let args = args(spec)?;
    check_inputs(spec)?;
    Ok(BackendCommand {
        program,
        args,
        env: kind_env(provider.kind),
        stdin: stdin(spec),
    })
}

/// The command line of a warm spare of `provider` (`docs/arch/runner.md`, "Warm spares"):
/// only a backend whose command line does not depend on the turn has one, kind `codex` with
/// its own command line (`codex app-server`). It equals what [`command_for`] gives every turn
/// of the provider.
pub fn spare_command(provider: &Provider) -> Result<BackendCommand, String> {
    if provider.kind != BackendKind::Codex || !provider.args.is_empty() {
        return Err(format!(
            "provider {:?} cannot keep a warm spare: only kind codex with its own command line \
             does not depend on the turn",
            provider.name
        ));
    }
    Ok(BackendCommand {
        program: program(provider)?,
        args: vec![CODEX_APP_SERVER.into()],
        env: kind_env(provider.kind),
        stdin: Stdin::Protocol,
    })
}

/// Kind `codex`'s own arguments.
const CODEX_APP_SERVER: &str = "app-server";

/// The provider's `command`, else its kind's own program; kind `jsonl` has none.
fn program(provider: &Provider) -> Result<PathBuf, String> {
    if !provider.command.is_empty() {
        return Ok(PathBuf::from(&provider.command));
    }
    match provider.kind {
        BackendKind::Codex | BackendKind::CodexExec => Ok(PathBuf::from("codex")),
        BackendKind::Claude => Ok(PathBuf::from("claude")),
        BackendKind::Gemini => Ok(PathBuf::from("gemini")),
        BackendKind::Jsonl | BackendKind::Acp => Err(format!(
            "provider {:?} has kind {:?} but no command",
            provider.name, provider.kind
        )),
    }
}

/// The provider's own arguments with their placeholders substituted, else its kind's argv.
fn args(spec: &Spec) -> Result<Vec<OsString>, String> {
    let provider = &spec.provider;
    if !provider.args.is_empty() {
        return substitute_all(&provider.args, spec);
    }
    Ok(match provider.kind {
        BackendKind::Codex => vec![CODEX_APP_SERVER.into()],
        BackendKind::CodexExec => codex_default_args(spec),
        BackendKind::Claude => claude_default_args(spec, provider.input),
        BackendKind::Gemini => gemini_default_args(spec),
        BackendKind::Jsonl | BackendKind::Acp => Vec::new(),
    })
}

/// Refuses a spec whose inputs the provider cannot take: images without an image flag, two
/// uses of stdin, stream-json input where it is not Claude's.
fn check_inputs(spec: &Spec) -> Result<(), String> {
    let provider = &spec.provider;
    if provider.kind == BackendKind::Codex
        && let Some(setting) = codex_turn::refusal(&permissions::Permissions::of(spec))
    {
        return Err(format!(
            "provider {:?} cannot hold {setting}",
            provider.name
        ));
    }
    if !spec.images.is_empty() && !takes_image_flags(provider) {
        return Err(format!(
            "provider {:?} takes no image flags, but the spec lists images",
            provider.name
        ));
    }
    if provider.prompt_via == PromptVia::Stdin && provider.approvals == Approvals::Stdin {
        return Err(format!(
            "provider {:?} takes both its prompt and its approval answers on stdin; only one \
             can use it",
            provider.name
        ));
    }
    if provider.input == InputMode::StreamJson
        && (provider.kind != BackendKind::Claude || provider.prompt_via == PromptVia::Stdin)
    {
        return Err(format!(
            "provider {:?} takes stream-json input, which needs kind claude and the prompt \
             off stdin",
            provider.name
        ));
    }
    Ok(())
}

/// What the backend's stdin is for.
fn stdin(spec: &Spec) -> Stdin {
    let provider = &spec.provider;
    if provider.kind == BackendKind::Codex {
        return Stdin::Protocol;
    }
    if provider.kind == BackendKind::Acp {
        // The client's JSON-RPC lines; the prompt goes in `session/prompt`.
        return Stdin::UserMessages {
            prompt: spec.prompt.clone(),
        };
    }
    match (provider.input, provider.prompt_via, provider.approvals) {
        (InputMode::StreamJson, _, _) => Stdin::UserMessages {
            prompt: spec.prompt.clone(),
        },
        (InputMode::Once, PromptVia::Stdin, _) => Stdin::Prompt(spec.prompt.clone()),
        (InputMode::Once, PromptVia::Arg, Approvals::Stdin) => Stdin::ApprovalAnswers,
        (InputMode::Once, PromptVia::Arg, Approvals::None) => Stdin::Null,
    }
}

/// The environment variables a backend kind needs.
fn kind_env(kind: BackendKind) -> Vec<(OsString, OsString)> {
    match kind {
        // Without it `gemini.js` re-spawns itself as a child `node` and its parent ignores
        // SIGINT, SIGTERM and SIGHUP.
        // `gemini --acp` too.
        BackendKind::Gemini | BackendKind::Acp => {
            vec![("GEMINI_CLI_NO_RELAUNCH".into(), "true".into())]
        }
        BackendKind::Jsonl | BackendKind::Codex | BackendKind::CodexExec | BackendKind::Claude => {
            Vec::new()
        }
    }
}

/// `FLAG VALUE` when there is a value.
fn push_flag(args: &mut Vec<OsString>, flag: &str, value: Option<impl AsRef<OsStr>>) {
    if let Some(value) = value {
        args.push(flag.into());
        args.push(value.as_ref().to_owned());
    }
}

/// `codex exec --json --skip-git-repo-check -C CWD [-m MODEL] SANDBOX [resume SESSION]
/// [--image PATH]... -- PROMPT`, SANDBOX the turn's ([`permissions::codex_exec_flags`]).
///
/// The images come after `resume SESSION`: before it, `exec`'s own `--image` (which takes
/// any number of values) would read `resume` and the session id as image paths; after it,
/// they are the resume command's `--image`, one value each. The prompt comes after `--`, so
/// that neither a variadic flag nor a prompt starting with `-` is misread.
fn codex_default_args(spec: &Spec) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["exec", "--json", "--skip-git-repo-check", "-C"]
        .into_iter()
        .map(OsString::from)
        .collect();
    args.push(spec.cwd.clone().into_os_string());
    push_flag(&mut args, "-m", spec.model.as_ref());
    args.extend(permissions::codex_exec_flags(
        &permissions::Permissions::of(spec),
    ));
    push_flag(&mut args, "resume", spec.resume_session_id.as_ref());
    for image in &spec.images {
        push_flag(&mut args, "--image", Some(image));
    }
    args.push("--".into());
    args.push((&spec.prompt).into());
    args
}

/// `claude -p --output-format stream-json --verbose [--model M] [--resume SESSION]
/// PERMISSIONS -- PROMPT` (the prompt after `--`, or variadic flags swallow it); with
/// stream-json input `claude -p --input-format stream-json --replay-user-messages
/// --output-format stream-json --verbose [--model M] [--resume SESSION] PERMISSIONS` and the
/// prompt on stdin. The replays tell which messages Claude has taken into its turn (see
/// [`claude`]); PERMISSIONS are the turn's approval policy and sandbox
/// ([`permissions::claude_flags`]).
fn claude_default_args(spec: &Spec, input: InputMode) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-p".into()];
    if input == InputMode::StreamJson {
        args.extend(
            ["--input-format", "stream-json", "--replay-user-messages"]
                .into_iter()
                .map(OsString::from),
        );
    }
    args.extend(
        ["--output-format", "stream-json", "--verbose"]
            .into_iter()
            .map(OsString::from),
    );
    push_flag(&mut args, "--model", spec.model.as_ref());
    push_flag(&mut args, "--resume", spec.resume_session_id.as_ref());
    args.extend(permissions::claude_flags(
        &permissions::Permissions::of(spec),
        input,
    ));
    if input == InputMode::Once {
        args.push("--".into());
        args.push((&spec.prompt).into());
    }
    args
}

/// `gemini -o stream-json [-m MODEL] [--resume SESSION] [--sandbox] --approval-mode MODE
/// --prompt=PROMPT`: the sandbox and approval mode of the turn's approval policy and sandbox
/// ([`permissions::gemini_flags`]). `--prompt=` keeps a prompt starting with `-` whole.
fn gemini_default_args(spec: &Spec) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-o".into(), "stream-json".into()];
    push_flag(&mut args, "-m", spec.model.as_ref());
    push_flag(&mut args, "--resume", spec.resume_session_id.as_ref());
    args.extend(permissions::gemini_flags(&permissions::Permissions::of(
        spec,
    )));
    args.push(format!("--prompt={}", spec.prompt).into());
    args
}

/// The provider's own arguments with their placeholders substituted.
fn substitute_all(template: &[String], spec: &Spec) -> Result<Vec<OsString>, String> {
    template
        .iter()
        .map(|element| substitute(element, spec))
        .collect()
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

#[cfg(test)]
mod tests {

    use super::*;
    use crate::events::Mode;
    use crate::spec::GraceMs;

    fn spec(kind: BackendKind, args: &[&str]) -> Spec {
        Spec {
            v: 1,
            thread_id: "t".to_owned(),
            turn_id: "u".to_owned(),
            mode: Mode::Foreground,
            cwd: PathBuf::from("/work"),
            provider: Provider {
                name: "p".to_owned(),
                kind,
                command: String::new(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                env: Vec::new(),
                env_inherit: None,
                prompt_via: PromptVia::Arg,
                approvals: Approvals::None,
                input: InputMode::Once,
            },
            prompt: "-v: look at these".to_owned(),
            images: Vec::new(),
            model: None,
            resume_session_id: None,
            approval_policy: None,
            sandbox_policy: None,
            grace_ms: GraceMs::default(),
            previous_total_usage: None,
            resumed_session_usage: None,
        }
    }

    fn argv(spec: &Spec) -> Vec<String> {
        let command = command_for(spec).unwrap();
        std::iter::once(command.program.into_os_string())
            .chain(command.args)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    /// Codex's own argv for the test spec, with `middle` between `-C /work` and the prompt.
    fn codex_argv(middle: &[&str]) -> Vec<String> {
        let head = [
            "codex",
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-C",
            "/work",
        ];
        let tail = ["--", "-v: look at these"];
        head.iter()
            .chain(middle)
            .chain(&tail)
            .map(|a| (*a).to_owned())
            .collect()
    }

    #[test]
    fn codex_images_go_before_the_prompt_and_after_resume() {
        let mut fresh = spec(BackendKind::CodexExec, &[]);
        fresh.images = vec![PathBuf::from("/img/a.png"), PathBuf::from("/img/b c.jpg")];
        fresh.model = Some("o3".to_owned());
        let images = ["--image", "/img/a.png", "--image", "/img/b c.jpg"];
        assert_eq!(
            argv(&fresh),
            codex_argv(&[&["-m", "o3", "--sandbox", "read-only"], &images[..]].concat())
        );
        let mut resumed = fresh.clone();
        resumed.model = None;
        resumed.resume_session_id = Some("0199-session".to_owned());
        assert_eq!(
            argv(&resumed),
            codex_argv(
                &[
                    &["--sandbox", "read-only", "resume", "0199-session"],
                    &images[..],
                ]
                .concat()
            )
        );
        let plain = spec(BackendKind::CodexExec, &[]);
        assert_eq!(argv(&plain), codex_argv(&["--sandbox", "read-only"]));
    }

    #[test]
    fn codex_exec_gets_the_turns_sandbox_as_its_own_flags() {
        let mut workspace = spec(BackendKind::CodexExec, &[]);
        workspace.sandbox_policy = Some(serde_json::json!({"type": "workspaceWrite",
            "writableRoots": ["/work", "/extra"], "networkAccess": true}));
        let flags = [
            "--sandbox",
            "workspace-write",
            "--add-dir",
            "/extra",
            "-c",
            "sandbox_workspace_write.network_access=true",
        ];
        assert_eq!(argv(&workspace), codex_argv(&flags));
        let mut external = spec(BackendKind::CodexExec, &[]);
        external.sandbox_policy = Some(serde_json::json!({"type": "externalSandbox"}));
        assert_eq!(
            argv(&external),
            codex_argv(&["--sandbox", "danger-full-access"])
        );
    }

    #[test]
    fn only_codex_with_its_own_argv_takes_image_flags() {
        assert!(takes_image_flags(
            &spec(BackendKind::CodexExec, &[]).provider
        ));
        for provider in [
            spec(BackendKind::CodexExec, &["exec", "{prompt}"]).provider,
            spec(BackendKind::Claude, &[]).provider,
            spec(BackendKind::Jsonl, &["{prompt}"]).provider,
        ] {
            assert!(!takes_image_flags(&provider), "{provider:?}");
            assert_eq!(image_flag_problem(&provider, "/a,b.png"), None);
        }
        let codex = spec(BackendKind::CodexExec, &[]).provider;
        assert_eq!(image_flag_problem(&codex, "/a.png"), None);
        assert!(
            image_flag_problem(&codex, "/a,b.png").is_some_and(|why| why.contains("comma")),
            "a comma splits codex's --image value"
        );
        // A spec that lists images for a provider without the flag is refused, not dropped.
        let mut claude = spec(BackendKind::Claude, &[]);
        claude.images = vec![PathBuf::from("/img/a.png")];
        assert!(
            command_for(&claude)
                .unwrap_err()
                .contains("takes no image flags")
        );
    }

    #[test]
    fn claude_and_written_args() {
        let mut claude = spec(BackendKind::Claude, &[]);
        claude.resume_session_id = Some("s-1".to_owned());
        assert_eq!(
            argv(&claude),
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--resume",
                "s-1",
                "--permission-mode",
                "default",
                "--permission-prompts",
                "none",
                "--",
                "-v: look at these"
            ]
        );
        let mut streamed = spec(BackendKind::Claude, &[]);
        streamed.provider.input = InputMode::StreamJson;
        streamed.model = Some("m".to_owned());
        assert_eq!(
            argv(&streamed),
            [
                "claude",
                "-p",
                "--input-format",
                "stream-json",
                "--replay-user-messages",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
                "m",
                "--permission-mode",
                "default",
                "--permission-prompt-tool",
                "stdio"
            ]
        );
        assert_eq!(
            command_for(&streamed).unwrap().stdin,
            Stdin::UserMessages {
                prompt: "-v: look at these".to_owned()
            }
        );
        let mut written = spec(BackendKind::Jsonl, &["run", "{cwd}", "{prompt}"]);
        written.provider.command = "agent".to_owned();
        assert_eq!(
            argv(&written),
            ["agent", "run", "/work", "-v: look at these"]
        );
        let session = spec(BackendKind::Jsonl, &["{session}"]);
        let mut session = session;
        session.provider.command = "agent".to_owned();
        assert!(command_for(&session).unwrap_err().contains("{session}"));
    }

    #[test]
    fn gemini_argv_and_env() {
        let mut gemini = spec(BackendKind::Gemini, &[]);
        gemini.model = Some("m".to_owned());
        gemini.resume_session_id = Some("s-1".to_owned());
        gemini.approval_policy = Some(serde_json::json!("never"));
        gemini.sandbox_policy = Some(serde_json::json!({"type": "dangerFullAccess"}));
        assert_eq!(
            argv(&gemini),
            [
                "gemini",
                "-o",
                "stream-json",
                "-m",
                "m",
                "--resume",
                "s-1",
                "--approval-mode",
                "yolo",
                "--prompt=-v: look at these"
            ]
        );
        let command = command_for(&gemini).unwrap();
        assert_eq!(command.stdin, Stdin::Null);
        assert_eq!(
            command.env,
            [("GEMINI_CLI_NO_RELAUNCH".into(), "true".into())]
        );
        gemini.approval_policy = Some(serde_json::json!("untrusted"));
        assert!(!argv(&gemini).contains(&"yolo".to_owned()));
        gemini.approval_policy = Some(serde_json::json!("never"));
        gemini.sandbox_policy = Some(serde_json::json!({"type": "readOnly"}));
        assert!(argv(&gemini).contains(&"plan".to_owned()));
    }
}
