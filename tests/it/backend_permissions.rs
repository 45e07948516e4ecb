//! A turn's approval policy and sandbox on each backend kind, end to end: what reaches the
//! backend (its command line in the turn's process record, what it reports, its
//! environment), Claude Code's permission requests as our approval requests with the
//! client's decision going back, and the settings a backend cannot hold refused at
//! `turn/start` with the server serving on.

use serde_json::{Value, json};

use crate::real_claude::{ClaudeHost, ProviderSetup, tool_results};
use crate::real_gemini::GeminiHost;
use crate::support::host::{Host, TURN_TIMEOUT, completed_items};
use crate::support::mock_anthropic::{Block, Reply};
use crate::support::mock_gemini::Reply as GeminiReply;
use crate::support::{Sandbox, wait_until};

/// The command Claude's rules do not allow without asking (it writes, and is compound).
const WRITING_COMMAND: &str = "touch made-by-tool && sh -c 'echo ok'";

/// The backend's command line, as the turn's process record keeps it.
fn recorded_argv(host: &Host, turn: &str) -> Vec<String> {
    let record = host.process_record(turn);
    serde_json::from_value(record["backend"]["argv"].clone())
        .unwrap_or_else(|err| panic!("no argv in the process record: {err}: {record}"))
}

/// Whether `argv` holds `flag` followed by `value`.
fn has_flag(argv: &[String], flag: &str, value: &str) -> bool {
    argv.windows(2)
        .any(|pair| pair[0] == flag && pair[1] == value)
}

/// `turn/start` with `extra` merged in; returns the whole response.
pub(crate) fn turn_start(host: &mut Host, text: &str, extra: Value) -> Value {
    let mut params = json!({"threadId": host.thread_id,
        "input": [{"type": "text", "text": text}]});
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    host.request("turn/start", params)
}

