//! The configuration: defaults, layers, overrides, and every kind of error message.

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
env_inherit = ["PATH", "HOME"]
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
            env_inherit: Some(vec!["PATH".to_owned(), "HOME".to_owned()]),
            prompt_via: PromptVia::Arg,
            continue_session: true,
            model: Some("fake-1".to_owned()),
            approvals: Approvals::None,
            input: InputMode::Once,
            models: None,
            sandbox_modes: None,
            approval_policies: None,
            warm_spare: false,
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

/// Checks each case: the configuration text, the overrides, the whole message.
fn check_errors(cases: &[(String, &[&str], &str)]) {
    for (text, overrides, expected) in cases {
        assert_eq!(
            &error(text, overrides),
            expected,
            "text {text:?}, overrides {overrides:?}"
        );
    }
}

/// A valid provider `x` on lines 1 to 3, then `extra` from line 4.
fn x(extra: &str) -> String {
    format!("[providers.x]\nkind = \"jsonl\"\ncommand = \"x\"\n{extra}")
}

fn text(text: &str) -> String {
    text.to_owned()
}

#[test]
fn malformed_overrides_are_named() {
    check_errors(&[
        (
            text(""),
            &["no-equals-sign"],
            "invalid override `no-equals-sign`: expected key=value",
        ),
        (text(""), &["=1"], "invalid override `=1`: invalid key"),
        (
            text(""),
            &["providers.codex.command.x=1"],
            "invalid override `providers.codex.command.x=1`: providers.codex.command is a \
             string, not a table",
        ),
    ]);
}

#[test]
fn unknown_keys_are_named_with_the_closest_valid_key() {
    let provider_keys = "kind, command, args, resume_args, env, env_inherit, prompt_via, \
                         continue_session, model, approvals, input, models, sandbox_modes, \
                         approval_policies, warm_spare";
    check_errors(&[
        (
            text("default_providr = \"codex\""),
            &[],
            "line 1, column 1: unknown key `default_providr`; did you mean `default_provider`?",
        ),
        (
            text("[providers.codex]\ncomand = \"x\""),
            &[],
            "line 2, column 1: unknown key `comand` in `providers.codex`; did you mean `command`?",
        ),
        (
            text("[interrupt]\ncancel_grace = 1"),
            &[],
            "line 2, column 1: unknown key `cancel_grace` in `interrupt`; did you mean \
             `cancel_grace_ms`?",
        ),
        (
            text("[providers.\"my.agent\"]\nkind = \"jsonl\"\ncommand = \"a\"\nmodle = \"m\""),
            &[],
            "line 4, column 1: unknown key `modle` in `providers.\"my.agent\"`; did you mean \
             `model`?",
        ),
        (
            text("[providers.codex]\ntypo = 1"),
            &[],
            &format!(
                "line 2, column 1: unknown key `typo` in `providers.codex`, expected one of \
                 {provider_keys}"
            ),
        ),
        (
            text(""),
            &["providers.codex.typo=1"],
            &format!(
                "override `providers.codex.typo=1`: unknown key `typo` in `providers.codex`, \
                 expected one of {provider_keys}"
            ),
        ),
    ]);
}

