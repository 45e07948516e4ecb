//! The real Codex CLI (0.169.0, from `scripts/install-test-deps.sh`) as the backend of
//! agent-host turns, talking to our own mock of the Responses API on 127.0.0.1.
//!
//! Each test starts the mock with a script of model replies, writes a throwaway `CODEX_HOME`
//! whose `config.toml` points Codex at the mock, configures an agent-host provider of kind
//! `codex` whose command is the installed binary, and drives `agent-host app-server` over
//! real pipes. Every wait is bounded; the mock stops after its script or its deadline; every
//! process is checked by pid and start time.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::git_repo;
use crate::support::host::{Host, TURN_TIMEOUT, path_str, read_item_types, with_method};
use crate::support::mock_responses::{MockEvent, MockResponses, Output, Reply};
use crate::support::procs::{Proc, alive, descendants, installed_cli};
use crate::support::{Sandbox, wait_until};

/// How long the mock serves at most.
const MOCK_LIFETIME: Duration = Duration::from_secs(120);

/// The installed Codex binary, `.cache/codex-bin`; a missing one fails the test.
fn codex_bin() -> PathBuf {
    installed_cli("codex-bin", "Codex CLI")
}

/// The `config.toml` of a throwaway `CODEX_HOME` that sends every model request to the mock
/// (`codex-app-server-protocol.md` §15).
pub fn codex_config(base_url: &str) -> String {
    format!(
        r#"model = "mock-model"
model_provider = "mock"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false
apps = false
remote_plugin = false

[analytics]
enabled = false
"#
    )
}

/// A sandboxed agent-host whose provider runs the real Codex against `mock`.
pub struct CodexHost {
    pub host: Host,
    pub mock: MockResponses,
}

impl Deref for CodexHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for CodexHost {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

/// How the test's provider is configured.
enum ProviderSetup {
    /// The built-in `codex` provider (its shipped argv) with our command and environment.
    BuiltIn,
    /// A provider of our own, `kind = "codex-exec"` and no `args`: the adapter's default argv.
    Named(&'static str),
}

impl CodexHost {
    fn new(script: Vec<Reply>, setup: ProviderSetup) -> CodexHost {
        CodexHost::with_thread_params(script, setup, json!({}))
    }

    /// As `new`, with `extra` merged into the `thread/start` params (e.g. `continueSession`).
    fn with_thread_params(script: Vec<Reply>, setup: ProviderSetup, extra: Value) -> CodexHost {
        CodexHost::build(script, setup, extra, &BTreeMap::new())
    }

    /// As `new`, with `env` set for the server.
    fn with_server_env(script: Vec<Reply>, env: &BTreeMap<String, String>) -> CodexHost {
        CodexHost::build(script, ProviderSetup::BuiltIn, json!({}), env)
    }

    fn build(
        script: Vec<Reply>,
        setup: ProviderSetup,
        extra: Value,
        env: &BTreeMap<String, String>,
    ) -> CodexHost {
        let name = match setup {
            ProviderSetup::BuiltIn => "codex",
            ProviderSetup::Named(name) => name,
        };
        CodexHost::of_kind(script, name, "codex-exec", extra, env)
    }

    /// A provider `name` of `kind` (`codex` or `codex-exec`, the kind's own command line)
    /// with `extra` merged into the `thread/start` params and `env` set for the server.
    pub fn of_kind(
        script: Vec<Reply>,
        name: &str,
        kind: &str,
        extra: Value,
        env: &BTreeMap<String, String>,
    ) -> CodexHost {
        CodexHost::of_kind_with_keys(script, name, kind, extra, env, "")
    }

