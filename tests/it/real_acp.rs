//! Real Agent Client Protocol agents as the backend of agent-host turns (kind `acp`): Gemini
//! CLI 0.61.0 in ACP mode (`gemini --acp`) against our mock of the Gemini API, and the npm
//! adapter `@zed-industries/codex-acp` 0.16.0 against our mock of the OpenAI Responses API
//! (both installed by `scripts/install-test-deps.sh`).
//!
//! The runner is the ACP client: it sends `initialize`, `session/new` and `session/prompt` on
//! the agent's stdin and reads the agent's `session/update` notifications and
//! `session/request_permission` requests from its stdout (the raw copy is the turn's
//! `backend.stdout`, which the tests read as the record of what the agent said). Every wait
//! is bounded; every process is checked by pid and start time; every message to our client
//! is validated against the pinned Codex schema.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::host::{Host, TURN_TIMEOUT, completed_items, path_str, with_method};
use crate::support::mock_gemini::{MockGemini, Reply};
use crate::support::procs::{Proc, alive, installed_cli, turn_processes, wait_for_process};
use crate::support::{Sandbox, wait_until};

/// How long a mock serves at most.
const MOCK_LIFETIME: Duration = Duration::from_secs(120);

/// The model Gemini is started with (`-m`); it puts it in the request path.
const GEMINI_MODEL: &str = "gemini-mock-model";

/// A sandboxed agent-host whose provider (kind `acp`) runs the real Gemini CLI in ACP mode
/// against `mock`.
struct GeminiAcp {
    host: Host,
    mock: MockGemini,
}