#[test]
fn wrong_types_are_named_in_toml_words() {
    check_errors(&[
        (
            x("args = [\"a\", 3]"),
            &[],
            "line 4, column 14: providers.x.args[1]: expected a string, found an integer",
        ),
        (
            x("args = \"a\""),
            &[],
            "line 4, column 8: providers.x.args: expected an array, found a string",
        ),
        (
            x("resume_args = \"--resume\""),
            &[],
            "line 4, column 15: providers.x.resume_args: expected an array, found a string",
        ),
        (
            x("env = { A = 1 }"),
            &[],
            "line 4, column 13: providers.x.env.A: expected a string, found an integer",
        ),
        (
            text("[providers.y]\nkind = 3\ncommand = \"y\""),
            &[],
            "line 2, column 8: providers.y.kind: expected a string, found an integer",
        ),
        (
            x("model = 1979-05-27"),
            &[],
            "line 4, column 9: providers.x.model: expected a string, found a datetime",
        ),
        (
            x("approvals = true"),
            &[],
            "line 4, column 13: providers.x.approvals: expected a string, found a boolean",
        ),
        (
            text("[providers.codex]\ncontinue_session = \"yes\""),
            &[],
            "line 2, column 20: providers.codex.continue_session: expected a boolean, found a \
             string",
        ),
        (
            text("[interrupt]\nterm_grace_ms = \"1s\""),
            &[],
            "line 2, column 17: interrupt.term_grace_ms: expected an integer, found a string",
        ),
        (
            text("[interrupt]\nterm_grace_ms = -1"),
            &[],
            "line 2, column 17: interrupt.term_grace_ms: must not be negative, found -1",
        ),
        (
            text("providers = 3"),
            &[],
            "line 1, column 13: providers: expected a table, found an integer",
        ),
        (
            text("[providers]\nx = 3"),
            &[],
            "line 2, column 5: providers.x: expected a table, found an integer",
        ),
        (
            text("interrupt = []"),
            &[],
            "line 1, column 13: interrupt: expected a table, found an array",
        ),
        // Not a struct's fields by position either.
        (
            text("[providers]\ny = [\"jsonl\", \"y\"]"),
            &[],
            "line 2, column 5: providers.y: expected a table, found an array",
        ),
    ]);
}

#[test]
fn unknown_values_list_the_valid_ones() {
    check_errors(&[
        (
            text("[providers.x]\nkind = \"foo\"\ncommand = \"x\""),
            &[],
            "line 2, column 8: providers.x.kind: unknown value \"foo\", expected one of jsonl, \
             codex, codex-exec, claude, gemini, acp",
        ),
        (
            x("prompt_via = \"pipe\""),
            &[],
            "line 4, column 14: providers.x.prompt_via: unknown value \"pipe\", expected one \
             of arg, stdin",
        ),
        (
            x("approvals = \"pipe\""),
            &[],
            "line 4, column 13: providers.x.approvals: unknown value \"pipe\", expected one of \
             none, stdin",
        ),
        (
            x("input = \"stream_json\""),
            &[],
            "line 4, column 9: providers.x.input: unknown value \"stream_json\", expected one \
             of once, stream-json",
        ),
        (
            text("default_provider = \"nope\""),
            &[],
            "line 1, column 20: default_provider: unknown provider \"nope\", expected one of \
             claude, claude-acp, codex, codex-acp, demo, gemini, gemini-acp",
        ),
    ]);
}

#[test]
fn missing_and_empty_values_are_named_at_their_table() {
    check_errors(&[
        (
            text("[providers.x]\ncommand = \"x\""),
            &[],
            "line 1, column 12: providers.x.kind: missing, expected one of jsonl, codex, \
             codex-exec, claude, gemini, acp",
        ),
        (
            text("[providers.x]\nkind = \"jsonl\""),
            &[],
            "line 1, column 12: providers.x.command: missing",
        ),
        (
            x("").replace("command = \"x\"", "command = \"\""),
            &[],
            "line 3, column 11: providers.x.command: must not be empty",
        ),
        (
            x("env = { \"A=B\" = \"1\" }"),
            &[],
            "line 4, column 17: providers.x.env.\"A=B\": not a valid environment variable name",
        ),
        (
            x("env_inherit = [\"PATH\", \"A=B\"]"),
            &[],
            "line 4, column 24: providers.x.env_inherit[1]: not a valid environment variable name",
        ),
    ]);
}

#[test]
fn placeholders_are_checked() {
    check_errors(&[
        (
            x("args = [\"a\", \"b\", \"{promt}\"]"),
            &[],
            "line 4, column 19: providers.x.args[2]: unknown placeholder {promt}, expected one \
             of {prompt}, {cwd}, {session}",
        ),
        (
            x("resume_args = [\"{sesion}\"]"),
            &[],
            "line 4, column 16: providers.x.resume_args[0]: unknown placeholder {sesion}, \
             expected one of {prompt}, {cwd}, {session}",
        ),
        (
            x("args = [\"run\", \"--resume={session}\", \"{prompt}\"]"),
            &[],
            "line 4, column 16: providers.x.args[1]: {session} cannot be used in args: they \
             also start a thread's first turn, which has no session yet; put the command line \
             that resumes a session in resume_args",
        ),
    ]);
}