    /// As [`CodexHost::of_kind`], with `keys` (lines such as `warm_spare = true`) added to
    /// the provider's table.
    pub fn of_kind_with_keys(
        script: Vec<Reply>,
        name: &str,
        kind: &str,
        extra: Value,
        env: &BTreeMap<String, String>,
        keys: &str,
    ) -> CodexHost {
        let bin = codex_bin();
        let mock = MockResponses::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let codex_home = sandbox.root().join("codex-home");
        let codex_user_home = sandbox.root().join("codex-user-home");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::create_dir_all(&codex_user_home).unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            codex_config(&mock.base_url()),
        )
        .unwrap();
        let config = format!(
            r#"default_provider = "{name}"
[interrupt]
cancel_grace_ms = 5000
term_grace_ms = 1000
[providers.{name}]
kind = "{kind}"
command = {command:?}
{keys}
[providers.{name}.env]
CODEX_HOME = {codex_home:?}
HOME = {home:?}
"#,
            command = path_str(&bin),
            codex_home = path_str(&codex_home),
            home = path_str(&codex_user_home),
        );
        let config_path = sandbox.root().join("real-codex.toml");
        std::fs::write(&config_path, config).unwrap();
        CodexHost {
            host: Host::start_with_env(sandbox, &config_path, name, extra, env),
            mock,
        }
    }

    /// Everything in `messages` conforms to Codex's schema, and the mock was asked no more
    /// than its script answers.
    pub fn assert_conforms_and_mock_done(&self, messages: &[Value]) {
        self.host.assert_conforms(messages);
        let more = self.mock.drain();
        assert!(more.is_empty(), "the mock got more requests: {more:?}");
    }

    /// Every message up to the turn's `turn/completed` (see [`Host`]); a failure
    /// also shows what the mock saw.
    pub fn until_completed(&mut self, turn_id: &str) -> Vec<Value> {
        let mock = &self.mock;
        self.host
            .until_completed_or(turn_id, &|| format!("mock: {:?}", mock.drain()))
    }
}

/// Codex's own thread id: the `thread_id` of `thread.started` in a turn's `backend.stdout`.
fn codex_thread_id(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["type"] == "thread.started")
        .and_then(|event| event["thread_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no thread.started from codex:\n{stdout}"))
}

/// Whether the model request `body` carries a `message` of `role` whose text is `text`.
pub fn has_message(body: &Value, role: &str, text: &str) -> bool {
    body["input"].as_array().is_some_and(|items| {
        items.iter().any(|item| {
            item["type"] == "message"
                && item["role"] == role
                && item["content"].as_array().is_some_and(|parts| {
                    parts.iter().any(|part| part["text"].as_str() == Some(text))
                })
        })
    })
}

const PREAMBLE: &str = "I will look at the files first.";
const FINAL: &str = "The tool ran; this is the final answer.";
const TOOL_MARK: &str = "tool-output-7f3a";

#[test]
fn a_real_codex_turn_runs_a_tool_and_completes_with_the_final_message() {
    let script = vec![
        Reply::Complete {
            outputs: vec![
                Output::Message(PREAMBLE.to_owned()),
                Output::ExecCommand(json!({"cmd": format!("echo {TOOL_MARK}")})),
            ],
            usage: (100, 20, 7),
        },
        Reply::Complete {
            outputs: vec![Output::Message(FINAL.to_owned())],
            usage: (150, 60, 9),
        },
    ];
    let mut host = CodexHost::new(script, ProviderSetup::BuiltIn);
    // A prompt that looks like a flag: the built-in argv puts it after `--`.
    let turn = host.start_turn("-v: list the files, then answer");
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let context = format!("backend.stdout:\n{stdout}\nmessages: {messages:#?}");

    assert_asked_with_the_prompt_then_the_tool_output(&host);
    assert_messages_and_command_in_the_models_order(&messages, &context);
    assert_usage_of_both_requests(&messages, &turn, &context);

    // turn/completed: completed, and its one item is the FINAL message.
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(completed["items"][0]["type"], "agentMessage");
    assert_eq!(completed["items"][0]["text"], FINAL, "{context}");
    assert_eq!(
        messages[messages.len() - 2]["params"]["status"]["type"],
        "idle"
    );

    // Final means final: Codex has exited and the runner recorded it.
    let record = host.process_record(&turn);
    let backend = &record["backend"];
    let (pid, start) = (
        backend["pid"].as_i64().unwrap() as i32,
        backend["startTime"].as_u64().unwrap(),
    );
    assert!(!alive(pid, start), "codex still runs at turn/completed");
    assert!(host.turn_dir(&turn).join("exit.json").is_file());

    // Read back: the whole turn, in order.
    let read = host.read_thread();
    assert_eq!(
        read_item_types(&read),
        [
            "userMessage",
            "agentMessage",
            "commandExecution",
            "agentMessage"
        ],
        "{read}"
    );
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms_and_mock_done(&all);
}

