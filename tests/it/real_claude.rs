//! The real Claude Code CLI (2.1.330, from `scripts/install-test-deps.sh`) as the backend of
//! agent-host turns, talking to our own mock of the Anthropic Messages API on 127.0.0.1.
//!
//! Each test starts the mock with a script of model replies, configures an agent-host
//! provider of kind `claude` whose command is the installed native binary and whose
//! environment points Claude at the mock (a throwaway `HOME`, `ANTHROPIC_BASE_URL`, a dummy
//! key, `CLAUDE_CODE_SIMPLE=1`, which is what `--bare` sets, no nonessential traffic, no
//! retries), and drives `agent-host app-server` over real pipes. The provider has no `args`:
//! the runner builds the kind's own command line, resume form included. Every wait is bounded;
//! the mock stops after its script or its deadline; every process is checked by pid and start
//! time.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{
    Host, TURN_TIMEOUT, completed_items, path_str, read_item_types, with_method,
};
use crate::support::mock_anthropic::{
    Block, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, MockAnthropic, Reply,
};
use crate::support::procs::{
    Proc, alive, descendants, installed_cli, turn_processes, wait_for_process,
};
use crate::support::{Describe, Sandbox, wait_until};

/// How long the mock serves at most.
pub(crate) const MOCK_LIFETIME: Duration = Duration::from_secs(120);

/// The installed Claude Code binary, `.cache/claude-bin`; a missing one fails the test.
pub(crate) fn claude_bin() -> PathBuf {
    installed_cli("claude-bin", "Claude Code CLI")
}

/// A sandboxed agent-host whose provider runs the real Claude Code against `mock`.
pub(crate) struct ClaudeHost {
    pub(crate) host: Host,
    pub(crate) mock: MockAnthropic,
}

impl Deref for ClaudeHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for ClaudeHost {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

/// How the test's provider is configured.
pub(crate) enum ProviderSetup {
    /// The built-in `claude` provider (its shipped argv) with our command and environment.
    BuiltIn,
    /// A provider of our own, `kind = "claude"` and no `args`: the kind's default argv, with
    /// stream-json input (the kind's default).
    Named(&'static str),
    /// As `Named`, one-shot: `input = "once"` (the prompt as an argument).
    NamedOnce(&'static str),
}

impl ClaudeHost {
    pub(crate) fn new(script: Vec<Reply>, setup: ProviderSetup) -> ClaudeHost {
        ClaudeHost::with_options(script, setup, json!({}), 0)
    }

    /// As `new`, with `extra` merged into the `thread/start` params (e.g. `continueSession`)
    /// and Claude retrying a failed API call `max_retries` times.
    pub(crate) fn with_options(
        script: Vec<Reply>,
        setup: ProviderSetup,
        extra: Value,
        max_retries: u32,
    ) -> ClaudeHost {
        let bin = claude_bin();
        let mock = MockAnthropic::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        // Claude keeps its sessions under $HOME/.claude/projects/<cwd>/: resume needs the same
        // HOME (and cwd) on every turn, so it is the provider's, not the turn's.
        let claude_home = sandbox.root().join("claude-home");
        std::fs::create_dir_all(&claude_home).unwrap();
        // Claude's own scratch files (per-cwd shell state) go into the sandbox, not /tmp.
        let claude_tmp = sandbox.root().join("claude-tmp");
        std::fs::create_dir_all(&claude_tmp).unwrap();
        std::fs::set_permissions(
            &claude_tmp,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let (name, input) = match setup {
            ProviderSetup::BuiltIn => ("claude", ""),
            ProviderSetup::Named(name) => (name, ""),
            ProviderSetup::NamedOnce(name) => (name, "input = \"once\"\n"),
        };
        let config = format!(
            r#"default_provider = "{name}"
[interrupt]
cancel_grace_ms = 5000
term_grace_ms = 1000
[providers.{name}]
kind = "claude"
command = {command:?}
model = "{MODEL}"
{input}[providers.{name}.env]
HOME = {home:?}
CLAUDE_CONFIG_DIR = {config_dir:?}
ANTHROPIC_BASE_URL = {base_url:?}
ANTHROPIC_API_KEY = "mock-key"
CLAUDE_CODE_SIMPLE = "1"
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"
DISABLE_AUTOUPDATER = "1"
CLAUDE_CODE_MAX_RETRIES = "{max_retries}"
CLAUDE_CODE_TMPDIR = {tmp:?}
"#,
            command = path_str(&bin),
            tmp = path_str(&claude_tmp),
            home = path_str(&claude_home),
            config_dir = path_str(&claude_home.join(".claude")),
            base_url = mock.base_url(),
        );
        let config_path = sandbox.root().join("real-claude.toml");
        std::fs::write(&config_path, config).unwrap();
        ClaudeHost {
            host: Host::start(sandbox, &config_path, name, extra),
            mock,
        }
    }

    /// Everything in `messages` conforms to Codex's schema, and the mock was asked no more
    /// than its script answers.
    fn assert_conforms_and_mock_done(&self, messages: &[Value]) {
        self.host.assert_conforms(messages);
        let more = self.mock.drain();
        assert!(more.is_empty(), "the mock got more requests: {more:?}");
    }

    /// Every message up to the turn's `turn/completed` (see [`Host`]); a failure
    /// also shows what the mock saw.
    pub(crate) fn until_completed(&mut self, turn_id: &str) -> Vec<Value> {
        let mock = &self.mock;
        self.host
            .until_completed_or(turn_id, &|| format!("mock: {:?}", mock.drain()))
    }
}

/// The model the provider names; Claude passes it on to the API as it is.
const MODEL: &str = "claude-mock-model";

/// Claude's own session id: the `session_id` of `system/init` in a turn's `backend.stdout`.
fn claude_session_id(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["type"] == "system" && line["subtype"] == "init")
        .and_then(|line| line["session_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no system/init from claude:\n{stdout}"))
}

/// The text of a Messages API content: a string, or its text blocks joined.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The (role, text) of every user and assistant message of a model request, in order.
fn conversation(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in the request: {body}"))
        .iter()
        .filter(|m| m["role"] == "user" || m["role"] == "assistant")
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_owned(),
                content_text(&m["content"]),
            )
        })
        .filter(|(_, text)| !text.is_empty())
        .collect()
}

