//! The configuration as serde reads it, and the checks serde cannot express: placeholders,
//! environment names, and which keys go together.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Table, Value};

use super::de::ValueDeserializer;
use super::error::{Fault, KeyPath};
use super::{
    ApprovalPolicyName, Approvals, BUILTIN_DEFAULT_PROVIDER, Config, DEFAULT_NOTIFY_TIMEOUT_MS,
    InputMode, InterruptConfig, NotifyConfig, PLACEHOLDERS, PromptVia, Provider, ProviderKind,
    SandboxModeName,
};

/// The top level of the merged table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawConfig {
    #[serde(default = "builtin_default_provider")]
    default_provider: String,
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    interrupt: InterruptConfig,
    /// The completion notice's program and arguments (Codex's `notify`).
    notify: Option<Vec<String>>,
    #[serde(default)]
    notify_foreground: bool,
    #[serde(default = "default_notify_timeout")]
    notify_timeout_ms: u64,
    #[serde(default)]
    launcher: super::LauncherConfig,
}

fn builtin_default_provider() -> String {
    BUILTIN_DEFAULT_PROVIDER.to_owned()
}

fn default_notify_timeout() -> u64 {
    DEFAULT_NOTIFY_TIMEOUT_MS
}

/// `[providers.NAME]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct RawProvider {
    /// Optional here only so that a missing kind is told with the kinds there are.
    kind: Option<ProviderKind>,
    command: String,
    #[serde(default)]
    args: Vec<String>,
    resume_args: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// `None`: the backend inherits the whole environment.
    env_inherit: Option<Vec<String>>,
    #[serde(default)]
    prompt_via: PromptVia,
    #[serde(default)]
    continue_session: bool,
    model: Option<String>,
    #[serde(default)]
    approvals: Approvals,
    /// The default depends on the kind and `args` (`default_input`).
    input: Option<InputMode>,
    models: Option<Vec<String>>,
    sandbox_modes: Option<Vec<SandboxModeName>>,
    approval_policies: Option<Vec<ApprovalPolicyName>>,
    #[serde(default)]
    warm_spare: bool,
}

/// Reads the merged table into the configuration, then checks what serde cannot.
pub(super) fn read(table: Table) -> Result<Config, Fault> {
    let raw: RawConfig = serde_path_to_error::deserialize(ValueDeserializer(Value::Table(table)))
        .map_err(|err| Fault {
        key: KeyPath::from_serde(err.path()),
        problem: err.into_inner(),
    })?;
    let providers = raw
        .providers
        .into_iter()
        .map(|(name, provider)| provider.check(&name).map(|provider| (name, provider)))
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    check_default_provider(&raw.default_provider, &providers)?;
    if let Some(name) = raw
        .launcher
        .providers
        .keys()
        .find(|name| !providers.contains_key(*name))
    {
        return Err(Fault::invalid(
            KeyPath::default()
                .key("launcher")
                .key("providers")
                .key(name),
            "names no provider (the keys are provider names from [providers])",
        ));
    }
    check_kubernetes(&raw.launcher)?;
    let notify = NotifyConfig {
        program: check_notify(raw.notify)?,
        foreground: raw.notify_foreground,
        timeout_ms: raw.notify_timeout_ms,
    };
    Ok(Config {
        default_provider: raw.default_provider,
        providers,
        interrupt: raw.interrupt,
        notify,
        launcher: raw.launcher,
        file: None,
        layers: Default::default(),
    })
}

/// `notify` is an argv: an empty array turns the notice off (as in Codex), and the program
/// must be named; no element may hold a NUL.
fn check_notify(argv: Option<Vec<String>>) -> Result<Option<Vec<String>>, Fault> {
    let Some(argv) = argv.filter(|argv| !argv.is_empty()) else {
        return Ok(None);
    };
    let key = KeyPath::default().key("notify");
    if argv[0].is_empty() {
        return Err(Fault::invalid(
            key.index(0),
            "must name the program to run (the first element is the program, the others its \
             arguments; no shell is involved)",
        ));
    }
    if let Some(position) = argv.iter().position(|arg| arg.contains('\0')) {
        return Err(Fault::invalid(
            key.index(position),
            "must not contain a NUL character",
        ));
    }
    Ok(Some(argv))
}

fn check_default_provider(name: &str, providers: &BTreeMap<String, Provider>) -> Result<(), Fault> {
    if providers.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = providers.keys().map(String::as_str).collect();
    Err(Fault::invalid(
        KeyPath::default().key("default_provider"),
        format!(
            "unknown provider {name:?}, expected one of {}",
            known.join(", ")
        ),
    ))
}

