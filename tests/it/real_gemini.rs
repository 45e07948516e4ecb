//! The real Gemini CLI (0.61.0, from `scripts/install-test-deps.sh`) as the backend of
//! agent-host turns, talking to our own mock of the Gemini API on 127.0.0.1.
//!
//! Each test starts the mock with a script of model replies, configures an agent-host
//! provider of kind `gemini` whose command is the installed `bundle/gemini.js` (run by `node`
//! through its shebang) and whose environment points Gemini at the mock: a throwaway `HOME`
//! whose `.gemini/settings.json` selects the `gemini-api-key` auth type (with
//! `GOOGLE_GEMINI_BASE_URL` set, Gemini would otherwise pick the `gateway` auth type, which
//! headless mode refuses) and turns off telemetry and update checks, a dummy
//! `GEMINI_API_KEY`, `GOOGLE_GEMINI_BASE_URL`, and `GEMINI_CLI_TRUST_WORKSPACE=true` (headless
//! Gemini exits 55 in a folder the user has not trusted). The kind sets
//! `GEMINI_CLI_NO_RELAUNCH=true` itself. The provider has no `args`: the runner builds the
//! kind's own command line. Every wait is bounded; the mock stops after its script or its
//! deadline; every process is checked by pid and start time.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT, completed_items, path_str, with_method};
use crate::support::mock_gemini::{MockGemini, Reply};
use crate::support::procs::{
    Proc, alive, descendants, installed_cli, turn_processes, wait_for_process,
};
use crate::support::{Sandbox, wait_until};

/// How long the mock serves at most.
pub(crate) const MOCK_LIFETIME: Duration = Duration::from_secs(120);

/// The model the provider names (`-m`); Gemini puts it in the request path.
const MODEL: &str = "gemini-mock-model";

/// The installed Gemini CLI, `.cache/gemini-bin`; a missing one fails the test.
pub(crate) fn gemini_bin() -> PathBuf {
    installed_cli("gemini-bin", "Gemini CLI")
}

/// A sandboxed agent-host whose provider runs the real Gemini CLI against `mock`.
pub(crate) struct GeminiHost {
    pub(crate) host: Host,
    pub(crate) mock: MockGemini,
}

impl Deref for GeminiHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for GeminiHost {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

impl GeminiHost {
    /// `extra` is merged into the `thread/start` params.
    pub(crate) fn new(script: Vec<Reply>, extra: Value) -> GeminiHost {
        let bin = gemini_bin();
        let mock = MockGemini::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let home = sandbox.root().join("gemini-home");
        // Gemini writes its client error reports under the temporary directory: the sandbox's.
        let tmp = sandbox.root().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::create_dir_all(home.join(".gemini")).unwrap();
        let settings = json!({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": true, "disableUpdateNag": true},
            "privacy": {"usageStatisticsEnabled": false},
            "telemetry": {"enabled": false},
        });
        std::fs::write(home.join(".gemini/settings.json"), settings.to_string()).unwrap();
        let config = format!(
            r#"default_provider = "mock-gemini"
[interrupt]
cancel_grace_ms = 1000
term_grace_ms = 1000
[providers.mock-gemini]
kind = "gemini"
command = {command:?}
model = "{MODEL}"
[providers.mock-gemini.env]
HOME = {home:?}
GEMINI_API_KEY = "mock-key"
GOOGLE_GEMINI_BASE_URL = {base_url:?}
GEMINI_CLI_TRUST_WORKSPACE = "true"
TMPDIR = {tmp:?}
"#,
            command = path_str(&bin),
            home = path_str(&home),
            tmp = path_str(&tmp),
            base_url = mock.base_url(),
        );
        let config_path = sandbox.root().join("real-gemini.toml");
        std::fs::write(&config_path, config).unwrap();
        GeminiHost {
            host: Host::start(sandbox, &config_path, "mock-gemini", extra),
            mock,
        }
    }