/// The `tool_result` blocks of a model request.
pub(crate) fn tool_results(body: &Value) -> Vec<&Value> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .collect()
}

const THINKING: &str = "The user wants a command run first.";
const PREAMBLE: &str = "I will run a command first.";
const FINAL: &str = "The command printed its mark; this is the final answer.";
const TOOL_MARK: &str = "tool-output-5c1d";

#[test]
fn a_real_claude_turn_runs_bash_and_completes_with_the_final_message() {
    let command = format!("echo {TOOL_MARK}");
    let script = vec![
        Reply::Message {
            blocks: vec![
                Block::Thinking(THINKING.to_owned()),
                Block::Text(PREAMBLE.to_owned()),
                Block::Bash(command.clone()),
            ],
            usage: (100, 7),
        },
        Reply::Message {
            blocks: vec![Block::Text(FINAL.to_owned())],
            usage: (150, 9),
        },
    ];
    let mut host = ClaudeHost::new(script, ProviderSetup::BuiltIn);
    // A prompt that looks like a flag: the built-in argv puts it after `--`.
    let prompt = "-v: run the command, then answer";
    let turn = host.start_turn(prompt);
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let context = format!(
        "backend.stdout:\n{stdout}\nbackend.stderr:\n{}\nmessages: {messages:#?}",
        host.backend_stderr(&turn)
    );

    assert_asked_with_the_prompt_then_the_tool_output(&host, prompt);
    assert_items_in_the_models_order(&host, &messages, &command, &context);
    assert_usage_of_both_requests(&messages, &turn, &context);
    assert_completed_with_the_final_message(&messages, &context);
    // Final means final: Claude has exited and the runner recorded it.
    let (_, (pid, start), _) = turn_processes(&host.process_record(&turn));
    assert!(!alive(pid, start), "claude still runs at turn/completed");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "completed", "{exit}");

    // Read back: the whole turn, in order.
    let read = host.read_thread();
    assert_eq!(
        read_item_types(&read),
        [
            "userMessage",
            "reasoning",
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
fn assert_asked_with_the_prompt_then_the_tool_output(host: &ClaudeHost, prompt: &str) {
    let first = host.mock.wait_request(0, Duration::ZERO);
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert_eq!(first["model"], MODEL, "{first}");
    assert_eq!(first["stream"], true, "{first}");
    assert_eq!(
        conversation(&first),
        [("user".to_owned(), prompt.to_owned())]
    );
    let results = tool_results(&second);
    assert_eq!(results.len(), 1, "{second}");
    assert_eq!(results[0]["tool_use_id"], "toolu_mock_0_2", "{second}");
    assert_eq!(results[0]["is_error"], false, "{second}");
    assert_eq!(content_text(&results[0]["content"]), TOOL_MARK, "{second}");
}

/// The client saw the thinking, both messages and the command, in the model's order, and
/// every item that started also completed, in the same order.
fn assert_items_in_the_models_order(
    host: &ClaudeHost,
    messages: &[Value],
    command: &str,
    context: &str,
) {
    let items: Vec<&Value> = completed_items(messages)
        .into_iter()
        .filter(|i| i["type"] != "userMessage")
        .collect();
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "reasoning",
            "agentMessage",
            "commandExecution",
            "agentMessage"
        ],
        "{context}"
    );
    assert_eq!(items[0]["summary"], json!([THINKING]), "{context}");
    assert_eq!(items[1]["text"], PREAMBLE, "{context}");
    assert_eq!(items[3]["text"], FINAL, "{context}");
    let command_item = items[2];
    assert_eq!(command_item["command"], command, "{command_item}");
    assert_eq!(command_item["status"], "completed", "{command_item}");
    assert_eq!(command_item["exitCode"], 0, "{command_item}");
    assert_eq!(
        command_item["cwd"],
        path_str(&host.sandbox.work_dir()),
        "{command_item}"
    );
    assert!(
        command_item["aggregatedOutput"]
            .as_str()
            .is_some_and(|o| o.contains(TOOL_MARK)),
        "{command_item}"
    );
    let ids = |method: &str| -> Vec<Value> {
        with_method(messages, method)
            .iter()
            .map(|m| m["params"]["item"]["id"].clone())
            .collect()
    };
    assert_eq!(ids("item/started"), ids("item/completed"), "{context}");
}