#[test]
fn an_error_in_a_file_names_the_file_the_key_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "default_provider = \"local\"\n\n[providers.local]\nkind = \"jsonl\"\ncommand = \
         \"my-agent\"\nprompt_via = \"pipe\"\n",
    )
    .unwrap();
    let err = Config::load(Some(&path), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "config file {}, line 6, column 14: providers.local.prompt_via: unknown value \
             \"pipe\", expected one of arg, stdin",
            path.display()
        )
    );
    let ConfigError::Invalid { at, key, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(key, "providers.local.prompt_via");
    assert_eq!(
        at,
        Some(Origin::File {
            path: Some(path),
            line: 6,
            column: 14
        })
    );
}

#[test]
fn an_error_in_an_override_names_the_override() {
    let file = x("args = [\"{prompt}\"]");
    check_errors(&[
        (
            text(""),
            &["providers.codex.kind=foo"],
            "override `providers.codex.kind=foo`: providers.codex.kind: unknown value \"foo\", \
             expected one of jsonl, codex, codex-exec, claude, gemini, acp",
        ),
        // The override replaced the file's `args`: the element is the override's.
        (
            file.clone(),
            &["providers.x.args=[\"{session}\"]"],
            "override `providers.x.args=[\"{session}\"]`: providers.x.args[0]: {session} cannot \
             be used in args: they also start a thread's first turn, which has no session yet; \
             put the command line that resumes a session in resume_args",
        ),
        // A provider the override made lacks its kind.
        (
            file.clone(),
            &["providers.x.model=m", "providers.new.command=new"],
            "override `providers.new.command=new`: providers.new.kind: missing, expected one of \
             jsonl, codex, codex-exec, claude, gemini, acp",
        ),
        // A value of the file stays the file's beside an override of another key.
        (
            x("continue_session = true"),
            &["providers.x.model=m"],
            "line 4, column 20: providers.x.continue_session: true needs resume_args, the \
             command line that resumes the recorded session (only kinds codex, claude and \
             gemini with args empty have their own)",
        ),
        // A rule broken by an override's value names the override.
        (
            file,
            &["providers.x.model=m", "providers.x.continue_session=true"],
            "override `providers.x.continue_session=true`: providers.x.continue_session: true \
             needs resume_args, the command line that resumes the recorded session (only kinds \
             codex, claude and gemini with args empty have their own)",
        ),
        (
            x("prompt_via = \"stdin\""),
            &["providers.x.approvals=stdin"],
            "override `providers.x.approvals=stdin`: providers.x.approvals: \"stdin\" cannot be \
             combined with prompt_via = \"stdin\" (stdin carries the answers)",
        ),
    ]);
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
    check_errors(&[
        (
            format!("{claude}args = [\"-p\", \"{{prompt}}\"]\ninput = \"stream-json\""),
            &[],
            "line 5, column 9: providers.c.input: \"stream-json\" writes the prompt to stdin: \
             the args cannot hold {prompt}",
        ),
        (
            x("input = \"stream-json\""),
            &[],
            "line 4, column 9: providers.x.input: \"stream-json\" needs kind \"claude\" (kind \
             \"jsonl\" takes its input once)",
        ),
        // The default input of kind `claude` is checked too; it is the table's.
        (
            format!("{claude}prompt_via = \"stdin\""),
            &[],
            "line 1, column 12: providers.c.input: \"stream-json\" cannot be combined with \
             prompt_via = \"stdin\" (stdin carries the messages)",
        ),
    ]);
}

#[test]
fn approvals_on_stdin_are_for_jsonl_providers_with_the_prompt_elsewhere() {
    let base = x("");
    let config = load(&format!("{base}approvals = \"stdin\""), &[]).unwrap();
    assert_eq!(config.provider("x").unwrap().approvals, Approvals::Stdin);
    assert_eq!(
        load(&base, &[]).unwrap().provider("x").unwrap().approvals,
        Approvals::None
    );
    check_errors(&[
        (
            text("[providers.codex]\napprovals = \"stdin\""),
            &[],
            "line 2, column 13: providers.codex.approvals: \"stdin\" needs kind \"jsonl\" (kind \
             \"codex\" does not read answers on stdin)",
        ),
        (
            x("approvals = \"stdin\"\nprompt_via = \"stdin\""),
            &[],
            "line 4, column 13: providers.x.approvals: \"stdin\" cannot be combined with \
             prompt_via = \"stdin\" (stdin carries the answers)",
        ),
    ]);
}