impl Deref for GeminiAcp {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for GeminiAcp {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

impl GeminiAcp {
    /// `extra` is merged into the `thread/start` params. Gemini's environment is the one of
    /// `real_gemini.rs`: a throwaway `HOME` with the `gemini-api-key` auth type, the mock's
    /// base URL, a dummy key, a trusted workspace.
    fn new(script: Vec<Reply>, extra: Value) -> GeminiAcp {
        let bin = installed_cli("gemini-bin", "Gemini CLI");
        let mock = MockGemini::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let home = sandbox.root().join("gemini-home");
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
            r#"default_provider = "gemini-acp"
[interrupt]
cancel_grace_ms = 1000
term_grace_ms = 1000
[providers.gemini-acp]
kind = "acp"
command = {command:?}
args = ["--acp", "-m", "{GEMINI_MODEL}"]
[providers.gemini-acp.env]
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
        let config_path = sandbox.root().join("gemini-acp.toml");
        std::fs::write(&config_path, config).unwrap();
        GeminiAcp {
            host: Host::start(sandbox, &config_path, "gemini-acp", extra),
            mock,
        }
    }
}

/// What a failed assertion should show of a turn.
fn describe(host: &Host, turn: &str, messages: &[Value]) -> String {
    format!(
        "backend.stdout:\n{}\nbackend.stderr:\n{}\nmessages: {messages:#?}",
        host.backend_stdout(turn),
        host.backend_stderr(turn)
    )
}

/// The JSON-RPC messages the agent wrote (the turn's `backend.stdout`).
fn agent_messages(host: &Host, turn: &str) -> Vec<Value> {
    host.backend_stdout(turn)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

const ANSWER: &str = "Hello from the mock Gemini model, streamed over ACP.";

#[test]
fn a_gemini_acp_turn_streams_its_answer_as_deltas_and_ends_after_the_agent_exited() {
    let script = vec![Reply::Model {
        text: ANSWER.to_owned(),
        shell: None,
        usage: (40, 8),
    }];
    let mut host = GeminiAcp::new(script, json!({}));
    let prompt = "-v: say hello";
    let turn = host.start_turn(prompt);
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    let body = host.mock.wait_request(0, Duration::ZERO);
    assert!(
        body.to_string().contains(prompt),
        "the prompt is not in the model request: {body}"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    let deltas: Vec<&str> = with_method(&messages, "item/agentMessage/delta")
        .iter()
        .filter_map(|m| m["params"]["delta"].as_str())
        .collect();
    assert!(deltas.len() >= 2, "not streamed: {deltas:?}\n{context}");
    assert_eq!(deltas.concat(), ANSWER, "{context}");
    let items = completed_items(&messages);
    let answer = items
        .iter()
        .find(|i| i["type"] == "agentMessage")
        .unwrap_or_else(|| panic!("no agentMessage: {context}"));
    assert_eq!(answer["text"], ANSWER, "{context}");
    // Every delta came before the item completed.
    let last_delta = messages
        .iter()
        .rposition(|m| m["method"] == "item/agentMessage/delta")
        .unwrap();
    let item_done = messages
        .iter()
        .position(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap();
    assert!(last_delta < item_done, "{context}");
    // The usage Gemini reports with its answer to `session/prompt`.
    let usage = with_method(&messages, "thread/tokenUsage/updated");
    let total = &usage
        .last()
        .unwrap_or_else(|| panic!("no usage: {context}"))["params"]["tokenUsage"]["total"];
    assert_eq!(total["inputTokens"], 40, "{context}");
    assert_eq!(total["outputTokens"], 8, "{context}");
    // The agent's session is the thread's backend session.
    let session = agent_messages(&host, &turn)
        .iter()
        .find_map(|m| m["result"]["sessionId"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no session/new answer: {context}"));
    let events = std::fs::read_to_string(host.turn_dir(&turn).join("events.jsonl")).unwrap();
    assert!(
        events.contains(&format!("\"sessionId\":\"{session}\"")),
        "{events}"
    );
    // Final means final: the agent has exited.
    let (_, (pid, start), _) = turn_processes(&host.process_record(&turn));
    assert!(!alive(pid, start), "the agent still runs at turn/completed");
    assert_eq!(host.turn_file(&turn, "exit.json")["status"], "completed");
    let read = host.read_thread();
    let mut all = messages.clone();
    all.push(read);
    host.assert_conforms(&all);
}

/// Waits for the approval request `method` of the turn and answers it with `decision`;
/// returns the request.
fn answer_approval(host: &mut Host, turn: &str, method: &str, decision: &str) -> Value {
    let request = host.until_message(method, |m| m["method"] == method);
    assert_eq!(request["params"]["turnId"], turn, "{request}");
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": decision}}));
    request
}

/// The completed item `item_id` among `messages`.
fn completed_item<'a>(messages: &'a [Value], item_id: &Value) -> &'a Value {
    completed_items(messages)
        .into_iter()
        .find(|i| &i["id"] == item_id)
        .unwrap_or_else(|| panic!("no completed item {item_id}: {messages:#?}"))
}

#[test]
fn gemini_acp_permission_requests_reach_the_client_accepted_and_declined() {
    let script = vec![
        Reply::Model {
            text: "I will create the file.".to_owned(),
            shell: Some("touch accepted.txt && echo made-accepted".to_owned()),
            usage: (100, 7),
        },
        Reply::Model {
            text: "Created.".to_owned(),
            shell: None,
            usage: (150, 9),
        },
        Reply::Model {
            text: "I will create another file.".to_owned(),
            shell: Some("touch declined.txt".to_owned()),
            usage: (200, 7),
        },
        Reply::Model {
            text: "You declined; nothing was created.".to_owned(),
            shell: None,
            usage: (250, 9),
        },
    ];
    let extra = json!({"approvalPolicy": "on-request", "continueSession": true});
    let mut host = GeminiAcp::new(script, extra);
    let work = host.sandbox.work_dir();

    let (session, mut all) = accepted_turn(&mut host);
    // Declined: the command does not run, its item is declined, the turn goes on. The
    // thread continues its session, but Gemini 0.61.0 cannot `session/load` a session it
    // made over ACP ("No previous sessions found for this project"): the turn runs on a new
    // session and says so.
    let second = host.start_turn("create declined.txt");
    let method = "item/commandExecution/requestApproval";
    let request = answer_approval(&mut host, &second, method, "decline");
    let messages = host.until_completed(&second);
    let context = describe(&host, &second, &messages);
    let item = completed_item(&messages, &request["params"]["itemId"]);
    assert_eq!(item["type"], "commandExecution", "{context}");
    assert_eq!(item["status"], "declined", "{context}");
    assert!(!work.join("declined.txt").exists(), "{context}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(
        completed_items(&messages).last().unwrap()["text"],
        "You declined; nothing was created.",
        "{context}"
    );
    let request = host.mock.wait_request(3, Duration::ZERO);
    assert!(
        request.to_string().contains("canceled by the user"),
        "the model was not told of the refusal: {request}"
    );
    let warnings: Vec<&str> = with_method(&messages, "warning")
        .iter()
        .filter_map(|m| m["params"]["message"].as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("could not load session {session}"))),
        "{warnings:?}\n{context}"
    );
    assert!(
        host.backend_stdout(&second)
            .contains("No previous sessions found"),
        "{context}"
    );
    all.extend(messages);
    let read = host.read_thread();
    all.push(read);
    host.assert_conforms(&all);
}

#[test]
fn interrupting_a_gemini_acp_turn_during_a_long_command_leaves_no_process() {
    let script = vec![Reply::Model {
        text: "Starting a long job.".to_owned(),
        shell: Some("sleep 600".to_owned()),
        usage: (10, 5),
    }];
    let mut host = GeminiAcp::new(script, json!({"approvalPolicy": "on-request"}));
    let turn = host.start_turn("start the long job");
    answer_approval(
        &mut host,
        &turn,
        "item/commandExecution/requestApproval",
        "accept",
    );
    let record = host.process_record(&turn);
    let ((runner, runner_start), (backend_pid, _), backend_pgid) = turn_processes(&record);
    let before = wait_for_process(runner, &[backend_pgid], "sleep");
    assert!(before.iter().any(|p| p.pid == backend_pid), "{before:#?}");

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "interrupted", "{context}");
    assert_eq!(completed["error"], Value::Null, "{context}");
    let log = std::fs::read_to_string(host.turn_dir(&turn).join("runner.log")).unwrap_or_default();
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}\n{log}");
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    // The graceful cancel did the work: Gemini answered the prompt `cancelled`, stopped its
    // command and exited on its own (no signal).
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "interrupted", "{exit}");
    assert_eq!(exit["signal"], Value::Null, "{exit}\n{context}");
    assert!(
        host.backend_stdout(&turn)
            .contains(r#""result":{"stopReason":"cancelled"}"#),
        "{context}"
    );
    host.assert_conforms(&messages);
}

/// The first turn of the permission test: the command is accepted, runs, and its item
/// completes. Returns the agent's session and the turn's messages.
fn accepted_turn(host: &mut GeminiAcp) -> (String, Vec<Value>) {
    let work = host.sandbox.work_dir();
    // Accepted: the command runs, its item completes with its output.
    let first = host.start_turn("create accepted.txt");
    let method = "item/commandExecution/requestApproval";
    let request = answer_approval(host, &first, method, "accept");
    let messages = host.until_completed(&first);
    let context = describe(host, &first, &messages);
    let item_id = &request["params"]["itemId"];
    let started = with_method(&messages, "item/started");
    assert!(
        started
            .iter()
            .any(|m| &m["params"]["item"]["id"] == item_id),
        "the item started before its approval request: {context}"
    );
    let item = completed_item(&messages, item_id);
    assert_eq!(item["type"], "commandExecution", "{context}");
    assert_eq!(item["status"], "completed", "{context}");
    assert!(
        item["command"]
            .as_str()
            .unwrap_or_default()
            .contains("touch accepted.txt"),
        "{item}"
    );
    // Gemini's ACP mode sends no output with the call's update (its `content` is empty):
    // the model got it, the item has none.
    let request = host.mock.wait_request(1, Duration::ZERO);
    assert!(request.to_string().contains("made-accepted"), "{request}");
    assert!(work.join("accepted.txt").exists(), "{context}");
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    let events = std::fs::read_to_string(host.turn_dir(&first).join("events.jsonl")).unwrap();
    let session = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|r| r["event"]["sessionId"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no backend session: {events}"));
    (session, messages)
}