/// The turn's last usage counts both model requests, the cached prompt tokens included, and
/// names the model's context window; a good turn has no error notification.
fn assert_usage_of_both_requests(messages: &[Value], turn: &str, context: &str) {
    let usage = with_method(messages, "thread/tokenUsage/updated");
    let usage = usage
        .last()
        .unwrap_or_else(|| panic!("no thread/tokenUsage/updated; {context}"));
    // Anthropic counts cache reads and writes apart from `input_tokens`; Codex's
    // `inputTokens` holds every prompt token, the cached ones included.
    let total = &usage["params"]["tokenUsage"]["total"];
    let cached = 2 * CACHE_READ_TOKENS;
    let input = 250 + cached + 2 * CACHE_WRITE_TOKENS;
    assert_eq!(total["inputTokens"], input, "{usage}");
    assert_eq!(total["cachedInputTokens"], cached, "{usage}");
    assert_eq!(total["outputTokens"], 16, "{usage}");
    assert_eq!(total["totalTokens"], input + 16, "{usage}");
    // The model's context window, from Claude's `modelUsage`.
    let window = &usage["params"]["tokenUsage"]["modelContextWindow"];
    assert!(window.as_u64().is_some_and(|w| w > 0), "{usage}");
    assert_eq!(usage["params"]["turnId"], turn);
    assert!(
        with_method(messages, "error").is_empty(),
        "an error notification in a good turn; {context}"
    );
}

/// turn/completed: completed, and its one item is the FINAL message.
fn assert_completed_with_the_final_message(messages: &[Value], context: &str) {
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(completed["items"][0]["type"], "agentMessage");
    assert_eq!(completed["items"][0]["text"], FINAL, "{context}");
}

/// The types of the items of the first turn of a `thread/read` response.

#[test]
fn interrupting_a_real_claude_turn_during_a_long_bash_command_leaves_no_process() {
    // Stream-json input: the interrupt is Claude's own `control_request`, then EOF.
    let stdout = interrupt_during_a_long_bash_command(ProviderSetup::Named("mock-claude"));
    assert!(
        stdout.contains(r#""type":"control_response""#),
        "claude did not answer the interrupt request:\n{stdout}"
    );
}

#[test]
fn interrupting_a_one_shot_real_claude_turn_during_a_long_bash_command_leaves_no_process() {
    // One-shot: the interrupt is SIGINT.
    let stdout = interrupt_during_a_long_bash_command(ProviderSetup::NamedOnce("once-claude"));
    assert!(!stdout.contains("control_response"), "{stdout}");
}

/// Interrupts a turn whose one model reply runs a command for ten minutes; checks that the
/// turn ends `interrupted` with nothing of it left; returns Claude's stdout.
fn interrupt_during_a_long_bash_command(setup: ProviderSetup) -> String {
    // One reply: a command that runs for ten minutes. Claude waits for it; nothing else is
    // asked of the model.
    let script = vec![Reply::Message {
        blocks: vec![
            Block::Text("Starting a long job.".to_owned()),
            Block::Bash("sleep 600".to_owned()),
        ],
        usage: (10, 5),
    }];
    let mut host = ClaudeHost::new(script, setup);
    let turn = host.start_turn("start the long job");
    host.mock.wait_request(0, TURN_TIMEOUT);

    // Claude runs the command in a session of its own, under the runner.
    let record = host.process_record(&turn);
    let ((runner, runner_start), (backend_pid, backend_start), backend_pgid) =
        turn_processes(&record);
    assert!(alive(backend_pid, backend_start));
    let before = wait_for_process(runner, &[backend_pgid], "sleep");
    assert!(
        before.iter().any(|p| p.pid == backend_pid),
        "claude is not under its runner: {before:#?}"
    );
    let sleep = before.iter().find(|p| p.comm == "sleep").unwrap();
    assert_ne!(
        sleep.sid, backend_pgid,
        "the tool runs in claude's own session: {before:#?}"
    );

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "interrupted", "{context}");
    assert_eq!(completed["items"], json!([]));
    assert_eq!(completed["error"], Value::Null, "{context}");
    assert!(
        with_method(&messages, "error").is_empty(),
        "an interrupt is not an error: {context}"
    );
    let items = completed_items(&messages);
    assert!(
        items.iter().any(|i| i["text"] == "Starting a long job."),
        "{context}"
    );
    // The command's item ends too, and not as a success.
    let command_item = items
        .iter()
        .find(|i| i["type"] == "commandExecution")
        .unwrap_or_else(|| panic!("the command never completed: {context}"));
    assert_eq!(command_item["command"], "sleep 600", "{command_item}");
    assert_ne!(command_item["status"], "completed", "{command_item}");
    assert_ne!(command_item["exitCode"], 0, "{command_item}");

    // At turn/completed, every process of the turn is gone: Claude, the shell, the sleep.
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "interrupted", "{exit}");
    // The runner itself ends too; then nothing runs in the backend's session either.
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    let stragglers = descendants(runner, &[backend_pgid, sleep.sid]);
    assert!(stragglers.is_empty(), "left behind: {stragglers:#?}");
    assert!(
        host.mock.drain().is_empty(),
        "claude asked the model again after the interrupt"
    );
    host.assert_conforms(&messages);
    host.backend_stdout(&turn)
}