/// The turn id of a `turn/start` response that succeeded.
pub(crate) fn started_turn(response: &Value) -> String {
    response["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("turn/start failed: {response}"))
        .to_owned()
}

/// A refused `turn/start`: `-32602` whose message names `provider` and every one of `words`;
/// the server then still serves (`thread/read` answers) and started no turn.
pub(crate) fn assert_refused(host: &mut Host, response: &Value, provider: &str, words: &[&str]) {
    let error = &response["error"];
    assert_eq!(error["code"], -32602, "{response}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("`{provider}`")), "{message}");
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
    let read = host.read_thread();
    let turns = read["result"]["thread"]["turns"]
        .as_array()
        .unwrap_or_else(|| panic!("thread/read failed after the refusal: {read}"));
    assert!(turns.iter().all(|t| t["status"] != "inProgress"), "{read}");
}

/// Claude's `system/init` `permissionMode`, from a turn's `backend.stdout`.
fn claude_permission_mode(host: &Host, turn: &str) -> String {
    let stdout = host.backend_stdout(turn);
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["type"] == "system" && line["subtype"] == "init")
        .and_then(|line| line["permissionMode"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no system/init from claude:\n{stdout}"))
}

/// A Claude host whose one turn's model calls `Bash` with [`WRITING_COMMAND`], then answers.
fn claude_asking_host() -> ClaudeHost {
    let script = vec![
        Reply::Message {
            blocks: vec![Block::Bash(WRITING_COMMAND.to_owned())],
            usage: (10, 2),
        },
        Reply::Message {
            blocks: vec![Block::Text("Done asking.".to_owned())],
            usage: (20, 3),
        },
    ];
    ClaudeHost::with_options(
        script,
        ProviderSetup::Named("mock-claude"),
        json!({"approvalPolicy": "on-request"}),
        0,
    )
}

/// Starts the turn, waits for our command approval request and checks it names Claude's
/// tool call: (turn, the request, every message before it).
fn claude_approval_request(host: &mut ClaudeHost) -> (String, Value, Vec<Value>) {
    let turn = host.start_turn("make a file");
    let (request, before) = host
        .server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/commandExecution/requestApproval" && m.get("id").is_some()
        })
        .unwrap_or_else(|(err, got)| panic!("no approval request: {err}: {got:#?}"));
    let started = before
        .iter()
        .find(|m| {
            m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
        })
        .unwrap_or_else(|| panic!("no command item before the request: {before:#?}"));
    let params = &request["params"];
    assert_eq!(params["threadId"], host.thread_id);
    assert_eq!(params["turnId"], turn);
    assert_eq!(params["itemId"], started["params"]["item"]["id"]);
    assert_eq!(params["command"], WRITING_COMMAND);
    assert_eq!(params["cwd"], host.sandbox.work_dir().display().to_string());
    // Claude asked while the command had not run.
    assert!(!host.sandbox.work_dir().join("made-by-tool").exists());
    (turn, request, before)
}

/// The command item as it completed.
fn command_item(messages: &[Value]) -> Value {
    completed_items(messages)
        .into_iter()
        .find(|item| item["type"] == "commandExecution")
        .cloned()
        .unwrap_or_else(|| panic!("no completed command item: {messages:#?}"))
}

#[test]
fn a_claude_tool_use_under_on_request_is_our_approval_and_declined_it_does_not_run() {
    let mut host = claude_asking_host();
    let (turn, request, mut messages) = claude_approval_request(&mut host);
    let argv = recorded_argv(&host, &turn);
    assert!(has_flag(&argv, "--permission-mode", "default"), "{argv:?}");
    assert!(
        has_flag(&argv, "--permission-prompt-tool", "stdio"),
        "{argv:?}"
    );
    messages.push(request.clone());
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": "decline"}}));
    messages.extend(host.until_completed(&turn));
    let item = command_item(&messages);
    assert_eq!(item["status"], "declined", "{item}");
    assert_eq!(item["exitCode"], Value::Null, "{item}");
    assert!(
        !host.sandbox.work_dir().join("made-by-tool").exists(),
        "the declined command ran"
    );
    // Claude told its model the tool was refused, and the turn went on to its answer.
    let second = host.mock.wait_request(1, TURN_TIMEOUT);
    let results = tool_results(&second);
    assert_eq!(results.len(), 1, "{second}");
    assert_eq!(results[0]["is_error"], true, "{second}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{completed}");
    assert_eq!(completed["items"][0]["text"], "Done asking.");
    assert!(
        messages
            .iter()
            .any(|m| m["method"] == "serverRequest/resolved"),
        "{messages:#?}"
    );
    assert_eq!(claude_permission_mode(&host, &turn), "default");
    host.assert_conforms(&messages);
}

#[test]
fn a_claude_tool_use_accepted_by_our_client_runs() {
    let mut host = claude_asking_host();
    let (turn, request, mut messages) = claude_approval_request(&mut host);
    messages.push(request.clone());
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": "accept"}}));
    messages.extend(host.until_completed(&turn));
    let item = command_item(&messages);
    assert_eq!(item["status"], "completed", "{item}");
    assert_eq!(item["exitCode"], 0, "{item}");
    assert!(
        host.sandbox.work_dir().join("made-by-tool").exists(),
        "the accepted command did not run"
    );
    let events = std::fs::read_to_string(host.turn_dir(&turn).join("events.jsonl")).unwrap();
    let resolved: Vec<Value> = events
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|record| record["event"].clone())
        .filter(|event| event["type"] == "approvalResolved")
        .collect();
    assert_eq!(resolved.len(), 1, "{events}");
    assert_eq!(resolved[0]["decision"], "accept");
    assert_eq!(resolved[0]["decidedBy"], "client");
    host.assert_conforms(&messages);
}