    /// Every message up to the turn's `turn/completed`; a failure also shows what the mock
    /// saw and Gemini's stderr.
    pub(crate) fn until_completed(&mut self, turn_id: &str) -> Vec<Value> {
        let mock = &self.mock;
        let turn_dir = self.host.turn_dir(turn_id);
        self.host.until_completed_or(turn_id, &|| {
            format!(
                "mock: {:?}\nbackend.stderr:\n{}",
                mock.drain(),
                std::fs::read_to_string(turn_dir.join("backend.stderr")).unwrap_or_default()
            )
        })
    }
}

/// The texts of the user turns of a model request (`contents[].role == "user"`).
fn user_texts(body: &Value) -> Vec<String> {
    body["contents"]
        .as_array()
        .unwrap_or_else(|| panic!("no contents in the request: {body}"))
        .iter()
        .filter(|c| c["role"] == "user")
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

/// The `functionResponse` parts of a model request.
fn function_responses(body: &Value) -> Vec<Value> {
    body["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.get("functionResponse").cloned())
        .collect()
}

const ANSWER: &str = "Hello from the mock Gemini model.";

#[test]
fn a_real_gemini_text_turn_completes_with_the_final_message_after_gemini_exited() {
    let script = vec![Reply::Model {
        text: ANSWER.to_owned(),
        shell: None,
        usage: (40, 8),
    }];
    let mut host = GeminiHost::new(script, json!({}));
    // A prompt that looks like a flag: the kind's argv gives it as `--prompt=…`.
    let prompt = "-v: say hello";
    let turn = host.start_turn(prompt);
    let messages = host.until_completed(&turn);
    let context = format!(
        "backend.stdout:\n{}\nbackend.stderr:\n{}\nmessages: {messages:#?}",
        host.backend_stdout(&turn),
        host.backend_stderr(&turn)
    );
    let (path, body) = host.mock.wait_request_with_path(0, Duration::ZERO);
    assert_eq!(
        path,
        format!("/v1beta/models/{MODEL}:streamGenerateContent")
    );
    assert!(
        user_texts(&body).iter().any(|t| t == prompt),
        "the prompt is not in the request: {body}"
    );

    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(completed["items"][0]["type"], "agentMessage");
    assert_eq!(completed["items"][0]["text"], ANSWER, "{context}");
    // The text came as deltas of one item.
    let deltas: String = with_method(&messages, "item/agentMessage/delta")
        .iter()
        .filter_map(|m| m["params"]["delta"].as_str())
        .collect();
    assert_eq!(deltas, ANSWER, "{context}");
    let usage = with_method(&messages, "thread/tokenUsage/updated");
    let total = &usage
        .last()
        .unwrap_or_else(|| panic!("no usage: {context}"))["params"]["tokenUsage"]["total"];
    assert_eq!(total["inputTokens"], 40, "{context}");
    assert_eq!(total["outputTokens"], 8, "{context}");
    assert_eq!(total["totalTokens"], 48, "{context}");

    // Final means final: Gemini has exited and the runner recorded it.
    let (_, (pid, start), _) = turn_processes(&host.process_record(&turn));
    assert!(!alive(pid, start), "gemini still runs at turn/completed");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "completed", "{exit}");
    // The spec carried the kind's own env: no relaunch wrapper.
    assert!(host.mock.drain().is_empty(), "more than one request");
    let read = host.read_thread();
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms(&all);
}

const PREAMBLE: &str = "I will run a command first.";
const FINAL: &str = "The command printed its mark; this is the final answer.";
const TOOL_MARK: &str = "tool-output-9e2a";

#[test]
fn a_real_gemini_tool_turn_runs_the_shell_command_and_ends_with_the_final_answer() {
    let command = format!("echo {TOOL_MARK}");
    let script = vec![
        Reply::Model {
            text: PREAMBLE.to_owned(),
            shell: Some(command.clone()),
            usage: (100, 7),
        },
        Reply::Model {
            text: FINAL.to_owned(),
            shell: None,
            usage: (150, 9),
        },
    ];
    // `approvalPolicy: never` with full access: the kind's argv adds `--approval-mode yolo`.
    let mut host = GeminiHost::new(
        script,
        json!({"approvalPolicy": "never", "sandbox": "danger-full-access"}),
    );
    let turn = host.start_turn("run the command, then answer");
    let messages = host.until_completed(&turn);
    let context = format!(
        "backend.stdout:\n{}\nbackend.stderr:\n{}\nmessages: {messages:#?}",
        host.backend_stdout(&turn),
        host.backend_stderr(&turn)
    );
    host.mock.wait_request(0, Duration::ZERO);
    let second = host.mock.wait_request(1, Duration::ZERO);
    let responses = function_responses(&second);
    assert_eq!(responses.len(), 1, "{second}");
    assert_eq!(responses[0]["name"], "run_shell_command", "{second}");
    assert!(
        responses[0].to_string().contains(TOOL_MARK),
        "the tool's output did not reach the model: {second}"
    );

    let items: Vec<&Value> = completed_items(&messages)
        .into_iter()
        .filter(|i| i["type"] != "userMessage")
        .collect();
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["agentMessage", "commandExecution", "agentMessage"],
        "{context}"
    );
    assert_eq!(items[0]["text"], PREAMBLE, "{context}");
    assert_eq!(items[2]["text"], FINAL, "{context}");
    let command_item = items[1];
    assert_eq!(command_item["command"], command, "{command_item}");
    assert_eq!(command_item["status"], "completed", "{command_item}");
    assert_eq!(command_item["exitCode"], 0, "{command_item}");
    assert!(
        command_item["aggregatedOutput"]
            .as_str()
            .is_some_and(|o| o.contains(TOOL_MARK)),
        "{command_item}"
    );
    let ids = |method: &str| -> Vec<Value> {
        with_method(&messages, method)
            .iter()
            .map(|m| m["params"]["item"]["id"].clone())
            .collect()
    };
    assert_eq!(ids("item/started"), ids("item/completed"), "{context}");
    // Usage: both model requests of the turn.
    let usage = with_method(&messages, "thread/tokenUsage/updated");
    let total = &usage
        .last()
        .unwrap_or_else(|| panic!("no usage: {context}"))["params"]["tokenUsage"]["total"];
    assert_eq!(total["inputTokens"], 250, "{context}");
    assert_eq!(total["outputTokens"], 16, "{context}");

    // The answer is the text after the tool, not the one before it.
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(completed["items"][0]["text"], FINAL, "{context}");
    let (_, (pid, start), _) = turn_processes(&host.process_record(&turn));
    assert!(!alive(pid, start), "gemini still runs at turn/completed");
    assert!(host.mock.drain().is_empty(), "more than two requests");
    let read = host.read_thread();
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms(&all);
}

#[test]
fn interrupting_a_real_gemini_turn_during_a_long_shell_command_leaves_no_process() {
    let script = vec![Reply::Model {
        text: "Starting a long job.".to_owned(),
        shell: Some("sleep 600".to_owned()),
        usage: (10, 5),
    }];
    let mut host = GeminiHost::new(
        script,
        json!({"approvalPolicy": "never", "sandbox": "danger-full-access"}),
    );
    let turn = host.start_turn("start the long job");
    host.mock.wait_request(0, TURN_TIMEOUT);

    let record = host.process_record(&turn);
    let ((runner, runner_start), (backend_pid, backend_start), backend_pgid) =
        turn_processes(&record);
    assert!(alive(backend_pid, backend_start));
    let before = wait_for_process(runner, &[backend_pgid], "sleep");
    assert!(
        before.iter().any(|p| p.pid == backend_pid),
        "gemini is not under its runner: {before:#?}"
    );
    // One node process: no relaunch child (GEMINI_CLI_NO_RELAUNCH, set by the kind).
    let nodes: Vec<&Proc> = before.iter().filter(|p| p.comm == "node").collect();
    assert_eq!(nodes.len(), 1, "{before:#?}");
    let sleep = before.iter().find(|p| p.comm == "sleep").unwrap();

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "interrupted", "{context}");
    assert_eq!(completed["error"], Value::Null, "{context}");
    assert!(
        with_method(&messages, "error").is_empty(),
        "an interrupt is not an error: {context}"
    );
    assert!(
        completed_items(&messages)
            .iter()
            .any(|i| i["text"] == "Starting a long job."),
        "{context}"
    );