#[test]
fn an_upstream_http_500_fails_the_real_claude_turn_with_a_readable_error() {
    let script = vec![Reply::HttpError {
        status: 500,
        message: "mock upstream exploded".to_owned(),
    }];
    let mut host = ClaudeHost::new(script, ProviderSetup::Named("mock-claude"));
    let turn = host.start_turn("hello");
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let context = format!("{messages:#?}\nbackend.stdout:\n{stdout}");
    host.mock.wait_request(0, Duration::ZERO);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "failed", "{context}");
    assert_eq!(completed["items"], json!([]), "{context}");
    // The message is Claude's own wording of the API error, with the status and the body's
    // message in it.
    let message = completed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("500") && message.contains("mock upstream exploded"),
        "not a readable error: {completed}\n{context}"
    );
    // Claude wrote the error as an assistant message too; it is not the agent's answer.
    assert!(
        completed_items(&messages)
            .iter()
            .all(|i| i["type"] != "agentMessage"),
        "the API error became an agent message: {context}"
    );
    let errors = with_method(&messages, "error");
    assert_eq!(errors.len(), 1, "{context}");
    assert_eq!(errors[0]["params"]["willRetry"], false);
    assert_eq!(errors[0]["params"]["error"], completed["error"]);
    assert_eq!(
        messages[messages.len() - 3]["params"]["status"]["type"],
        "systemError",
        "{context}"
    );
    // Claude exited 1 and wrote `result` with `is_error`; the runner recorded a failure.
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "failed", "{exit}");
    // No retry (CLAUDE_CODE_MAX_RETRIES=0): one request, and nothing more.
    assert!(host.mock.drain().is_empty(), "Claude retried");
    let read = host.read_thread();
    let items = &read["result"]["thread"]["turns"][0]["items"];
    assert_eq!(
        items.as_array().map(Vec::len),
        Some(1),
        "only the user's message: {read}"
    );
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms(&all);
}

#[test]
fn a_retried_upstream_error_is_a_retry_notice_and_the_real_claude_turn_completes() {
    let script = vec![
        Reply::HttpError {
            status: 500,
            message: "mock upstream hiccup".to_owned(),
        },
        Reply::Message {
            blocks: vec![Block::Text("Recovered.".to_owned())],
            usage: (10, 2),
        },
    ];
    let mut host =
        ClaudeHost::with_options(script, ProviderSetup::Named("mock-claude"), json!({}), 1);
    let (_, messages) = host.completed_turn("hello");
    let first = host.mock.wait_request(0, Duration::ZERO);
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert_eq!(
        first["messages"], second["messages"],
        "not the same request"
    );
    // One retry notice, as Codex words its own, then the answer.
    let errors = with_method(&messages, "error");
    assert_eq!(errors.len(), 1, "{messages:#?}");
    assert_eq!(errors[0]["params"]["willRetry"], true);
    assert_eq!(
        errors[0]["params"]["error"]["message"],
        "Reconnecting... 1/1 (HTTP 500 server_error)"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["items"][0]["text"], "Recovered.", "{completed}");
    assert_eq!(completed["error"], Value::Null, "{completed}");
    host.assert_conforms(&messages);
}