impl RawProvider {
    /// The provider named `name`, if its keys go together.
    fn check(self, name: &str) -> Result<Provider, Fault> {
        let kind = self.kind.ok_or_else(|| {
            let kinds: Vec<&str> = ProviderKind::ALL.map(ProviderKind::as_str).to_vec();
            Fault::invalid(
                KeyPath::provider(name, "kind"),
                format!("missing, expected one of {}", kinds.join(", ")),
            )
        })?;
        let input = self
            .input
            .unwrap_or_else(|| default_input(kind, &self.args));
        let provider = Provider {
            name: name.to_owned(),
            kind,
            command: self.command,
            args: self.args,
            resume_args: self.resume_args,
            env: self.env,
            env_inherit: self.env_inherit,
            prompt_via: self.prompt_via,
            continue_session: self.continue_session,
            model: self.model,
            approvals: self.approvals,
            input,
            models: self.models,
            sandbox_modes: self.sandbox_modes,
            approval_policies: self.approval_policies,
            warm_spare: self.warm_spare,
        };
        check_arguments(&provider)?;
        check_env(&provider)?;
        check_models(&provider)?;
        for (field, rule) in RULES {
            if let Some(message) = rule(&provider) {
                return Err(Fault::invalid(KeyPath::provider(name, field), message));
            }
        }
        Ok(provider)
    }
}

/// A rule on one key of a provider: what is wrong with the key, if anything.
type Rule = fn(&Provider) -> Option<String>;

/// The rules on one key of a provider, each with the key its message names.
const RULES: [(&str, Rule); 5] = [
    ("command", empty_command),
    ("continue_session", continue_without_resume),
    ("approvals", approvals_problem),
    ("input", input_problem),
    ("warm_spare", warm_spare_problem),
];

/// A warm spare starts the backend before its turn exists: only a command line that does not
/// depend on the turn can (kind `codex`, `args` empty: `codex app-server`).
fn warm_spare_problem(provider: &Provider) -> Option<String> {
    let fits = provider.kind == ProviderKind::Codex && provider.args.is_empty();
    (provider.warm_spare && !fits).then(|| {
        "needs kind \"codex\" with args empty: only `codex app-server`'s command line does \
         not depend on the turn, so only it can be started before the turn exists"
            .to_owned()
    })
}

/// Kind `claude` with its own command line takes stream-json input by default: the same
/// events and end rule as one-shot `-p`, plus `turn/steer` and a cancel that needs no
/// signal. Arguments written in the file are used as written, so they keep the prompt.
fn default_input(kind: ProviderKind, args: &[String]) -> InputMode {
    match kind {
        ProviderKind::Claude if args.is_empty() => InputMode::StreamJson,
        ProviderKind::Claude
        | ProviderKind::Jsonl
        | ProviderKind::Codex
        | ProviderKind::CodexExec
        | ProviderKind::Gemini
        | ProviderKind::Acp => InputMode::Once,
    }
}

fn empty_command(provider: &Provider) -> Option<String> {
    provider
        .command
        .is_empty()
        .then(|| "must not be empty".to_owned())
}

/// No unknown placeholder in `args` or `resume_args`, and no `{session}` in `args`.
fn check_arguments(provider: &Provider) -> Result<(), Fault> {
    let args = KeyPath::provider(&provider.name, "args");
    check_placeholders(&args, &provider.args)?;
    let session = provider
        .args
        .iter()
        .position(|arg| has_placeholder(arg, "session"));
    if let Some(position) = session {
        return Err(Fault::invalid(
            args.index(position),
            "{session} cannot be used in args: they also start a thread's first turn, which \
             has no session yet; put the command line that resumes a session in resume_args",
        ));
    }
    match &provider.resume_args {
        Some(resume_args) => check_placeholders(
            &KeyPath::provider(&provider.name, "resume_args"),
            resume_args,
        ),
        None => Ok(()),
    }
}

/// No `{name}` in the arguments where `name` looks like a placeholder but is none.
fn check_placeholders(key: &KeyPath, args: &[String]) -> Result<(), Fault> {
    let unknown = args
        .iter()
        .enumerate()
        .find_map(|(position, arg)| Some((position, unknown_placeholder(arg)?)));
    match unknown {
        Some((position, name)) => Err(Fault::invalid(
            key.clone().index(position),
            format!(
                "unknown placeholder {{{name}}}, expected one of {{prompt}}, {{cwd}}, {{session}}"
            ),
        )),
        None => Ok(()),
    }
}

/// Every variable name can be set, and no value holds a NUL.
fn check_env(provider: &Provider) -> Result<(), Fault> {
    for (name, value) in &provider.env {
        let message = if !valid_env_name(name) {
            "not a valid environment variable name"
        } else if value.contains('\0') {
            "must not contain a NUL character"
        } else {
            continue;
        };
        return Err(Fault::invalid(
            KeyPath::provider(&provider.name, "env").key(name),
            message,
        ));
    }
    let inherit = provider.env_inherit.as_deref().unwrap_or_default();
    if let Some(position) = inherit.iter().position(|name| !valid_env_name(name)) {
        return Err(Fault::invalid(
            KeyPath::provider(&provider.name, "env_inherit").index(position),
            "not a valid environment variable name",
        ));
    }
    Ok(())
}