    // At turn/completed, every process of the turn is gone: Gemini, the shell, the sleep.
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "interrupted", "{exit}");
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    let stragglers = descendants(runner, &[backend_pgid, sleep.sid]);
    assert!(stragglers.is_empty(), "left behind: {stragglers:#?}");
    assert!(
        host.mock.drain().is_empty(),
        "gemini asked the model again after the interrupt"
    );
    host.assert_conforms(&messages);
}

#[test]
fn an_upstream_http_error_fails_the_real_gemini_turn_with_a_readable_error() {
    let script = vec![Reply::HttpError {
        status: 400,
        message: "mock upstream refused".to_owned(),
    }];
    let mut host = GeminiHost::new(script, json!({}));
    let turn = host.start_turn("hello");
    let messages = host.until_completed(&turn);
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    host.mock.wait_request(0, Duration::ZERO);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "failed", "{context}");
    assert_eq!(completed["items"], json!([]), "{context}");
    let message = completed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("mock upstream refused"),
        "not a readable error: {completed}\n{context}"
    );
    let errors = with_method(&messages, "error");
    assert_eq!(errors.len(), 1, "{context}");
    assert_eq!(errors[0]["params"]["willRetry"], false);
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "failed", "{exit}");
    assert!(host.mock.drain().is_empty(), "Gemini retried");
    let read = host.read_thread();
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms(&all);
}