#[test]
fn the_turns_settings_reach_claude_and_what_it_cannot_hold_is_refused() {
    let script = vec![Reply::Message {
        blocks: vec![Block::Text("Edits allowed.".to_owned())],
        usage: (10, 2),
    }];
    let mut host = ClaudeHost::new(script, ProviderSetup::NamedOnce("mock-claude"));
    // The turn's own settings win over the thread's: a workspace with one more root, and
    // nobody asked (one-shot input has no way to ask anyway).
    let extra_root = host.sandbox.root().join("more");
    std::fs::create_dir_all(&extra_root).unwrap();
    let work = host.sandbox.work_dir().display().to_string();
    let extra = extra_root.display().to_string();
    let response = turn_start(
        &mut host,
        "edit away",
        json!({"approvalPolicy": "never", "sandboxPolicy": {"type": "workspaceWrite",
            "writableRoots": [work, extra], "networkAccess": false}}),
    );
    let turn = started_turn(&response);
    let mut messages = vec![response];
    messages.extend(host.until_completed(&turn));
    let argv = recorded_argv(&host, &turn);
    assert!(
        has_flag(&argv, "--permission-mode", "acceptEdits"),
        "{argv:?}"
    );
    assert!(has_flag(&argv, "--add-dir", &extra), "{argv:?}");
    assert!(has_flag(&argv, "--permission-prompts", "none"), "{argv:?}");
    assert!(
        !argv.iter().any(|a| a == "--permission-prompt-tool"),
        "{argv:?}"
    );
    assert_eq!(claude_permission_mode(&host, &turn), "acceptEdits");
    let spec = host.turn_spec(&turn);
    assert_eq!(spec["approvalPolicy"], "never", "{spec}");
    assert_eq!(spec["sandboxPolicy"]["type"], "workspaceWrite", "{spec}");
    // Claude has no per-category policy: `granular` is refused, naming provider and setting.
    let refused = turn_start(
        &mut host,
        "granular",
        json!({"approvalPolicy": {"granular": {"sandbox_approval": true, "rules": true,
            "skill_approval": true, "request_permissions": true, "mcp_elicitations": true}}}),
    );
    assert_refused(
        &mut host,
        &refused,
        "mock-claude",
        &["Claude Code", "granular"],
    );
    host.assert_conforms(&messages);
    host.mock.wait_request(0, TURN_TIMEOUT);
    let more = host.mock.drain();
    assert!(
        more.is_empty(),
        "the refused turn reached the model: {more:?}"
    );
}

#[test]
fn the_turns_settings_reach_gemini_and_what_it_cannot_hold_is_refused() {
    let reply = |text: &str| GeminiReply::Model {
        text: text.to_owned(),
        shell: None,
        usage: (10, 2),
    };
    let script = vec![reply("Planning only."), reply("Anything goes.")];
    // The thread's defaults: `on-request`, read-only.
    let mut host = GeminiHost::new(script, json!({}));
    let (turn, mut messages) = host.completed_turn("look around");
    let argv = recorded_argv(&host, &turn);
    assert!(has_flag(&argv, "--approval-mode", "plan"), "{argv:?}");
    assert!(!argv.iter().any(|a| a == "--sandbox"), "{argv:?}");
    // The turn's own settings: never ask, full access.
    let response = turn_start(
        &mut host,
        "go",
        json!({"approvalPolicy": "never", "sandboxPolicy": {"type": "dangerFullAccess"}}),
    );
    let turn = started_turn(&response);
    messages.push(response);
    messages.extend(host.until_completed(&turn));
    let argv = recorded_argv(&host, &turn);
    assert!(has_flag(&argv, "--approval-mode", "yolo"), "{argv:?}");
    let refused = turn_start(
        &mut host,
        "granular",
        json!({"approvalPolicy": {"granular": {"sandbox_approval": true, "rules": true,
            "skill_approval": true, "request_permissions": true, "mcp_elicitations": true}}}),
    );
    assert_refused(
        &mut host,
        &refused,
        "mock-gemini",
        &["Gemini CLI", "granular"],
    );
    host.assert_conforms(&messages);
}

/// The fake agent as kind `jsonl`, printing the settings it was given; its provider holds
/// only the read-only sandbox (`sandbox_modes`).
fn jsonl_host() -> Host {
    let sandbox = Sandbox::new();
    let script = "start\necho-env AGENT_HOST_APPROVAL_POLICY\necho-env AGENT_HOST_SANDBOX\n\
                  echo-env AGENT_HOST_SANDBOX_POLICY\ncomplete\n";
    Host::write_scripts(&sandbox, &[("settings", script)]);
    let config = sandbox.root().join("turns.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replacen(
        "args = [\"{prompt}\"]\n",
        "args = [\"{prompt}\"]\nsandbox_modes = [\"read-only\", \"danger-full-access\"]\n",
        1,
    );
    assert!(text.contains("sandbox_modes"), "{text}");
    std::fs::write(&config, text).unwrap();
    Host::start(
        sandbox,
        &config,
        "fake",
        json!({"approvalPolicy": "untrusted"}),
    )
}