#[test]
fn a_bash_command_claude_does_not_permit_is_a_declined_command() {
    // Claude's permission mode for a read-only sandbox that never asks (`dontAsk`) runs a
    // read-only command such as `echo` but refuses a compound command that writes.
    let command = "touch made-by-tool && sh -c 'echo ok'";
    let script = vec![
        Reply::Message {
            blocks: vec![Block::Bash(command.to_owned())],
            usage: (10, 2),
        },
        Reply::Message {
            blocks: vec![Block::Text("I was not allowed to run it.".to_owned())],
            usage: (20, 3),
        },
    ];
    // `never`: nobody is asked (`--permission-mode dontAsk`).
    let mut host = ClaudeHost::with_options(
        script,
        ProviderSetup::Named("mock-claude"),
        json!({"approvalPolicy": "never"}),
        0,
    );
    let (turn, messages) = host.completed_turn("make a file");
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    host.mock.wait_request(0, Duration::ZERO);
    let second = host.mock.wait_request(1, Duration::ZERO);
    let results = tool_results(&second);
    assert_eq!(results.len(), 1, "{second}");
    assert_eq!(results[0]["is_error"], true, "{second}");
    let items = completed_items(&messages);
    let command_item = items
        .iter()
        .find(|i| i["type"] == "commandExecution")
        .unwrap_or_else(|| panic!("no command item: {context}"));
    assert_eq!(command_item["command"], command, "{command_item}");
    assert_eq!(command_item["status"], "declined", "{command_item}");
    assert_eq!(command_item["exitCode"], Value::Null, "{command_item}");
    assert!(
        !host.sandbox.work_dir().join("made-by-tool").exists(),
        "the refused command ran"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(
        completed["items"][0]["text"], "I was not allowed to run it.",
        "{context}"
    );
    host.assert_conforms(&messages);
}

const KIWI_PROMPT: &str = "remember the word kiwi";
const KIWI_REPLY: &str = "Noted: kiwi.";
const QUESTION: &str = "what was the word?";

fn kiwi_script() -> Vec<Reply> {
    vec![
        Reply::Message {
            blocks: vec![Block::Text(KIWI_REPLY.to_owned())],
            usage: (40, 4),
        },
        Reply::Message {
            blocks: vec![Block::Text("The word was kiwi.".to_owned())],
            usage: (60, 5),
        },
    ]
}

#[test]
fn a_continued_thread_resumes_the_real_claude_session_on_the_next_turn() {
    let mut host = ClaudeHost::with_options(
        kiwi_script(),
        ProviderSetup::Named("mock-claude"),
        json!({"continueSession": true}),
        0,
    );
    let (turn1, messages1) = host.completed_turn(KIWI_PROMPT);
    let first = host.mock.wait_request(0, Duration::ZERO);
    assert_eq!(
        conversation(&first),
        [("user".to_owned(), KIWI_PROMPT.to_owned())]
    );

    // Turn 1 started a fresh Claude session; the thread record keeps its id.
    let session = claude_session_id(&host.backend_stdout(&turn1));
    let spec1 = host.turn_spec(&turn1);
    assert_eq!(spec1["resumeSessionId"], Value::Null, "{spec1}");
    let record = host.thread_record();
    assert_eq!(record["continueSession"], true, "{record}");
    assert_eq!(record["backendSessionId"], session, "{record}");

    // Turn 2 resumes it: the runner was told the id, and Claude sent the whole conversation.
    let (turn2, messages2) = host.completed_turn(QUESTION);
    let spec2 = host.turn_spec(&turn2);
    assert_eq!(spec2["resumeSessionId"], session, "{spec2}");
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert_eq!(
        conversation(&second),
        [
            ("user".to_owned(), KIWI_PROMPT.to_owned()),
            ("assistant".to_owned(), KIWI_REPLY.to_owned()),
            ("user".to_owned(), QUESTION.to_owned()),
        ],
        "{second}"
    );
    // The same Claude session, still recorded.
    let stdout2 = host.backend_stdout(&turn2);
    assert_eq!(claude_session_id(&stdout2), session, "{stdout2}");
    let record = host.thread_record();
    assert_eq!(record["backendSessionId"], session, "{record}");

    let mut all = messages1;
    all.extend(messages2);
    host.assert_conforms_and_mock_done(&all);
}

#[test]
fn without_continue_session_each_real_claude_turn_starts_a_fresh_session() {
    let mut host = ClaudeHost::new(kiwi_script(), ProviderSetup::Named("mock-claude"));
    let (turn1, _) = host.completed_turn(KIWI_PROMPT);
    host.mock.wait_request(0, Duration::ZERO);
    let (turn2, _) = host.completed_turn(QUESTION);
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert_eq!(
        conversation(&second),
        [("user".to_owned(), QUESTION.to_owned())],
        "a fresh session carries turn 1's conversation: {second}"
    );
    assert_eq!(host.turn_spec(&turn2)["resumeSessionId"], Value::Null);
    let record = host.thread_record();
    assert_eq!(record["continueSession"], false, "{record}");
    assert_eq!(record["backendSessionId"], Value::Null, "{record}");
    assert_ne!(
        claude_session_id(&host.backend_stdout(&turn1)),
        claude_session_id(&host.backend_stdout(&turn2))
    );
}

/// Makes a FIFO at `path`: a `cat` of it is a Bash command that runs until the test writes.
fn make_fifo(path: &std::path::Path) {
    let c_path = std::ffi::CString::new(path_str(path)).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo does not keep it.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// Lets a `cat FIFO` command finish: waits (bounded) until the command has the FIFO open,
/// then writes to it.
fn release_fifo(path: &std::path::Path) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // Without a reader, a non-blocking open for writing fails (ENXIO) instead of waiting.
    let mut fifo = wait_until(
        TURN_TIMEOUT,
        format!("a reader of {}", path.display()),
        || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
                .ok()
        },
    );
    fifo.write_all(b"released\n").unwrap();
}

/// The number of lines of Claude's stdout with this `command_lifecycle` state.
fn lifecycle_count(stdout: &str, state: &str) -> usize {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["type"] == "command_lifecycle" && line["state"] == state)
        .count()
}