#[test]
fn a_session_is_resumed_only_through_resume_args() {
    let base = x("");
    let config = load(
        &format!(
            "{base}args = [\"{{prompt}}\"]\nresume_args = [\"--resume\", \"{{session}}\", \
             \"{{prompt}}\"]\ncontinue_session = true"
        ),
        &[],
    )
    .unwrap();
    let provider = config.provider("x").unwrap();
    assert_eq!(provider.args, ["{prompt}"]);
    assert_eq!(
        provider.resume_args.as_deref(),
        Some(
            ["--resume", "{session}", "{prompt}"]
                .map(str::to_owned)
                .as_slice()
        )
    );
    assert_eq!(
        load(&base, &[]).unwrap().provider("x").unwrap().resume_args,
        None
    );
    let needs_resume_args = "true needs resume_args, the command line that resumes the \
                             recorded session (only kinds codex, claude and gemini with args \
                             empty have their own)";
    check_errors(&[
        (
            x("continue_session = true"),
            &[],
            &format!("line 4, column 20: providers.x.continue_session: {needs_resume_args}"),
        ),
        (
            text("[providers.codex]\nargs = [\"exec\", \"{prompt}\"]\ncontinue_session = true"),
            &[],
            &format!("line 3, column 20: providers.codex.continue_session: {needs_resume_args}"),
        ),
    ]);
    // The built-in kinds resume with their own command line.
    let builtin = load("[providers.codex]\ncontinue_session = true", &[]).unwrap();
    assert!(builtin.provider("codex").unwrap().continue_session);
}

#[test]
fn enum_names_are_the_serde_names() {
    for kind in ProviderKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
    for via in [PromptVia::Arg, PromptVia::Stdin] {
        assert_eq!(serde_json::to_value(via).unwrap(), via.as_str());
    }
    for approvals in [Approvals::None, Approvals::Stdin] {
        assert_eq!(serde_json::to_value(approvals).unwrap(), approvals.as_str());
    }
    for input in [InputMode::Once, InputMode::StreamJson] {
        assert_eq!(serde_json::to_value(input).unwrap(), input.as_str());
    }
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

#[test]
fn a_provider_lists_its_models_each_once() {
    let config = load(&x("models = [\"big\", \"small\"]\nmodel = \"big\""), &[]).unwrap();
    let provider = config.provider("x").unwrap();
    assert_eq!(
        provider.models.as_deref(),
        Some(&["big".to_owned(), "small".to_owned()][..])
    );
    assert_eq!(config.provider("codex").unwrap().models, None);
    check_errors(&[
        (
            x("models = [\"big\", \"\"]"),
            &[],
            "line 4, column 18: providers.x.models[1]: must not be empty",
        ),
        (
            x("models = [\"big\", \"big\"]"),
            &[],
            "line 4, column 18: providers.x.models[1]: \"big\" is listed twice",
        ),
        (
            x("models = \"big\""),
            &[],
            "line 4, column 10: providers.x.models: expected an array, found a string",
        ),
    ]);
}

#[test]
fn the_layers_are_kept_as_written() {
    let config = load(&x("model = \"m\""), &["providers.x.command=y"]).unwrap();
    let layers = config.layers();
    assert_eq!(layers.file["providers"]["x"]["command"], "x");
    assert_eq!(layers.merged["providers"]["x"]["command"], "y");
    assert_eq!(
        layers.overrides.as_ref().unwrap()["providers"],
        serde_json::json!({"x": {"command": "y"}})
    );
    assert_eq!(layers.builtin["default_provider"], "codex");
    assert_eq!(layers.builtin["interrupt"]["cancel_grace_ms"], 2000);
    assert!(layers.builtin["providers"]["claude"].is_object());
    assert!(load("", &[]).unwrap().layers().overrides.is_none());
}

#[test]
fn the_completion_notice_is_an_argv_with_its_switches() {
    let off = load("", &[]).unwrap();
    assert_eq!(off.notify, NotifyConfig::default());
    assert_eq!(off.notify.program, None);
    let on = load(
        "notify = [\"notify-send\", \"--urgency=low\"]\nnotify_foreground = true\n\
         notify_timeout_ms = 500\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        on.notify,
        NotifyConfig {
            program: Some(vec!["notify-send".to_owned(), "--urgency=low".to_owned()]),
            foreground: true,
            timeout_ms: 500,
        }
    );
    // An empty array turns it off, as in Codex; an override can do that for one run.
    let silenced = load("notify = [\"x\"]", &["notify=[]"]).unwrap();
    assert_eq!(silenced.notify.program, None);
    check_errors(&[
        (
            text("notify = \"notify-send --urgency=low\""),
            &[],
            "line 1, column 10: notify: expected an array, found a string",
        ),
        (
            text("notify = [\"\", \"x\"]"),
            &[],
            "line 1, column 11: notify[0]: must name the program to run (the first element is \
             the program, the others its arguments; no shell is involved)",
        ),
        (
            text("notify_foreground = \"yes\""),
            &[],
            "line 1, column 21: notify_foreground: expected a boolean, found a string",
        ),
        (
            text("notfy = [\"x\"]"),
            &[],
            "line 1, column 1: unknown key `notfy`; did you mean `notify`?",
        ),
    ]);
}

#[test]
fn the_launcher_is_chosen_per_provider() {
    let config = load("", &[]).unwrap();
    assert_eq!(config.launcher.kind_for("codex"), LauncherKind::Local);
    let text = format!(
        "{FAKE}\n[launcher]\nkind = \"slurm\"\nproviders = {{ codex = \"local\" }}\n\
         [launcher.slurm]\nsbatch_args = [\"--partition=p\"]\nready_timeout_ms = 5000\n"
    );
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.launcher.kind_for("fake"), LauncherKind::Slurm);
    assert_eq!(config.launcher.kind_for("codex"), LauncherKind::Local);
    assert_eq!(config.launcher.slurm.sbatch_args, ["--partition=p"]);
    assert_eq!(config.launcher.slurm.ready_timeout_ms, 5000);
    let overridden = load(FAKE, &["launcher.kind=\"slurm\""]).unwrap();
    assert_eq!(overridden.launcher.kind_for("fake"), LauncherKind::Slurm);
}