/// The texts of a turn's agent messages.
fn agent_texts(messages: &[Value]) -> Vec<String> {
    completed_items(messages)
        .into_iter()
        .filter(|item| item["type"] == "agentMessage")
        .filter_map(|item| item["text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_turns_settings_reach_a_jsonl_backend_and_a_sandbox_it_does_not_list_is_refused() {
    let mut host = jsonl_host();
    let turn = host.start_script("settings", json!({}));
    let mut messages = host.until_completed(&turn);
    let texts = agent_texts(&messages);
    assert_eq!(texts[0], "untrusted", "{texts:?}");
    assert_eq!(texts[1], "read-only", "{texts:?}");
    let policy: Value = serde_json::from_str(&texts[2]).unwrap();
    assert_eq!(policy["type"], "readOnly", "{policy}");
    let spec = host.turn_spec(&turn);
    assert_eq!(spec["approvalPolicy"], "untrusted", "{spec}");
    assert_eq!(spec["sandboxPolicy"], policy, "{spec}");
    // The turn's own settings reach it.
    let turn = host.start_script(
        "settings",
        json!({"approvalPolicy": "never", "sandboxPolicy": {"type": "dangerFullAccess"}}),
    );
    messages.extend(host.until_completed(&turn));
    let texts = agent_texts(&messages);
    assert_eq!(texts[3..5], ["never", "danger-full-access"], "{texts:?}");
    // A sandbox the provider does not list is refused, naming provider, setting and list.
    let mut params = json!({"threadId": host.thread_id,
        "input": [{"type": "text", "text": "script:settings"}],
        "sandboxPolicy": {"type": "workspaceWrite"}});
    let refused = host.request("turn/start", params.take());
    assert_refused(
        &mut host,
        &refused,
        "fake",
        &["sandbox `workspace-write`", "sandbox_modes"],
    );
    // The second turn's settings stayed the thread's (as in Codex); the refused ones did not.
    let turn = host.start_script("settings", json!({}));
    messages.extend(host.until_completed(&turn));
    let texts = agent_texts(&messages);
    assert_eq!(texts[6..8], ["never", "danger-full-access"], "{texts:?}");
    host.assert_conforms(&messages);
}

/// A turn's canonical events (`events.jsonl`).
fn turn_events(host: &Host, turn: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(host.turn_dir(turn).join("events.jsonl")).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|record| record["event"].clone())
        .collect()
}

#[test]
fn with_no_client_attached_claudes_permission_request_is_denied_by_the_policy() {
    let mut host = claude_asking_host();
    let response = turn_start(&mut host, "make a file", json!({"background": true}));
    let turn = started_turn(&response);
    // Nobody is left to answer: the runner's policy (`on-request`) decides.
    host.server.kill();
    let exit = host.turn_dir(&turn).join("exit.json");
    wait_until(TURN_TIMEOUT, "the background turn to end", || {
        exit.exists().then_some(())
    });
    let record: Value = serde_json::from_slice(&std::fs::read(&exit).unwrap()).unwrap();
    assert_eq!(record["status"], "completed", "{record}");
    let events = turn_events(&host, &turn);
    let requested = events
        .iter()
        .find(|e| e["type"] == "approvalRequested")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(requested["command"], WRITING_COMMAND);
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approvalResolved")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(resolved["requestId"], requested["requestId"]);
    assert_eq!(resolved["decision"], "decline");
    assert_eq!(resolved["decidedBy"], "policy");
    let item = events
        .iter()
        .find(|e| e["type"] == "itemCompleted" && e["item"]["type"] == "commandExecution")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(item["item"]["status"], "declined", "{item}");
    assert!(
        !host.sandbox.work_dir().join("made-by-tool").exists(),
        "the command ran without an answer"
    );
}

#[test]
fn gemini_in_a_workspace_without_network_runs_no_command() {
    let script = vec![
        GeminiReply::Model {
            text: "Making it.".to_owned(),
            shell: Some("touch made-by-gemini".to_owned()),
            usage: (10, 2),
        },
        GeminiReply::Model {
            text: "It was refused.".to_owned(),
            shell: None,
            usage: (20, 3),
        },
    ];
    // `never` with Codex's workspace-write (network off): Gemini's container would have the
    // network, so the turn gets `auto_edit`, which refuses commands headless.
    let mut host = GeminiHost::new(
        script,
        json!({"approvalPolicy": "never", "sandbox": "workspace-write"}),
    );
    let (turn, messages) = host.completed_turn("make a file");
    let argv = recorded_argv(&host, &turn);
    assert!(has_flag(&argv, "--approval-mode", "auto_edit"), "{argv:?}");
    assert!(!argv.iter().any(|a| a == "--sandbox"), "{argv:?}");
    assert!(
        !host.sandbox.work_dir().join("made-by-gemini").exists(),
        "the command ran: {messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(
        completed["items"][0]["text"], "It was refused.",
        "{completed}"
    );
    host.assert_conforms(&messages);
}