#[test]
fn a_stream_json_turn_completes_with_the_final_answer_after_claude_exited() {
    let script = vec![Reply::Message {
        blocks: vec![Block::Text("Streamed answer.".to_owned())],
        usage: (12, 3),
    }];
    let mut host = ClaudeHost::new(script, ProviderSetup::BuiltIn);
    let turn = host.start_turn("answer through stream-json input");
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let context = format!("{messages:#?}\nbackend.stdout:\n{stdout}");

    // The built-in provider takes stream-json input: no prompt in the argv, the prompt as
    // the first user message on stdin, which Claude echoed.
    let spec = host.turn_spec(&turn);
    assert_eq!(spec["provider"]["input"], "streamJson", "{spec}");
    let request = host.mock.wait_request(0, Duration::ZERO);
    assert_eq!(
        conversation(&request),
        [(
            "user".to_owned(),
            "answer through stream-json input".to_owned()
        )]
    );
    assert!(stdout.contains(r#""isReplay":true"#), "{context}");

    // Final means final: one turn/completed, last, with the answer; by then Claude has
    // exited (stdin closed after its result) and the exit record exists.
    let completions = with_method(&messages, "turn/completed");
    assert_eq!(completions.len(), 1, "{context}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(
        completed["items"][0]["text"], "Streamed answer.",
        "{context}"
    );
    let record = host.process_record(&turn);
    let (_, (backend_pid, backend_start), _) = turn_processes(&record);
    assert!(!alive(backend_pid, backend_start), "claude still runs");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "completed", "{exit}");
    assert_eq!(exit["exitCode"], 0, "{exit}");
    host.assert_conforms(&messages);
    assert!(host.mock.drain().is_empty(), "more than one model request");
}

/// A turn whose one model reply runs `cat release.fifo`, a Bash command that runs until the
/// test releases it; `answer` is the reply to the request after it. The FIFO is in the
/// thread's cwd, where Claude may read without asking.
fn turn_blocked_in_bash(
    setup: ProviderSetup,
    answer: &str,
) -> (ClaudeHost, std::path::PathBuf, String) {
    let script = vec![
        Reply::Message {
            blocks: vec![Block::Bash("cat release.fifo".to_owned())],
            usage: (10, 5),
        },
        Reply::Message {
            blocks: vec![Block::Text(answer.to_owned())],
            usage: (20, 6),
        },
    ];
    let mut host = ClaudeHost::new(script, setup);
    let fifo = host.sandbox.work_dir().join("release.fifo");
    make_fifo(&fifo);
    let turn = host.start_turn("run the blocking command");
    let turn_id = turn.clone();
    host.until_message("the command's item/started", |m| {
        m["method"] == "item/started"
            && m["params"]["turnId"] == turn_id
            && m["params"]["item"]["type"] == "commandExecution"
    });
    (host, fifo, turn)
}

#[test]
fn a_steer_during_a_long_bash_command_reaches_claude_and_the_turn_ends_once_with_its_answer() {
    let steer_text = "Also mention the steering kiwi.";
    let answer = "Done, and the steering kiwi is mentioned.";
    let (mut host, fifo, turn) = turn_blocked_in_bash(ProviderSetup::Named("mock-claude"), answer);

    let params = json!({"threadId": host.thread_id, "expectedTurnId": turn,
        "input": [{"type": "text", "text": steer_text, "text_elements": []}]});
    let response = host.request("turn/steer", params);
    assert_eq!(response["result"], json!({"turnId": turn}), "{response}");

    // Claude has read the message (it reports it queued) before the command may end.
    wait_until(
        TURN_TIMEOUT,
        Describe(|| {
            format!(
                "claude to queue the steered message:\n{}",
                host.backend_stdout(&turn)
            )
        }),
        || (lifecycle_count(&host.backend_stdout(&turn), "queued") >= 2).then_some(()),
    );
    release_fifo(&fifo);
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let context = format!("{messages:#?}\nbackend.stdout:\n{stdout}");

    // The model got the steered text in the request after the command's result.
    let first = host.mock.wait_request(0, Duration::ZERO);
    assert!(!first.to_string().contains(steer_text), "{first}");
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(second.to_string().contains(steer_text), "{second}");
    assert!(host.mock.drain().is_empty(), "more than two model requests");

    assert_steered_item_after_the_response(
        &host, &messages, &response, &turn, steer_text, &context,
    );

    // One turn/completed, last, with the answer to the steered message; Claude had exited.
    let completions = with_method(&messages, "turn/completed");
    assert_eq!(completions.len(), 1, "{context}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(messages.last().unwrap()["method"], "turn/completed");
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], answer, "{context}");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "completed", "{exit}");
    let record = host.process_record(&turn);
    let (_, (backend_pid, backend_start), _) = turn_processes(&record);
    assert!(!alive(backend_pid, backend_start), "claude still runs");

    // Read back in the order the items completed: the prompt, the steered message (taken
    // while the command ran), the command, the answer.
    let read = host.read_thread();
    assert_eq!(
        read_item_types(&read),
        [
            "userMessage",
            "userMessage",
            "commandExecution",
            "agentMessage"
        ],
        "{read}"
    );
    let items = &read["result"]["thread"]["turns"][0]["items"];
    assert_eq!(items[1]["content"][0]["text"], steer_text, "{read}");
    let mut all = messages.clone();
    all.push(response);
    all.push(read);
    host.assert_conforms(&all);
}