/// The model was asked twice: the prompt, then the tool's real output.
fn assert_asked_with_the_prompt_then_the_tool_output(host: &CodexHost) {
    let first = host.mock.wait_request(0, Duration::ZERO);
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert_eq!(first["model"], "mock-model");
    assert!(
        first["input"]
            .to_string()
            .contains("-v: list the files, then answer"),
        "{first}"
    );
    let tool_result = second["input"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["type"] == "function_call_output"))
        .unwrap_or_else(|| panic!("no tool output in the second request: {second}"));
    assert!(
        tool_result["output"]
            .as_str()
            .is_some_and(|o| o.contains(TOOL_MARK)),
        "{tool_result}"
    );
}

/// The client saw both messages and the command, in the model's order; the command ran and
/// printed the mark; every item that started also completed.
fn assert_messages_and_command_in_the_models_order(messages: &[Value], context: &str) {
    let agent_messages: Vec<&Value> = with_method(messages, "item/completed")
        .into_iter()
        .map(|m| &m["params"]["item"])
        .filter(|item| item["type"] == "agentMessage")
        .collect();
    let texts: Vec<&str> = agent_messages
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect();
    assert_eq!(texts, [PREAMBLE, FINAL], "{context}");
    let position = |pred: &dyn Fn(&Value) -> bool| {
        messages
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("missing message; {context}"))
    };
    let preamble_at =
        position(&|m| m["method"] == "item/completed" && m["params"]["item"]["text"] == PREAMBLE);
    let command_at = position(&|m| {
        m["method"] == "item/completed" && m["params"]["item"]["type"] == "commandExecution"
    });
    let final_at =
        position(&|m| m["method"] == "item/completed" && m["params"]["item"]["text"] == FINAL);
    assert!(
        preamble_at < command_at && command_at < final_at,
        "{context}"
    );
    let command = &messages[command_at]["params"]["item"];
    assert!(
        command["command"]
            .as_str()
            .is_some_and(|c| c.contains(TOOL_MARK)),
        "{command}"
    );
    assert_eq!(command["status"], "completed", "{command}");
    assert_eq!(command["exitCode"], 0, "{command}");
    assert!(
        command["aggregatedOutput"]
            .as_str()
            .is_some_and(|o| o.contains(TOOL_MARK)),
        "{command}"
    );
    assert!(
        with_method(messages, "item/started")
            .iter()
            .any(|m| m["params"]["item"]["type"] == "commandExecution"),
        "{context}"
    );
    let ids = |method: &str| -> Vec<Value> {
        with_method(messages, method)
            .iter()
            .map(|m| m["params"]["item"]["id"].clone())
            .collect()
    };
    assert_eq!(ids("item/started"), ids("item/completed"), "{context}");
}

/// Usage: Codex's thread total over both model requests; a good turn has no error
/// notification.
fn assert_usage_of_both_requests(messages: &[Value], turn: &str, context: &str) {
    let usage = with_method(messages, "thread/tokenUsage/updated");
    let usage = usage
        .last()
        .unwrap_or_else(|| panic!("no thread/tokenUsage/updated; {context}"));
    let total = &usage["params"]["tokenUsage"]["total"];
    assert_eq!(total["inputTokens"], 250, "{usage}");
    assert_eq!(total["cachedInputTokens"], 80, "{usage}");
    assert_eq!(total["outputTokens"], 16, "{usage}");
    assert_eq!(total["totalTokens"], 266, "{usage}");
    assert_eq!(usage["params"]["turnId"], turn);
    assert!(
        with_method(messages, "error").is_empty(),
        "an error notification in a good turn; {context}"
    );
}