/// A name a variable can have: not empty, no `=`, no NUL.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

/// Every model is named, and named once.
fn check_models(provider: &Provider) -> Result<(), Fault> {
    let models = provider.models.as_deref().unwrap_or_default();
    for (position, model) in models.iter().enumerate() {
        let message = if model.trim().is_empty() {
            "must not be empty".to_owned()
        } else if models[..position].contains(model) {
            format!("{model:?} is listed twice")
        } else {
            continue;
        };
        return Err(Fault::invalid(
            KeyPath::provider(&provider.name, "models").index(position),
            message,
        ));
    }
    Ok(())
}

/// Continuing a session needs a command line that resumes one.
fn continue_without_resume(provider: &Provider) -> Option<String> {
    (provider.continue_session && !provider.can_resume()).then(|| {
        "true needs resume_args, the command line that resumes the recorded session (only \
         kinds codex, claude and gemini with args empty have their own)"
            .to_owned()
    })
}

/// Answers on stdin: only a `jsonl` backend reads them, and stdin cannot carry the prompt.
fn approvals_problem(provider: &Provider) -> Option<String> {
    match (provider.approvals, provider.kind, provider.prompt_via) {
        (Approvals::None, _, _) | (Approvals::Stdin, ProviderKind::Jsonl, PromptVia::Arg) => None,
        (Approvals::Stdin, ProviderKind::Jsonl, PromptVia::Stdin) => Some(
            "\"stdin\" cannot be combined with prompt_via = \"stdin\" (stdin carries the answers)"
                .to_owned(),
        ),
        (Approvals::Stdin, kind, _) => Some(format!(
            "\"stdin\" needs kind \"jsonl\" (kind \"{}\" does not read answers on stdin)",
            kind.as_str()
        )),
    }
}

/// Stream-json input: only Claude takes it, and stdin carries the prompt, not `{prompt}`.
fn input_problem(provider: &Provider) -> Option<String> {
    let with_prompt = || {
        provider
            .args
            .iter()
            .chain(provider.resume_args.iter().flatten())
            .any(|arg| has_placeholder(arg, "prompt"))
    };
    match (provider.input, provider.kind, provider.prompt_via) {
        (InputMode::Once, _, _) => None,
        (InputMode::StreamJson, ProviderKind::Claude, PromptVia::Stdin) => Some(
            "\"stream-json\" cannot be combined with prompt_via = \"stdin\" (stdin carries the \
             messages)"
                .to_owned(),
        ),
        (InputMode::StreamJson, ProviderKind::Claude, PromptVia::Arg) if with_prompt() => Some(
            "\"stream-json\" writes the prompt to stdin: the args cannot hold {prompt}".to_owned(),
        ),
        (InputMode::StreamJson, ProviderKind::Claude, PromptVia::Arg) => None,
        (InputMode::StreamJson, kind, _) => Some(format!(
            "\"stream-json\" needs kind \"claude\" (kind \"{}\" takes its input once)",
            kind.as_str()
        )),
    }
}

/// Whether `arg` holds the placeholder `{name}`.
fn has_placeholder(arg: &str, name: &str) -> bool {
    arg.contains(&format!("{{{name}}}"))
}

/// The first `{name}` in `arg` where `name` looks like a placeholder but is none; other
/// braces are literal.
fn unknown_placeholder(arg: &str) -> Option<&str> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        let looks_like_placeholder = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if looks_like_placeholder && !PLACEHOLDERS.contains(&name) {
            return Some(name);
        }
        rest = &after[close + 1..];
    }
    None
}

/// `[launcher.kubernetes]` names what a Job cannot do without when some provider uses it.
fn check_kubernetes(launcher: &super::LauncherConfig) -> Result<(), Fault> {
    if !launcher.uses_kubernetes() {
        return Ok(());
    }
    if !cfg!(feature = "kubernetes") {
        return Err(Fault::invalid(
            KeyPath::default().key("launcher").key("kind"),
            "this agent-host was built without the Kubernetes launcher: build it with \
             `--features kubernetes` (docs/scale-out.md)",
        ));
    }
    let settings = &launcher.kubernetes;
    for (key, value) in [
        ("image", &settings.image),
        ("claim", &settings.claim),
        ("mount_path", &settings.mount_path),
    ] {
        if value.is_empty() {
            return Err(Fault::invalid(
                KeyPath::default()
                    .key("launcher")
                    .key("kubernetes")
                    .key(key),
                "must be set when a provider's turns run on Kubernetes",
            ));
        }
    }
    if !settings.mount_path.starts_with('/') {
        return Err(Fault::invalid(
            KeyPath::default()
                .key("launcher")
                .key("kubernetes")
                .key("mount_path"),
            "must be an absolute path",
        ));
    }
    Ok(())
}
