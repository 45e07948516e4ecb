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

use crate::backend_permissions::{assert_refused, started_turn, turn_start};
use crate::real_codex::codex_config;
use crate::support::host::{Host, TURN_TIMEOUT, completed_items, path_str, with_method};
use crate::support::mock_anthropic::{Block, MockAnthropic, Reply as ClaudeReply};
use crate::support::mock_gemini::{MockGemini, Reply};
use crate::support::mock_responses::{self, MockResponses, Output};
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
        // The cancel's grace is long enough for a loaded machine: the interrupt test shows
        // that `session/cancel` alone ends the agent, before any signal (Gemini, a Node
        // program, takes over a second to stop and exit when two cores are shared).
        let config = format!(
            r#"default_provider = "gemini-acp"
[interrupt]
cancel_grace_ms = 15000
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
    // The thread's sandbox (read-only, the default) reached Gemini as its `plan` session
    // mode: the model is offered no shell and the tool that leaves plan mode.
    let tools = tool_names(&body);
    assert!(tools.iter().any(|t| t == "exit_plan_mode"), "{tools:?}");
    assert!(!tools.iter().any(|t| t == "run_shell_command"), "{tools:?}");
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
    let extra = json!({"approvalPolicy": "on-request", "continueSession": true,
        "sandbox": "workspace-write"});
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
    let extra = json!({"approvalPolicy": "on-request", "sandbox": "workspace-write"});
    let mut host = GeminiAcp::new(script, extra);
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
    assert_eq!(exit["signal"], Value::Null, "{exit}\n{log}\n{context}");
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
    // The workspace-write sandbox kept Gemini in its `default` mode: a shell, no plan mode.
    let tools = tool_names(&host.mock.wait_request(0, Duration::ZERO));
    assert!(tools.iter().any(|t| t == "run_shell_command"), "{tools:?}");
    assert!(!tools.iter().any(|t| t == "exit_plan_mode"), "{tools:?}");
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

/// A sandboxed agent-host whose provider (kind `acp`) runs the real codex-acp adapter against
/// `mock`: a throwaway `CODEX_HOME` whose `config.toml` sends every model request to the
/// mock (as for the real Codex), a throwaway `HOME`.
struct CodexAcp {
    host: Host,
    mock: MockResponses,
}

impl Deref for CodexAcp {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for CodexAcp {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

impl CodexAcp {
    fn new(script: Vec<mock_responses::Reply>, extra: Value) -> CodexAcp {
        let bin = installed_cli("codex-acp-bin", "codex-acp");
        let mock = MockResponses::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let codex_home = sandbox.root().join("codex-home");
        let home = sandbox.root().join("codex-user-home");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        // A model codex-acp knows: with an unknown one it tells the user so in the answer.
        let codex_toml = codex_config(&mock.base_url()).replace(
            "model = \"mock-model\"",
            &format!("model = \"{CODEX_MODEL}\""),
        );
        std::fs::write(codex_home.join("config.toml"), codex_toml).unwrap();
        let config = format!(
            r#"default_provider = "codex-acp"
[interrupt]
cancel_grace_ms = 5000
term_grace_ms = 1000
[providers.codex-acp]
kind = "acp"
command = {command:?}
[providers.codex-acp.env]
CODEX_HOME = {codex_home:?}
HOME = {home:?}
"#,
            command = path_str(&bin),
            codex_home = path_str(&codex_home),
            home = path_str(&home),
        );
        let config_path = sandbox.root().join("codex-acp.toml");
        std::fs::write(&config_path, config).unwrap();
        CodexAcp {
            host: Host::start(sandbox, &config_path, "codex-acp", extra),
            mock,
        }
    }
}

/// A model in codex-acp 0.16.0's own catalog.
const CODEX_MODEL: &str = "gpt-5.4";

const CODEX_ANSWER: &str = "Hello from the mock Responses API, streamed over ACP.";

#[test]
fn a_codex_acp_turn_streams_its_answer_as_deltas() {
    let script = vec![mock_responses::Reply::Complete {
        outputs: vec![Output::Message(CODEX_ANSWER.to_owned())],
        usage: (30, 0, 6),
    }];
    let mut host = CodexAcp::new(script, json!({}));
    let turn = host.start_turn("say hello");
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    let deltas: Vec<&str> = with_method(&messages, "item/agentMessage/delta")
        .iter()
        .filter_map(|m| m["params"]["delta"].as_str())
        .collect();
    assert!(deltas.len() >= 2, "not streamed: {deltas:?}\n{context}");
    assert_eq!(deltas.concat(), CODEX_ANSWER, "{context}");
    // The thread's sandbox (read-only, the default) reached Codex: its session stayed in its
    // `read-only` mode, which Codex tells the model.
    let body = host.mock.wait_request(0, Duration::ZERO);
    assert!(
        body.to_string().contains("`sandbox_mode` is `read-only`"),
        "{body}"
    );
    assert!(body.to_string().contains("say hello"), "{body}");
    // The turn ended with codex-acp's exit: it does not exit when its input closes, so the
    // runner stops it soon after the answer (a completed turn all the same).
    let (_, (pid, start), _) = turn_processes(&host.process_record(&turn));
    assert!(!alive(pid, start), "codex-acp still runs at turn/completed");
    assert_eq!(host.turn_file(&turn, "exit.json")["status"], "completed");
    host.assert_conforms(&messages);
}

/// The names of the function declarations a Gemini model request offers.
fn tool_names(body: &Value) -> Vec<String> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            t["functionDeclarations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect()
}

/// A Responses reply: an assistant message, then optionally an `exec_command` call.
fn codex_reply(text: &str, command: Option<Value>) -> mock_responses::Reply {
    let mut outputs = vec![Output::Message(text.to_owned())];
    outputs.extend(command.map(Output::ExecCommand));
    mock_responses::Reply::Complete {
        outputs,
        usage: (50, 0, 5),
    }
}

/// An `exec_command` call that asks to run outside the sandbox (so Codex asks first).
fn escalated(cmd: &str) -> Value {
    json!({"cmd": cmd, "sandbox_permissions": "require_escalated",
        "justification": "the test needs it", "yield_time_ms": 10000})
}

#[test]
fn codex_acp_command_approvals_reach_the_client_and_the_session_continues() {
    let script = vec![
        codex_reply(
            "I will create the file.",
            Some(escalated("touch accepted.txt && echo made-accepted")),
        ),
        codex_reply("Created.", None),
        codex_reply(
            "I will create another.",
            Some(escalated("touch declined.txt")),
        ),
    ];
    let extra = json!({"approvalPolicy": "on-request", "sandbox": "workspace-write",
        "continueSession": true});
    let mut host = CodexAcp::new(script, extra);
    let work = host.sandbox.work_dir();
    let method = "item/commandExecution/requestApproval";

    // Accepted: the command runs; its item has the output and exit code codex-acp reports.
    let first = host.start_turn("create accepted.txt");
    let request = answer_approval(&mut host, &first, method, "accept");
    let messages = host.until_completed(&first);
    let context = describe(&host, &first, &messages);
    let item = completed_item(&messages, &request["params"]["itemId"]);
    assert_eq!(item["type"], "commandExecution", "{context}");
    assert_eq!(item["status"], "completed", "{context}");
    assert_eq!(item["exitCode"], 0, "{context}");
    assert_eq!(item["aggregatedOutput"], "made-accepted\n", "{context}");
    assert!(work.join("accepted.txt").exists(), "{context}");
    // The workspace-write sandbox reached Codex as its `auto` mode (`session/set_mode`).
    let body = host.mock.wait_request(0, Duration::ZERO);
    assert!(
        body.to_string()
            .contains("`sandbox_mode` is `workspace-write`"),
        "{body}"
    );
    let session = backend_session(&host, &first);
    let mut all = messages;

    // Declined: the command does not run and its item is declined; codex-acp offers no
    // "deny and go on" option (Codex's decisions for it are `approved`, an execpolicy
    // amendment and `abort`), so the refusal aborts Codex's turn: it answers the prompt
    // `cancelled`, and the model is not asked again. The turn runs on the session of the
    // first turn (`session/load`).
    let second = host.start_turn("create declined.txt");
    let request = answer_approval(&mut host, &second, method, "decline");
    let messages = host.until_completed(&second);
    let context = describe(&host, &second, &messages);
    let item = completed_item(&messages, &request["params"]["itemId"]);
    assert_eq!(item["status"], "declined", "{context}");
    assert!(!work.join("declined.txt").exists(), "{context}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(
        completed["items"][0]["text"], "I will create another.",
        "{context}"
    );
    assert!(
        host.backend_stdout(&second)
            .contains(r#""stopReason":"cancelled""#),
        "{context}"
    );
    assert_eq!(backend_session(&host, &second), session, "{context}");
    // The loaded session's history reached the model, and was not replayed to our client.
    let body = host.mock.wait_request(2, Duration::ZERO);
    assert!(body.to_string().contains("create accepted.txt"), "{body}");
    let texts: Vec<&str> = completed_items(&messages)
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect();
    assert!(!texts.contains(&"Created."), "{texts:?}");
    assert!(host.mock.drain().is_empty(), "the model was asked again");
    all.extend(messages);
    all.push(host.read_thread());
    host.assert_conforms(&all);
}

/// The backend session a turn recorded (its first `backendSession`).
fn backend_session(host: &Host, turn: &str) -> String {
    let events = std::fs::read_to_string(host.turn_dir(turn).join("events.jsonl")).unwrap();
    events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|r| r["event"]["sessionId"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no backend session: {events}"))
}

#[test]
fn interrupting_a_codex_acp_turn_while_the_model_stalls_leaves_no_process() {
    let script = vec![mock_responses::Reply::Stall];
    let mut host = CodexAcp::new(script, json!({}));
    let turn = host.start_turn("think for a long time");
    host.mock.wait_request(0, TURN_TIMEOUT);
    let record = host.process_record(&turn);
    let ((runner, runner_start), (backend_pid, backend_start), backend_pgid) =
        turn_processes(&record);
    assert!(alive(backend_pid, backend_start));
    let before = crate::support::procs::descendants(runner, &[backend_pgid]);

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "interrupted", "{context}");
    assert_eq!(completed["error"], Value::Null, "{context}");
    // `session/cancel` reached codex-acp: it answered the prompt `cancelled` (it does not
    // exit when its input closes: the ladder's SIGTERM ends it).
    assert!(
        host.backend_stdout(&turn)
            .contains(r#""stopReason":"cancelled""#),
        "{context}"
    );
    let exit = host.turn_file(&turn, "exit.json");
    assert_eq!(exit["status"], "interrupted", "{exit}");
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    host.assert_conforms(&messages);
}

#[test]
fn the_turns_settings_reach_gemini_acp_and_what_it_cannot_hold_is_refused() {
    let script = vec![
        gemini_reply("I will create a file.", Some("touch never.txt")),
        gemini_reply("That was refused.", None),
        gemini_reply("I will create another file.", Some("touch full.txt")),
        gemini_reply("Done.", None),
    ];
    let mut host = GeminiAcp::new(script, json!({}));
    let work = host.sandbox.work_dir();

    // `never` in a workspace: nobody is asked, and what Gemini asks permission for (its
    // shell, in its `default` mode) is rejected by the runner itself.
    let (turn, mut messages) = settings_turn(
        &mut host,
        "create never.txt",
        json!({"approvalPolicy": "never", "sandboxPolicy": {"type": "workspaceWrite"}}),
    );
    let context = describe(&host, &turn, &messages);
    assert!(
        host.backend_stdout(&turn)
            .contains("session/request_permission"),
        "{context}"
    );
    assert!(
        with_method(&messages, "item/commandExecution/requestApproval").is_empty(),
        "{context}"
    );
    let item = completed_items(&messages)
        .into_iter()
        .find(|i| i["type"] == "commandExecution")
        .unwrap_or_else(|| panic!("no command item: {context}"));
    assert_eq!(item["status"], "declined", "{context}");
    assert!(!work.join("never.txt").exists(), "{context}");
    let request = host.mock.wait_request(1, Duration::ZERO);
    assert!(
        request.to_string().contains("canceled by the user"),
        "the model was not told of the refusal: {request}"
    );

    // `never` with full access: Gemini's `yolo` mode, in which nothing asks and the command
    // runs.
    let (turn, more) = settings_turn(
        &mut host,
        "create full.txt",
        json!({"approvalPolicy": "never", "sandboxPolicy": {"type": "dangerFullAccess"}}),
    );
    let context = describe(&host, &turn, &more);
    assert!(
        !host
            .backend_stdout(&turn)
            .contains("session/request_permission"),
        "{context}"
    );
    assert!(work.join("full.txt").exists(), "{context}");
    assert_eq!(
        more.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{context}"
    );
    messages.extend(more);

    // No ACP agent holds a per-category policy: refused before anything runs.
    let refused = turn_start(
        &mut host,
        "granular",
        json!({"approvalPolicy": {"granular": {"sandbox_approval": true, "rules": true,
            "skill_approval": true, "request_permissions": true, "mcp_elicitations": true}}}),
    );
    assert_refused(
        &mut host,
        &refused,
        "gemini-acp",
        &["ACP agent", "granular"],
    );
    host.mock.wait_request(3, Duration::ZERO);
    let more = host.mock.drain();
    assert!(
        more.is_empty(),
        "the refused turn reached the model: {more:?}"
    );
    host.assert_conforms(&messages);
}

/// A Gemini model reply: text, then optionally a shell command call.
fn gemini_reply(text: &str, shell: Option<&str>) -> Reply {
    Reply::Model {
        text: text.to_owned(),
        shell: shell.map(str::to_owned),
        usage: (10, 2),
    }
}

/// A turn started with `extra` in its `turn/start`, run to its end: its id, and the
/// `turn/start` response followed by the turn's messages.
fn settings_turn(host: &mut Host, text: &str, extra: Value) -> (String, Vec<Value>) {
    let response = turn_start(host, text, extra);
    let turn = started_turn(&response);
    let mut messages = vec![response];
    messages.extend(host.until_completed(&turn));
    (turn, messages)
}

/// A sandboxed agent-host whose provider (kind `acp`) runs the real claude-agent-acp adapter
/// against `mock`: the environment of `real_claude.rs` (a throwaway `HOME` and
/// `CLAUDE_CONFIG_DIR`, the mock's base URL, a dummy key, `CLAUDE_CODE_SIMPLE=1` (no title
/// generation or other side requests of the model), no nonessential traffic), with the
/// Claude Code that the adapter's Agent SDK ships. `IS_SANDBOX` is emptied: where it is set,
/// the adapter as root starts Claude Code with `--dangerously-skip-permissions`, which Claude
/// Code refuses as root unless it is `1`.
struct ClaudeAcp {
    host: Host,
    mock: MockAnthropic,
}

impl Deref for ClaudeAcp {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}

impl DerefMut for ClaudeAcp {
    fn deref_mut(&mut self) -> &mut Host {
        &mut self.host
    }
}

/// The model claude-agent-acp is told to use.
const CLAUDE_MODEL: &str = "claude-mock-model";

impl ClaudeAcp {
    fn new(script: Vec<ClaudeReply>, extra: Value) -> ClaudeAcp {
        let bin = installed_cli("claude-acp-bin", "claude-agent-acp");
        let mock = MockAnthropic::start(script, MOCK_LIFETIME);
        let sandbox = Sandbox::new();
        let home = sandbox.root().join("claude-home");
        let tmp = sandbox.root().join("claude-tmp");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let config = format!(
            r#"default_provider = "claude-acp"
[interrupt]
cancel_grace_ms = 15000
term_grace_ms = 1000
[providers.claude-acp]
kind = "acp"
command = {command:?}
[providers.claude-acp.env]
HOME = {home:?}
CLAUDE_CONFIG_DIR = {config_dir:?}
ANTHROPIC_BASE_URL = {base_url:?}
ANTHROPIC_API_KEY = "mock-key"
ANTHROPIC_MODEL = "{CLAUDE_MODEL}"
CLAUDE_CODE_SIMPLE = "1"
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1"
DISABLE_AUTOUPDATER = "1"
CLAUDE_CODE_MAX_RETRIES = "0"
CLAUDE_CODE_TMPDIR = {tmp:?}
IS_SANDBOX = ""
"#,
            command = path_str(&bin),
            home = path_str(&home),
            config_dir = path_str(&home.join(".claude")),
            tmp = path_str(&tmp),
            base_url = mock.base_url(),
        );
        let config_path = sandbox.root().join("claude-acp.toml");
        std::fs::write(&config_path, config).unwrap();
        ClaudeAcp {
            host: Host::start(sandbox, &config_path, "claude-acp", extra),
            mock,
        }
    }
}

const CLAUDE_ANSWER: &str = "Hello from the mock Anthropic API, over ACP.";

#[test]
fn a_claude_acp_turn_streams_its_answer() {
    let script = vec![ClaudeReply::Message {
        blocks: vec![Block::Text(CLAUDE_ANSWER.to_owned())],
        usage: (30, 6),
    }];
    let mut host = ClaudeAcp::new(script, json!({}));
    let turn = host.start_turn("say hello");
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    let deltas: Vec<&str> = with_method(&messages, "item/agentMessage/delta")
        .iter()
        .filter_map(|m| m["params"]["delta"].as_str())
        .collect();
    assert!(deltas.len() >= 2, "not streamed: {deltas:?}\n{context}");
    assert_eq!(deltas.concat(), CLAUDE_ANSWER, "{context}");
    let body = host.mock.wait_request(0, Duration::ZERO);
    assert!(body.to_string().contains("say hello"), "{body}");
    // The read-only default put the session in Claude's `plan` mode.
    let stdout = host.backend_stdout(&turn);
    assert!(stdout.contains(r#""currentValue":"plan""#), "{context}");
    // Claude Code's own notices are warnings, not part of the answer.
    let items = completed_items(&messages);
    let texts: Vec<&str> = items.iter().filter_map(|i| i["text"].as_str()).collect();
    assert_eq!(texts, [CLAUDE_ANSWER], "{context}");
    host.assert_conforms(&messages);
}

#[test]
fn a_claude_acp_permission_request_declined_runs_nothing_and_the_turn_goes_on() {
    let command = "touch made-by-tool && sh -c 'echo ok'";
    let script = vec![
        ClaudeReply::Message {
            blocks: vec![
                Block::Text("I will run it.".to_owned()),
                Block::Bash(command.to_owned()),
            ],
            usage: (40, 8),
        },
        ClaudeReply::Message {
            blocks: vec![Block::Text("It was declined.".to_owned())],
            usage: (60, 5),
        },
    ];
    let extra = json!({"approvalPolicy": "on-request", "sandbox": "workspace-write"});
    let mut host = ClaudeAcp::new(script, extra);
    // A prompt under 10 characters: claude-agent-acp asks the model for no session title,
    // a request the mock's script would have to answer in an order of its own.
    let turn = host.start_turn("run it");
    let method = "item/commandExecution/requestApproval";
    let request = answer_approval(&mut host, &turn, method, "decline");
    assert!(
        request["params"]["command"]
            .as_str()
            .unwrap_or_default()
            .contains("touch made-by-tool"),
        "{request}"
    );
    let messages = host.until_completed(&turn);
    let context = describe(&host, &turn, &messages);
    // The workspace-write sandbox is Claude's `acceptEdits` mode, not its classifier `auto`.
    assert!(
        host.backend_stdout(&turn)
            .contains(r#""currentValue":"acceptEdits""#),
        "{context}"
    );
    let item = completed_item(&messages, &request["params"]["itemId"]);
    assert_eq!(item["type"], "commandExecution", "{context}");
    assert_eq!(item["status"], "declined", "{context}");
    assert!(
        !host.sandbox.work_dir().join("made-by-tool").exists(),
        "{context}"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(
        completed_items(&messages).last().unwrap()["text"],
        "It was declined.",
        "{context}"
    );
    host.assert_conforms(&messages);
}

#[test]
fn interrupting_a_claude_acp_turn_during_a_long_command_leaves_no_process() {
    let script = vec![ClaudeReply::Message {
        blocks: vec![
            Block::Text("Starting a long job.".to_owned()),
            Block::Bash("sleep 600".to_owned()),
        ],
        usage: (40, 8),
    }];
    let extra = json!({"approvalPolicy": "on-request", "sandbox": "workspace-write"});
    let mut host = ClaudeAcp::new(script, extra);
    // `sleep` is a command Claude's rules run without asking.
    let turn = host.start_turn("long job");
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
    // `session/cancel` reached the adapter: it answered the prompt `cancelled`.
    assert!(
        host.backend_stdout(&turn)
            .contains(r#""stopReason":"cancelled""#),
        "{context}"
    );
    let left: Vec<&Proc> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}\n{context}");
    wait_until(TURN_TIMEOUT, "the runner to exit", || {
        (!alive(runner, runner_start)).then_some(())
    });
    host.assert_conforms(&messages);
}