#[test]
fn interrupting_a_real_codex_turn_while_the_model_stalls_leaves_no_process() {
    // First a command that keeps running (Codex returns to the model after 300 ms with a
    // session id), then a model stream that never ends.
    let script = vec![
        Reply::Complete {
            outputs: vec![
                Output::Message("Starting a long job.".to_owned()),
                Output::ExecCommand(json!({"cmd": "sleep 600", "yield_time_ms": 300})),
            ],
            usage: (10, 0, 5),
        },
        Reply::Stall,
    ];
    let mut host = CodexHost::new(script, ProviderSetup::Named("mock-codex"));
    let turn = host.start_turn("start the long job");
    host.mock.wait_request(0, TURN_TIMEOUT);
    host.mock.wait_request(1, TURN_TIMEOUT);

    // The model is stalled: Codex and its command run under the runner.
    let record = host.process_record(&turn);
    let runner = record["runner"]["pid"].as_i64().unwrap() as i32;
    let runner_start = record["runner"]["startTime"].as_u64().unwrap();
    let backend_pid = record["backend"]["pid"].as_i64().unwrap() as i32;
    let backend_start = record["backend"]["startTime"].as_u64().unwrap();
    let backend_pgid = record["backend"]["pgid"].as_i64().unwrap() as i32;
    assert!(alive(backend_pid, backend_start));
    let before = descendants(runner, &[backend_pgid]);
    assert!(
        before.iter().any(|p| p.pid == backend_pid),
        "codex is not under its runner: {before:#?}"
    );
    assert!(
        before.iter().any(|p| p.comm == "sleep"),
        "the tool command is not running: {before:#?}\n{}",
        host.backend_stdout(&turn)
    );

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(
        completed["status"],
        "interrupted",
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    assert_eq!(completed["items"], json!([]));
    assert!(
        with_method(&messages, "item/completed")
            .iter()
            .any(|m| m["params"]["item"]["text"] == "Starting a long job."),
        "{messages:#?}"
    );

    // At turn/completed, every process of the turn is gone: Codex, the command, anything
    // they started.
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let exit: Value = serde_json::from_slice(
        &std::fs::read(host.turn_dir(&turn).join("exit.json")).expect("exit.json"),
    )
    .unwrap();
    assert_eq!(exit["status"], "interrupted", "{exit}");
    // The runner itself ends too; then nothing runs in the backend's session either.
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    let stragglers = descendants(runner, &[backend_pgid]);
    assert!(stragglers.is_empty(), "left behind: {stragglers:#?}");
    // Codex's connection to the stalled stream closed with it.
    match host.mock.next_event(TURN_TIMEOUT) {
        Some(MockEvent::StallEnded { index: 1 }) => {}
        other => panic!("the stalled request was not closed by the client: {other:?}"),
    }
    host.assert_conforms(&messages);
}

#[test]
fn an_upstream_http_500_fails_the_real_codex_turn_with_a_readable_error() {
    let script = vec![Reply::HttpError {
        status: 500,
        message: "mock upstream exploded".to_owned(),
    }];
    let mut host = CodexHost::new(script, ProviderSetup::Named("mock-codex"));
    let turn = host.start_turn("hello");
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    host.mock.wait_request(0, Duration::ZERO);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(
        completed["status"], "failed",
        "{messages:#?}\nbackend.stdout:\n{stdout}"
    );
    // Codex words every 5xx its own way (it drops the status and the body); the client gets
    // exactly the text of Codex's `turn.failed`.
    let failed: Value = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["type"] == "turn.failed")
        .unwrap_or_else(|| panic!("no turn.failed from codex:\n{stdout}"));
    let message = completed["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(message, failed["error"]["message"], "{completed}\n{stdout}");
    assert!(
        message.contains("high demand"),
        "not Codex's readable 5xx message: {completed}\nbackend.stdout:\n{stdout}"
    );
    let errors = with_method(&messages, "error");
    assert_eq!(errors.len(), 1, "{messages:#?}");
    assert_eq!(errors[0]["params"]["willRetry"], false);
    assert_eq!(errors[0]["params"]["error"], completed["error"]);
    assert_eq!(
        messages[messages.len() - 3]["params"]["status"]["type"],
        "systemError",
        "{messages:#?}"
    );
    // No retry (request_max_retries = 0): one request, and nothing more.
    assert!(host.mock.drain().is_empty(), "Codex retried");
    host.assert_conforms(&messages);
}

const KIWI_PROMPT: &str = "remember the word kiwi";
const KIWI_REPLY: &str = "Noted: kiwi.";
const QUESTION: &str = "what was the word?";

fn kiwi_script() -> Vec<Reply> {
    vec![
        Reply::Complete {
            outputs: vec![Output::Message(KIWI_REPLY.to_owned())],
            usage: (40, 0, 4),
        },
        Reply::Complete {
            outputs: vec![Output::Message("The word was kiwi.".to_owned())],
            usage: (60, 40, 5),
        },
    ]
}

/// `(total, last)` of the turn's `thread/tokenUsage/updated`, each as
/// `(totalTokens, inputTokens, cachedInputTokens, outputTokens)`.
type Usage = (u64, u64, u64, u64);
fn thread_usage(messages: &[Value], turn: &str) -> (Usage, Usage) {
    let usage = with_method(messages, "thread/tokenUsage/updated");
    let usage: Vec<&&Value> = usage
        .iter()
        .filter(|m| m["params"]["turnId"] == turn)
        .collect();
    assert_eq!(usage.len(), 1, "{messages:#?}");
    let of = |b: &Value| {
        let field = |name: &str| b[name].as_u64().unwrap_or_else(|| panic!("{b}"));
        (
            field("totalTokens"),
            field("inputTokens"),
            field("cachedInputTokens"),
            field("outputTokens"),
        )
    };
    let token_usage = &usage[0]["params"]["tokenUsage"];
    (of(&token_usage["total"]), of(&token_usage["last"]))
}

#[test]
fn a_continued_thread_resumes_the_real_codex_session_on_the_next_turn() {
    let mut host = CodexHost::with_thread_params(
        kiwi_script(),
        ProviderSetup::Named("mock-codex"),
        json!({"continueSession": true}),
    );
    let (turn1, messages1) = host.completed_turn(KIWI_PROMPT);
    let first = host.mock.wait_request(0, Duration::ZERO);
    assert!(has_message(&first, "user", KIWI_PROMPT), "{first}");

    // Turn 1 started a fresh Codex session; the thread record keeps its id.
    let codex_thread = codex_thread_id(&host.backend_stdout(&turn1));
    let spec1 = host.turn_spec(&turn1);
    assert_eq!(spec1["resumeSessionId"], Value::Null, "{spec1}");
    let record = host.thread_record();
    assert_eq!(record["continueSession"], true, "{record}");
    assert_eq!(record["backendSessionId"], codex_thread, "{record}");

    // Turn 2 resumes it: the runner was told the id, and Codex sent the whole conversation.
    let (turn2, messages2) = host.completed_turn(QUESTION);
    let spec2 = host.turn_spec(&turn2);
    assert_eq!(spec2["resumeSessionId"], codex_thread, "{spec2}");
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(
        has_message(&second, "user", KIWI_PROMPT),
        "turn 1's prompt is not in the resumed request: {second}"
    );
    assert!(
        has_message(&second, "assistant", KIWI_REPLY),
        "turn 1's answer is not in the resumed request: {second}"
    );
    assert!(has_message(&second, "user", QUESTION), "{second}");
    // The same Codex session, still recorded.
    let stdout2 = host.backend_stdout(&turn2);
    assert_eq!(codex_thread_id(&stdout2), codex_thread, "{stdout2}");
    let record = host.thread_record();
    assert_eq!(record["backendSessionId"], codex_thread, "{record}");
    // Codex's usage counts its whole session (turn 1 included, 100 + 9); the thread total is
    // not counted twice, and `last` is turn 2's own.
    assert_eq!(
        thread_usage(&messages2, &turn2),
        ((109, 100, 40, 9), (65, 60, 40, 5)),
        "backend.stdout:\n{stdout2}"
    );

    let mut all = messages1;
    all.extend(messages2);
    host.assert_conforms_and_mock_done(&all);
}

#[test]
fn without_continue_session_each_real_codex_turn_starts_a_fresh_session() {
    let mut host = CodexHost::new(kiwi_script(), ProviderSetup::Named("mock-codex"));
    let (turn1, _) = host.completed_turn(KIWI_PROMPT);
    host.mock.wait_request(0, Duration::ZERO);
    let (turn2, messages2) = host.completed_turn(QUESTION);
    // A fresh session counts turn 2 only; the thread total adds turn 1's.
    assert_eq!(
        thread_usage(&messages2, &turn2),
        ((109, 100, 40, 9), (65, 60, 40, 5))
    );
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(has_message(&second, "user", QUESTION), "{second}");
    assert!(
        !second.to_string().contains("kiwi"),
        "a fresh session carries turn 1's conversation: {second}"
    );
    assert_eq!(host.turn_spec(&turn2)["resumeSessionId"], Value::Null);
    let record = host.thread_record();
    assert_eq!(record["continueSession"], false, "{record}");
    assert_eq!(record["backendSessionId"], Value::Null, "{record}");
    assert_ne!(
        codex_thread_id(&host.backend_stdout(&turn1)),
        codex_thread_id(&host.backend_stdout(&turn2))
    );
}

/// A 1×1 red PNG.
const RED_PIXEL_PNG: [u8; 69] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The content parts of the user messages of a model request, in order.
fn user_parts(body: &Value) -> Vec<Value> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message" && item["role"] == "user")
        .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The `input_image` parts of the user messages of a model request, in order.
fn input_images(body: &Value) -> Vec<Value> {
    user_parts(body)
        .into_iter()
        .filter(|part| part["type"] == "input_image")
        .collect()
}

#[test]
fn local_images_reach_the_real_codex_model_request_as_input_images() {
    let script = vec![
        Reply::Complete {
            outputs: vec![Output::Message("A red pixel.".to_owned())],
            usage: (40, 0, 4),
        },
        Reply::Complete {
            outputs: vec![Output::Message("Red again.".to_owned())],
            usage: (80, 40, 3),
        },
    ];
    // A continued session, so that turn 2 attaches its image through `exec resume`.
    let mut host = CodexHost::with_thread_params(
        script,
        ProviderSetup::Named("mock-codex"),
        json!({"continueSession": true}),
    );
    let (first_image, second_image) = two_pictures(&host);

    let turn1 = host.start_turn_with(json!([
        {"type": "text", "text": "what is in this image?"},
        {"type": "localImage", "path": path_str(&first_image)},
    ]));
    let messages1 = host.until_completed(&turn1);
    assert_first_image_reached_the_model(&host, &turn1, &messages1, &first_image);

    // Turn 2 resumes Codex's session with a new image.
    let turn2 = host.start_turn_with(json!([
        {"type": "text", "text": "and this one?"},
        {"type": "localImage", "path": path_str(&second_image)},
    ]));
    let messages2 = host.until_completed(&turn2);
    assert_eq!(
        messages2.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{messages2:#?}\nbackend.stderr:\n{}",
        host.backend_stderr(&turn2)
    );
    let spec2 = host.turn_spec(&turn2);
    assert_eq!(
        spec2["resumeSessionId"],
        codex_thread_id(&host.backend_stdout(&turn1)),
        "{spec2}"
    );
    let second = host.mock.wait_request(1, Duration::ZERO);
    let parts = Value::from(user_parts(&second));
    assert!(has_message(&second, "user", "and this one?"), "{parts}");
    // Turn 1's image from the session's history, then turn 2's own.
    assert_eq!(
        input_images(&second).len(),
        2,
        "user message parts: {parts}"
    );

    let mut all = messages1;
    all.extend(messages2);
    host.assert_conforms_and_mock_done(&all);
}

/// Two copies of a red pixel in a folder whose name has a space.
fn two_pictures(host: &CodexHost) -> (PathBuf, PathBuf) {
    let pictures = host.sandbox.root().join("my pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    let first_image = pictures.join("red pixel.png");
    let second_image = pictures.join("second.png");
    std::fs::write(&first_image, RED_PIXEL_PNG).unwrap();
    std::fs::write(&second_image, RED_PIXEL_PNG).unwrap();
    (first_image, second_image)
}

/// Turn 1 completed, and its image reached the model without the prompt naming it.
fn assert_first_image_reached_the_model(
    host: &CodexHost,
    turn1: &str,
    messages1: &[Value],
    image: &std::path::Path,
) {
    let context1 = format!(
        "{messages1:#?}\nbackend.stdout:\n{}\nbackend.stderr:\n{}",
        host.backend_stdout(turn1),
        host.backend_stderr(turn1)
    );
    assert_eq!(
        messages1.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{context1}"
    );
    // The runner was told to attach the image; the prompt does not name it.
    let spec1 = host.turn_spec(turn1);
    assert_eq!(spec1["images"], json!([path_str(image)]), "{spec1}");
    assert_eq!(spec1["prompt"], "what is in this image?", "{spec1}");
    // Codex read the file and sent it to the model as an image of the user's message.
    let first = host.mock.wait_request(0, Duration::ZERO);
    let parts = Value::from(user_parts(&first));
    assert!(
        has_message(&first, "user", "what is in this image?"),
        "{parts}"
    );
    let images = input_images(&first);
    assert_eq!(images.len(), 1, "user message parts: {parts}");
    assert!(
        images[0]["image_url"]
            .as_str()
            .is_some_and(|url| url.starts_with("data:image/png;base64,")),
        "{parts}"
    );
    assert!(!parts.to_string().contains("[image:"), "{parts}");
    // The client's user message keeps the input as sent.
    let user_item = with_method(messages1, "item/completed")
        .into_iter()
        .map(|m| &m["params"]["item"])
        .find(|item| item["type"] == "userMessage")
        .unwrap_or_else(|| panic!("no userMessage; {context1}"));
    assert_eq!(user_item["content"][1]["type"], "localImage", "{user_item}");
    assert_eq!(
        user_item["content"][1]["path"],
        path_str(image),
        "{user_item}"
    );
}

/// Mutation check (`docs/testing.md`): the exactly-once check that every real-CLI turn helper
/// runs catches a server deliberately broken through `AGENT_HOST_FAULT` to send a second
/// `turn/completed`, or an item after it, on a real Codex turn.
#[test]
fn the_real_cli_exactly_once_check_catches_a_second_completion_and_an_item_after_it() {
    for (fault, expected) in [
        ("second-turn-completed", "2 turn/completed"),
        ("item-after-turn-completed", "after its turn/completed"),
    ] {
        let script = vec![Reply::Complete {
            outputs: vec![Output::Message(FINAL.to_owned())],
            usage: (10, 0, 2),
        }];
        let env = BTreeMap::from([("AGENT_HOST_FAULT".to_owned(), fault.to_owned())]);
        let mut host = CodexHost::with_server_env(script, &env);
        let turn = host.start_turn("answer");
        let err = host
            .server
            .check_turn_ended_once(&turn, TURN_TIMEOUT, crate::support::process::QUIET)
            .expect_err(fault);
        assert!(err.contains(expected), "{fault}: {err}");
    }
}

/// A marker line of the reviewed change, to find in the model request.
const REVIEWED_LINE: &str = "review-marker-5c1e";
const REAL_REVIEW: &str = "One finding: the new line is never read.";

#[test]
fn a_real_codex_review_is_given_the_diff_and_its_answer_closes_the_review() {
    let script = vec![Reply::Complete {
        outputs: vec![Output::Message(REAL_REVIEW.to_owned())],
        usage: (80, 0, 12),
    }];
    let mut host = CodexHost::new(script, ProviderSetup::BuiltIn);
    let work = host.sandbox.work_dir();
    git_repo::init(&work);
    git_repo::write(&work, "a.txt", &format!("one\n{REVIEWED_LINE}\n"));
    let params = json!({"threadId": host.thread_id, "target": {"type": "uncommittedChanges"}});
    let response = host.request("review/start", params);
    let turn = response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("review/start failed: {response}"))
        .to_owned();
    let messages = host.until_completed(&turn);

    // What the model was asked carries the diff of the change, as Codex sent it.
    let body = host.mock.wait_request(0, Duration::ZERO);
    let sent = body["input"].to_string();
    assert!(sent.contains(&format!("+{REVIEWED_LINE}")), "{body:#}");
    assert!(sent.contains("`git diff` shows:"), "{body:#}");

    let completed: Vec<&Value> = with_method(&messages, "item/completed");
    let exited = completed
        .iter()
        .find(|m| m["params"]["item"]["type"] == "exitedReviewMode")
        .unwrap_or_else(|| panic!("no exitedReviewMode: {messages:#?}"));
    assert_eq!(exited["params"]["item"]["review"], REAL_REVIEW);
    assert_eq!(
        completed[0]["params"]["item"]["type"], "enteredReviewMode",
        "{messages:#?}"
    );
    let end = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(end["status"], "completed", "{messages:#?}");
    assert_eq!(end["items"][0]["text"], REAL_REVIEW);
    let mut all = vec![response];
    all.extend(messages);
    host.assert_conforms_and_mock_done(&all);
}

#[test]
fn the_turns_sandbox_reaches_codex_exec_as_its_own_flags() {
    let script = vec![Reply::Complete {
        outputs: vec![Output::Message("ok".to_owned())],
        usage: (10, 0, 1),
    }];
    let mut host = CodexHost::of_kind(
        script,
        "exec",
        "codex-exec",
        json!({"sandbox": "read-only"}),
        &BTreeMap::new(),
    );
    let extra_root = host.sandbox.root().join("extra-root");
    std::fs::create_dir_all(&extra_root).unwrap();
    let extra_root = extra_root.display().to_string();
    let turn = host.start_turn_params(json!({
        "input": [{"type": "text", "text": "where may I write?"}],
        "sandboxPolicy": {"type": "workspaceWrite", "writableRoots": [extra_root],
                          "networkAccess": true},
    }));
    let messages = host.until_completed(&turn);
    let argv: Vec<String> =
        serde_json::from_value(host.process_record(&turn)["backend"]["argv"].clone()).unwrap();
    let flags = [
        "--sandbox",
        "workspace-write",
        "--add-dir",
        &extra_root,
        "-c",
        "sandbox_workspace_write.network_access=true",
    ];
    assert!(argv.windows(flags.len()).any(|w| w == flags), "{argv:?}");
    // What Codex ran the turn with, from its own rollout.
    let contexts = crate::real_codex_app_server::turn_contexts(&host);
    assert_eq!(contexts.len(), 1, "{contexts:#?}");
    let sandbox = &contexts[0]["sandbox_policy"];
    assert_eq!(sandbox["type"], "workspace-write", "{sandbox}");
    assert_eq!(sandbox["network_access"], true, "{sandbox}");
    assert!(
        sandbox["writable_roots"]
            .as_array()
            .is_some_and(|roots| roots.contains(&json!(extra_root))),
        "{sandbox}"
    );
    host.mock.wait_request(0, Duration::ZERO);
    host.assert_conforms_and_mock_done(&messages);
}