/// The steered input is a userMessage item of the turn (started and completed), as Codex
/// shows it, and comes after the steer's response on the wire.
fn assert_steered_item_after_the_response(
    host: &ClaudeHost,
    messages: &[Value],
    response: &Value,
    turn: &str,
    steer_text: &str,
    context: &str,
) {
    // Order on the wire, where every message is kept (the response itself was consumed by
    // the request).
    let wire = host.server.wire();
    let response_at = wire
        .iter()
        .position(|r| r.msg["id"] == response["id"] && r.msg.get("method").is_none())
        .unwrap_or_else(|| panic!("the steer's response is not on the wire: {context}"));
    let steered_at = wire
        .iter()
        .position(|r| {
            r.msg["method"] == "item/started"
                && r.msg["params"]["item"]["content"][0]["text"] == steer_text
        })
        .unwrap_or_else(|| panic!("no steered item on the wire: {context}"));
    let steered: Vec<&Value> = messages
        .iter()
        .filter(|m| {
            m["params"]["item"]["type"] == "userMessage"
                && m["params"]["item"]["content"][0]["text"] == steer_text
        })
        .collect();
    assert_eq!(
        steered.len(),
        2,
        "item/started and item/completed: {context}"
    );
    assert_eq!(steered[0]["method"], "item/started", "{context}");
    assert_eq!(steered[1]["method"], "item/completed", "{context}");
    assert_eq!(steered[0]["params"]["turnId"], turn);
    assert!(
        steered_at > response_at,
        "the item came before the response: {context}"
    );
}
#[test]
fn a_steer_of_a_one_shot_claude_turn_gets_the_clear_error_and_the_turn_goes_on() {
    let answer = "Finished without steering.";
    let (mut host, fifo, turn) =
        turn_blocked_in_bash(ProviderSetup::NamedOnce("once-claude"), answer);
    let params = json!({"threadId": host.thread_id, "expectedTurnId": turn,
        "input": [{"type": "text", "text": "more", "text_elements": []}]});
    let response = host.request("turn/steer", params);
    assert_eq!(response["error"]["code"], -32600, "{response}");
    let message = response["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not accept input during a turn") && message.contains(&turn),
        "{response}"
    );
    release_fifo(&fifo);
    let messages = host.until_completed(&turn);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{messages:#?}");
    assert_eq!(completed["items"][0]["text"], answer);
    assert!(
        !messages
            .iter()
            .any(|m| m["params"]["item"]["type"] == "userMessage"
                && m["params"]["item"]["content"][0]["text"] == "more"),
        "a refused steer shows no item"
    );
    host.assert_conforms(&messages);
}