#[test]
fn a_launcher_override_must_name_a_provider_and_a_known_launcher() {
    let err = error("[launcher]\nproviders = { nope = \"slurm\" }\n", &[]);
    assert!(err.contains("launcher.providers.nope"), "{err}");
    assert!(err.contains("names no provider"), "{err}");
    let err = error("[launcher]\nkind = \"mesos\"\n", &[]);
    assert!(err.contains("launcher.kind"), "{err}");
    assert!(err.contains("local") && err.contains("kubernetes"), "{err}");
}

#[test]
#[cfg(not(feature = "kubernetes"))]
fn a_build_without_the_kubernetes_launcher_refuses_it_by_name() {
    for written in [
        "[launcher]\nkind = \"kubernetes\"\n".to_owned(),
        format!("{FAKE}\n[launcher]\nproviders = {{ fake = \"kubernetes\" }}\n"),
    ] {
        let err = error(&written, &[]);
        assert!(err.contains("launcher.kind"), "{err}");
        assert!(err.contains("--features kubernetes"), "{err}");
    }
}

#[test]
#[cfg(feature = "kubernetes")]
fn the_kubernetes_launcher_needs_an_image_a_claim_and_its_mount() {
    let err = error("[launcher]\nkind = \"kubernetes\"\n", &[]);
    assert!(err.contains("launcher.kubernetes.image"), "{err}");
    let err = error(
        "[launcher]\nkind = \"kubernetes\"\n[launcher.kubernetes]\nimage = \"i\"\n\
         claim = \"c\"\nmount_path = \"rel\"\n",
        &[],
    );
    assert!(err.contains("launcher.kubernetes.mount_path"), "{err}");
    let config = load(
        &format!(
            "{FAKE}\n[launcher]\nproviders = {{ fake = \"kubernetes\" }}\n\
             [launcher.kubernetes]\nimage = \"i\"\nclaim = \"c\"\nmount_path = \"/srv\"\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(config.launcher.kind_for("fake"), LauncherKind::Kubernetes);
    assert_eq!(config.launcher.kubernetes.termination_grace_seconds, 30);
}