#[test]
fn a_turn_start_during_a_running_stream_json_turn_joins_it_like_codex() {
    let joined_text = "And add the joining kiwi.";
    let answer = "Done, with the joining kiwi.";
    let (mut host, fifo, turn) = turn_blocked_in_bash(ProviderSetup::Named("mock-claude"), answer);

    // Like Codex: the running turn is the answer, and the input joins it.
    let params = json!({"threadId": host.thread_id,
        "input": [{"type": "text", "text": joined_text, "text_elements": []}]});
    let response = host.request("turn/start", params);
    assert_eq!(
        response["result"]["turn"]["id"],
        turn.as_str(),
        "{response}"
    );
    assert_eq!(
        response["result"]["turn"]["status"], "inProgress",
        "{response}"
    );

    wait_until(
        TURN_TIMEOUT,
        Describe(|| {
            format!(
                "claude to queue the joined message:\n{}",
                host.backend_stdout(&turn)
            )
        }),
        || (lifecycle_count(&host.backend_stdout(&turn), "queued") >= 2).then_some(()),
    );
    release_fifo(&fifo);
    let messages = host.until_completed(&turn);
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(second.to_string().contains(joined_text), "{second}");
    assert!(host.mock.drain().is_empty(), "more than two model requests");
    // No second turn: the one turn/started is the running turn's, and one turn/completed,
    // last, with the answer.
    let started = with_method(&messages, "turn/started");
    assert_eq!(started.len(), 1, "{context}");
    assert_eq!(
        started[0]["params"]["turn"]["id"],
        turn.as_str(),
        "{context}"
    );
    let completions = with_method(&messages, "turn/completed");
    assert_eq!(completions.len(), 1, "{context}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], answer, "{context}");
    assert!(
        messages.iter().any(|m| m["method"] == "item/completed"
            && m["params"]["item"]["type"] == "userMessage"
            && m["params"]["item"]["content"][0]["text"] == joined_text),
        "{context}"
    );
    let mut all = messages.clone();
    all.push(response);
    host.assert_conforms(&all);
}

/// The recorded Claude Code session (`fixtures/claude-sessions/`): "remember the word kiwi"
/// answered "Noted: kiwi.", then "run echo hello-from-claude" answered around a Bash call.
const RECORDED_SESSION: &str = "41d68c6d-9f41-43bb-800c-37bf90366278";

/// The directory name Claude Code gives a project under `projects/`: the cwd with every
/// character but ASCII letters and digits made `-` (what the recording was written under).
fn project_dir_name(cwd: &std::path::Path) -> String {
    path_str(cwd)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Puts the recorded session where this host's Claude keeps its sessions, in the project
/// of the sandbox's work dir (the recording's `<work_dir>`); returns the transcript's path.
fn place_recorded_session(host: &ClaudeHost) -> PathBuf {
    let recorded = crate::support::paths::repo_root()
        .join("fixtures/claude-sessions")
        .join(format!("{RECORDED_SESSION}.jsonl"));
    let text = std::fs::read_to_string(&recorded).unwrap();
    let work = host.sandbox.work_dir();
    let project = host
        .sandbox
        .root()
        .join("claude-home/.claude/projects")
        .join(project_dir_name(&work));
    std::fs::create_dir_all(&project).unwrap();
    let path = project.join(format!("{RECORDED_SESSION}.jsonl"));
    std::fs::write(&path, text.replace("<work_dir>", &path_str(&work))).unwrap();
    path
}

/// Imports the recorded session through `externalAgentConfig/import` and makes the new
/// thread the host's; returns the import's response (its notifications stay pending).
fn import_recorded_session(host: &mut ClaudeHost) -> Value {
    let transcript = place_recorded_session(host);
    let session = json!({"path": path_str(&transcript), "cwd": path_str(&host.sandbox.work_dir())});
    let response = host.request(
        "externalAgentConfig/import",
        json!({"migrationItems": [{"itemType": "SESSIONS", "description": "one session",
            "details": {"sessions": [session]}}]}),
    );
    let import_id = response["result"]["importId"].clone();
    let completed = host.until_message("import/completed", |m| {
        m["method"] == "externalAgentConfig/import/completed"
    });
    assert_eq!(completed["params"]["importId"], import_id, "{completed}");
    let result = &completed["params"]["itemTypeResults"][0];
    assert_eq!(result["failures"], json!([]), "{completed}");
    let thread = result["successes"][0]["target"]
        .as_str()
        .unwrap()
        .to_owned();
    host.thread_id = thread;
    response
}

#[test]
fn an_imported_claude_session_is_resumed_by_the_next_turn_of_its_thread() {
    let answer = "The word was kiwi.";
    let script = vec![Reply::Message {
        blocks: vec![Block::Text(answer.to_owned())],
        usage: (70, 5),
    }];
    let mut host = ClaudeHost::new(script, ProviderSetup::Named("mock-claude"));
    let response = import_recorded_session(&mut host);

    // The thread continues that Claude session, on the provider, in the session's cwd.
    let record = host.thread_record();
    assert_eq!(record["backendSessionId"], RECORDED_SESSION, "{record}");
    assert_eq!(record["continueSession"], true, "{record}");
    assert_eq!(record["modelProvider"], "mock-claude", "{record}");
    assert_eq!(
        record["cwd"],
        path_str(&host.sandbox.work_dir()),
        "{record}"
    );
    // Its history is the transcript's conversation.
    let read = host.read_thread();
    assert_eq!(
        read_messages(&read["result"]["thread"]["turns"]),
        [
            vec!["user: remember the word kiwi", "agent: Noted: kiwi."],
            vec![
                "user: run echo hello-from-claude",
                "agent: Running it.",
                "agent: It printed hello-from-claude."
            ],
        ],
        "{read}"
    );

    // As with Codex, a client resumes the imported thread, then starts a turn. That turn
    // resumes the Claude session: Claude sends the whole earlier conversation.
    let thread_id = host.thread_id.clone();
    let resumed = host.request("thread/resume", json!({"threadId": thread_id}));
    assert_eq!(
        resumed["result"]["thread"]["turns"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let (turn, messages) = host.completed_turn(QUESTION);
    let request = host.mock.wait_request(0, Duration::ZERO);
    assert_eq!(
        conversation(&request),
        [
            ("user".to_owned(), KIWI_PROMPT.to_owned()),
            ("assistant".to_owned(), KIWI_REPLY.to_owned()),
            ("user".to_owned(), "run echo hello-from-claude".to_owned()),
            ("assistant".to_owned(), "Running it.".to_owned()),
            (
                "assistant".to_owned(),
                "It printed hello-from-claude.".to_owned()
            ),
            ("user".to_owned(), QUESTION.to_owned()),
        ],
        "{request}"
    );
    let spec = host.turn_spec(&turn);
    assert_eq!(spec["resumeSessionId"], RECORDED_SESSION, "{spec}");
    assert_eq!(
        claude_session_id(&host.backend_stdout(&turn)),
        RECORDED_SESSION
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["items"][0]["text"], answer, "{completed}");
    // The thread shows the imported turns, then the new one.
    let read = host.read_thread();
    let turns = &read["result"]["thread"]["turns"];
    assert_eq!(turns.as_array().map(Vec::len), Some(3), "{read}");
    assert_eq!(turns[2]["id"], turn.as_str(), "{read}");
    let mut all = vec![response, resumed, read];
    all.extend(messages);
    host.assert_conforms_and_mock_done(&all);
}

/// Each turn's messages as `user: …` / `agent: …` lines.
fn read_messages(turns: &Value) -> Vec<Vec<String>> {
    turns
        .as_array()
        .unwrap_or_else(|| panic!("no turns: {turns}"))
        .iter()
        .map(|turn| {
            turn["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| match item["type"].as_str() {
                    Some("userMessage") => format!("user: {}", item["content"][0]["text"]),
                    Some("agentMessage") => format!("agent: {}", item["text"]),
                    other => format!("{other:?}"),
                })
                .map(|line| line.replace('"', ""))
                .collect()
        })
        .collect()
}
