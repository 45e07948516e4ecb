//! Kind `codex`: each turn is the client of a fresh real `codex app-server` (0.169.0), which
//! talks to our mock of the Responses API on 127.0.0.1. The runner drives it over JSON-RPC;
//! these tests check what reaches our client (every message against the pinned schema), what
//! Codex received and did, and that nothing of a turn outlives it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::real_codex::{CodexHost, has_message};
use crate::support::host::{TURN_TIMEOUT, with_method};
use crate::support::mock_responses::{Output, Reply};
use crate::support::procs::{alive, assert_all_gone, descendants, wait_for_process};
use crate::support::{Describe, ServerProcess, wait_until};

/// A host whose provider `app` is kind `codex`, with `extra` in its `thread/start`.
fn app_host(script: Vec<Reply>, extra: Value) -> CodexHost {
    CodexHost::of_kind(script, "app", "codex", extra, &BTreeMap::new())
}

/// Codex's rollout files of the host's `CODEX_HOME`, oldest first.
fn rollouts(host: &CodexHost) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&host.sandbox.root().join("codex-home/sessions"), &mut found);
    found.sort();
    found
}

/// The `turn_context` records Codex wrote to its rollouts: the settings it ran turns with.
pub fn turn_contexts(host: &CodexHost) -> Vec<Value> {
    rollouts(host)
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|record| record["type"] == "turn_context")
                .map(|record| record["payload"].clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The Codex thread id the turn's app-server answered `thread/start` or `thread/resume` with.
fn codex_thread_id(stdout: &str) -> String {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| message["id"] == 1 && message["result"]["thread"]["id"].is_string())
        .and_then(|message| {
            message["result"]["thread"]["id"]
                .as_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no thread in codex's answers:\n{stdout}"))
}

const CHUNKS: [&str; 4] = ["Streaming ", "arrives ", "in four ", "pieces."];

#[test]
fn a_streamed_answer_reaches_the_client_as_several_deltas_in_order() {
    let script = vec![Reply::Complete {
        outputs: vec![Output::Chunks(CHUNKS.map(str::to_owned).to_vec())],
        usage: (30, 0, 8),
    }];
    let mut host = app_host(script, json!({}));
    let (turn, messages) = host.completed_turn("-v: say it in pieces");
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );

    // Every chunk is its own delta, in order, all before the item completes.
    let completed_at = messages
        .iter()
        .position(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .unwrap_or_else(|| panic!("no agentMessage completed: {context}"));
    let item_id = &messages[completed_at]["params"]["item"]["id"];
    assert_eq!(
        messages[completed_at]["params"]["item"]["text"],
        CHUNKS.concat()
    );
    let deltas: Vec<(usize, &str)> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m["method"] == "item/agentMessage/delta")
        .map(|(at, m)| {
            assert_eq!(&m["params"]["itemId"], item_id, "{context}");
            (at, m["params"]["delta"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        deltas.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
        CHUNKS,
        "{context}"
    );
    assert!(deltas.iter().all(|(at, _)| *at < completed_at), "{context}");
    // One userMessage item (ours), not a second one from Codex.
    let user_items = with_method(&messages, "item/started")
        .into_iter()
        .filter(|m| m["params"]["item"]["type"] == "userMessage")
        .count();
    assert!(user_items <= 1, "{context}");
    let first = host.mock.wait_request(0, Duration::ZERO);
    assert!(
        has_message(&first, "user", "-v: say it in pieces"),
        "{first}"
    );
    // The end of our turn is Codex's exit.
    let backend = &host.process_record(&turn)["backend"];
    let (pid, start) = (
        backend["pid"].as_i64().unwrap() as i32,
        backend["startTime"].as_u64().unwrap(),
    );
    assert!(
        !alive(pid, start),
        "codex app-server still runs at turn/completed"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["items"][0]["text"], CHUNKS.concat(), "{context}");
    let mut all = messages;
    all.push(host.read_thread());
    host.assert_conforms_and_mock_done(&all);
}

#[test]
fn the_sandbox_and_approval_settings_reach_codex() {
    let reply = |text: &str| Reply::Complete {
        outputs: vec![Output::Message(text.to_owned())],
        usage: (10, 0, 1),
    };
    let mut host = app_host(
        vec![reply("ok"), reply("ok again")],
        json!({"sandbox": "read-only", "approvalPolicy": "untrusted", "model": "mock-model-b"}),
    );
    // Turn 1 runs with the thread's settings.
    let (turn1, mut messages) = host.completed_turn("what are my settings?");
    // Turn 2 with settings of its own: a whole sandbox policy, another approval policy.
    let extra_root = host.sandbox.root().join("extra-root");
    std::fs::create_dir_all(&extra_root).unwrap();
    let extra_root = extra_root.display().to_string();
    let policy = json!({"type": "workspaceWrite", "writableRoots": [extra_root],
                        "networkAccess": true});
    let turn2 = host.start_turn_params(json!({
        "input": [{"type": "text", "text": "and now?"}],
        "sandboxPolicy": policy,
        "approvalPolicy": "never",
    }));
    messages.extend(host.until_completed(&turn2));
    let contexts = turn_contexts(&host);
    assert_eq!(contexts.len(), 2, "{contexts:#?}");
    let (first, second) = (&contexts[0], &contexts[1]);
    assert_eq!(first["approval_policy"], "untrusted", "{first}");
    assert_eq!(first["sandbox_policy"]["type"], "read-only", "{first}");
    assert_eq!(first["model"], "mock-model-b", "{first}");
    assert_eq!(
        first["cwd"],
        host.sandbox.work_dir().display().to_string(),
        "{first}"
    );
    assert_eq!(second["approval_policy"], "never", "{second}");
    let sandbox = &second["sandbox_policy"];
    assert_eq!(sandbox["type"], "workspace-write", "{second}");
    assert_eq!(sandbox["network_access"], true, "{second}");
    assert!(
        sandbox["writable_roots"]
            .as_array()
            .is_some_and(|roots| roots.contains(&json!(extra_root))),
        "{second}"
    );
    for request in 0..2 {
        assert_eq!(
            host.mock.wait_request(request, Duration::ZERO)["model"],
            "mock-model-b"
        );
    }
    // What the runner was given: Codex's own shapes, passed as they are.
    assert_eq!(host.turn_spec(&turn1)["sandboxPolicy"]["type"], "readOnly");
    let mut normalised = policy;
    normalised["excludeTmpdirEnvVar"] = json!(false);
    normalised["excludeSlashTmp"] = json!(false);
    assert_eq!(host.turn_spec(&turn2)["sandboxPolicy"], normalised);
    host.assert_conforms_and_mock_done(&messages);
}

#[test]
fn a_setting_codex_cannot_honour_is_refused_at_turn_start() {
    let host = app_host(Vec::new(), json!({}));
    // A second server on the same configuration, whose client opts into the experimental
    // API and so may set a granular approval policy on its thread.
    let config = host.sandbox.root().join("real-codex.toml");
    let mut server = ServerProcess::spawn(&host.sandbox.agent_host_spec(
        Some(&config),
        &[],
        &BTreeMap::new(),
    ));
    let client = json!({"name": "agent_host_tests", "title": null, "version": "0.0.1"});
    let params = json!({"clientInfo": client, "capabilities": {"experimentalApi": true}});
    let (initialized, _) = server.request(json!(1), "initialize", params);
    assert!(initialized["result"].is_object(), "{initialized}");
    server.send_json(&json!({"method": "initialized"}));
    let policy =
        json!({"granular": {"mcp_elicitations": true, "rules": true, "sandbox_approval": true}});
    let cwd = host.sandbox.work_dir().display().to_string();
    let (started, _) = server.request(
        json!(2),
        "thread/start",
        json!({"cwd": cwd, "modelProvider": "app", "approvalPolicy": policy}),
    );
    let thread = started["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    let (response, _) = server.request(
        json!(3),
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": "go"}]}),
    );
    let message = response["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"));
    assert_eq!(response["error"]["code"], -32602, "{response}");
    assert!(message.contains("provider `app`"), "{message}");
    assert!(message.contains("approvalPolicy `granular`"), "{message}");
    // No turn ran: no turn directory, and Codex was never asked.
    let turns = host
        .sandbox
        .state_dir()
        .join("threads")
        .join(&thread)
        .join("turns");
    let made = std::fs::read_dir(&turns).map(|d| d.count()).unwrap_or(0);
    assert_eq!(made, 0, "a turn directory was made");
    assert!(host.mock.drain().is_empty(), "codex was asked");
    // The server goes on serving.
    let (read, _) = server.request(json!(4), "thread/read", json!({"threadId": thread}));
    assert!(read["result"].is_object(), "{read}");
}

/// A turn whose model runs `touch MARK` outside the sandbox (asking to escalate, so Codex
/// asks for an approval under `on-request`), then answers `DONE`.
fn escalating_script(mark: &str) -> Vec<Reply> {
    vec![
        Reply::Complete {
            outputs: vec![Output::ExecCommand(json!({
                "cmd": format!("touch {mark}"),
                "sandbox_permissions": "require_escalated",
                "justification": "the test needs the file",
            }))],
            usage: (20, 0, 4),
        },
        Reply::Complete {
            outputs: vec![Output::Message(DONE.to_owned())],
            usage: (30, 0, 2),
        },
    ]
}

const DONE: &str = "Done with the command.";

/// Runs the escalating turn, answers Codex's approval request with `decision`; returns the
/// turn's messages (the request among them), its command item and whether the file exists.
fn approval_round_trip(decision: &str) -> (CodexHost, Vec<Value>, Value, bool) {
    let mark = format!("made-{decision}");
    let mut host = app_host(
        escalating_script(&mark),
        json!({"approvalPolicy": "on-request", "sandbox": "workspace-write"}),
    );
    let turn = host.start_turn("make the file");
    let (request, mut messages) = host
        .server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/commandExecution/requestApproval"
        })
        .unwrap_or_else(|(err, got)| panic!("no approval request: {err}: {got:#?}"));
    let params = &request["params"];
    assert_eq!(params["threadId"], host.thread_id);
    assert_eq!(params["turnId"], turn);
    assert!(
        params["command"]
            .as_str()
            .is_some_and(|c| c.contains(&mark)),
        "{request}"
    );
    assert!(
        !host.sandbox.work_dir().join(&mark).exists(),
        "the command ran before its approval"
    );
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": decision}}));
    messages.push(request);
    messages.extend(host.until_completed(&turn));
    let item = messages
        .iter()
        .rev()
        .find(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "commandExecution"
        })
        .map(|m| m["params"]["item"].clone())
        .unwrap_or_else(|| panic!("no command item: {messages:#?}"));
    let exists = host.sandbox.work_dir().join(&mark).exists();
    (host, messages, item, exists)
}

#[test]
fn an_accepted_command_approval_runs_the_command() {
    let (host, messages, item, exists) = approval_round_trip("accept");
    let context = format!("{messages:#?}");
    host.mock.wait_request(1, Duration::ZERO);
    assert!(exists, "the accepted command did not run: {context}");
    assert_eq!(item["status"], "completed", "{item}");
    assert_eq!(item["exitCode"], 0, "{item}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], DONE, "{context}");
    assert_eq!(
        with_method(&messages, "serverRequest/resolved").len(),
        1,
        "{context}"
    );
    host.assert_conforms_and_mock_done(&messages);
}

#[test]
fn a_declined_command_approval_does_not_run_it_and_the_turn_goes_on() {
    let (host, messages, item, exists) = approval_round_trip("decline");
    let context = format!("{messages:#?}");
    assert!(!exists, "the declined command ran: {context}");
    assert_eq!(item["status"], "declined", "{item}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], DONE, "{context}");
    // The model heard of the refusal and was asked again.
    host.mock.wait_request(1, Duration::ZERO);
    host.assert_conforms_and_mock_done(&messages);
}

#[test]
fn interrupting_a_codex_turn_during_a_long_command_leaves_no_process() {
    let script = vec![
        Reply::Complete {
            outputs: vec![
                Output::Message("Starting a long job.".to_owned()),
                Output::ExecCommand(json!({"cmd": "sleep 600", "yield_time_ms": 30000})),
            ],
            usage: (10, 0, 5),
        },
        Reply::Stall,
    ];
    let mut host = app_host(script, json!({"approvalPolicy": "never"}));
    let turn = host.start_turn("start the long job");
    host.mock.wait_request(0, TURN_TIMEOUT);
    let record = host.process_record(&turn);
    let runner = record["runner"]["pid"].as_i64().unwrap() as i32;
    let runner_start = record["runner"]["startTime"].as_u64().unwrap();
    let backend_pgid = record["backend"]["pgid"].as_i64().unwrap() as i32;
    let before = wait_for_process(runner, &[backend_pgid], "sleep");

    let response = host.interrupt(&turn);
    assert_eq!(response["result"], json!({}), "{response}");
    let messages = host.until_completed(&turn);
    let stdout = host.backend_stdout(&turn);
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(
        completed["status"], "interrupted",
        "{messages:#?}\n{stdout}"
    );
    // Codex's own turn/interrupt went first: it ended its turn itself, interrupted.
    assert!(
        stdout.lines().any(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|m| {
                m["method"] == "turn/completed" && m["params"]["turn"]["status"] == "interrupted"
            })
        }),
        "codex did not end its turn interrupted:\n{stdout}"
    );
    let left: Vec<_> = before
        .iter()
        .filter(|p| alive(p.pid, p.start_time))
        .collect();
    assert!(left.is_empty(), "left behind at turn/completed: {left:#?}");
    assert_all_gone(&[(runner, runner_start)], TURN_TIMEOUT);
    let stragglers = descendants(runner, &[backend_pgid]);
    assert!(stragglers.is_empty(), "left behind: {stragglers:#?}");
    host.assert_conforms(&messages);
}

#[test]
fn a_continued_thread_resumes_the_codex_thread_on_the_next_turn() {
    let script = vec![
        Reply::Complete {
            outputs: vec![Output::Message("Noted: kiwi.".to_owned())],
            usage: (40, 0, 4),
        },
        Reply::Complete {
            outputs: vec![Output::Message("The word was kiwi.".to_owned())],
            usage: (60, 40, 5),
        },
    ];
    let mut host = app_host(script, json!({"continueSession": true}));
    let (turn1, messages1) = host.completed_turn("remember the word kiwi");
    let codex_thread = codex_thread_id(&host.backend_stdout(&turn1));
    assert_eq!(host.thread_record()["backendSessionId"], codex_thread);

    let (turn2, messages2) = host.completed_turn("which word?");
    assert_eq!(host.turn_spec(&turn2)["resumeSessionId"], codex_thread);
    let stdout2 = host.backend_stdout(&turn2);
    assert_eq!(codex_thread_id(&stdout2), codex_thread, "{stdout2}");
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(
        has_message(&second, "user", "remember the word kiwi"),
        "{second}"
    );
    assert!(
        has_message(&second, "assistant", "Noted: kiwi."),
        "{second}"
    );
    assert!(has_message(&second, "user", "which word?"), "{second}");
    // The thread's total counts each request once.
    let usage = with_method(&messages2, "thread/tokenUsage/updated");
    let total = &usage.last().unwrap()["params"]["tokenUsage"]["total"];
    let codex_usage: Vec<&str> = stdout2
        .lines()
        .filter(|line| line.contains("tokenUsage"))
        .collect();
    assert_eq!(
        total["totalTokens"],
        44 + 65,
        "{usage:#?}\n{codex_usage:#?}"
    );
    let mut all = messages1;
    all.extend(messages2);
    host.assert_conforms_and_mock_done(&all);
}

/// A turn whose model adds `patched.txt` with Codex's `apply_patch` (through its shell tool,
/// which Codex takes as a patch), then answers `DONE`.
fn patching_script() -> Vec<Reply> {
    let patch = "*** Begin Patch\n*** Add File: patched.txt\n+hello from the patch\n*** End Patch";
    vec![
        Reply::Complete {
            outputs: vec![Output::ExecCommand(json!({
                "cmd": format!("apply_patch <<'EOF'\n{patch}\nEOF\n"),
            }))],
            usage: (20, 0, 4),
        },
        Reply::Complete {
            outputs: vec![Output::Message(DONE.to_owned())],
            usage: (30, 0, 2),
        },
    ]
}

/// Runs the patching turn under `untrusted`, answers Codex's file change approval request
/// with `decision`; returns the turn's messages, its file change item and the patched file.
fn file_change_round_trip(decision: &str) -> (CodexHost, Vec<Value>, Value, Option<String>) {
    let mut host = app_host(
        patching_script(),
        json!({"approvalPolicy": "untrusted", "sandbox": "workspace-write"}),
    );
    let turn = host.start_turn("add the file");
    let (request, mut messages) = host
        .server
        .wait_for(TURN_TIMEOUT, |m| {
            m["method"] == "item/fileChange/requestApproval" || m["method"] == "turn/completed"
        })
        .unwrap_or_else(|(err, got)| panic!("no approval request: {err}: {got:#?}"));
    assert_eq!(
        request["method"],
        "item/fileChange/requestApproval",
        "{messages:#?}\n{}",
        host.backend_stdout(&turn)
    );
    let params = &request["params"];
    assert_eq!(params["threadId"], host.thread_id);
    assert_eq!(params["turnId"], turn);
    // The item the request is about was announced before it, with the change in it.
    let started = messages
        .iter()
        .find(|m| m["method"] == "item/started" && m["params"]["item"]["type"] == "fileChange")
        .unwrap_or_else(|| panic!("no fileChange item before the request: {messages:#?}"));
    assert_eq!(started["params"]["item"]["id"], params["itemId"]);
    let path = host.sandbox.work_dir().join("patched.txt");
    assert!(!path.exists(), "the patch was applied before its approval");
    host.server
        .send_json(&json!({"id": request["id"], "result": {"decision": decision}}));
    messages.push(request);
    messages.extend(host.until_completed(&turn));
    let item = messages
        .iter()
        .rev()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "fileChange")
        .map(|m| m["params"]["item"].clone())
        .unwrap_or_else(|| panic!("no file change item: {messages:#?}"));
    let content = std::fs::read_to_string(&path).ok();
    (host, messages, item, content)
}

#[test]
fn an_accepted_file_change_approval_applies_the_patch() {
    let (host, messages, item, content) = file_change_round_trip("accept");
    let context = format!("{messages:#?}");
    assert_eq!(
        content.as_deref(),
        Some("hello from the patch\n"),
        "{context}"
    );
    assert_eq!(item["status"], "completed", "{item}");
    assert!(
        item["changes"][0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("patched.txt")),
        "{item}"
    );
    // Codex's diff of the turn reaches the client as turn/diff/updated.
    let diffs = with_method(&messages, "turn/diff/updated");
    assert!(
        diffs.iter().any(|m| m["params"]["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+hello from the patch"))),
        "{context}"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], DONE, "{context}");
    host.mock.wait_request(1, Duration::ZERO);
    host.assert_conforms_and_mock_done(&messages);
}

#[test]
fn a_declined_file_change_approval_leaves_the_file_alone_and_the_turn_goes_on() {
    let (host, messages, item, content) = file_change_round_trip("decline");
    let context = format!("{messages:#?}");
    assert_eq!(content, None, "the declined patch was applied: {context}");
    assert_eq!(item["status"], "declined", "{item}");
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], DONE, "{context}");
    host.mock.wait_request(1, Duration::ZERO);
    host.assert_conforms_and_mock_done(&messages);
}

#[test]
fn a_steer_during_a_long_command_reaches_codex_as_its_own_turn_steer() {
    let steer_text = "Also mention the steering kiwi.";
    let answer = "Done, and the steering kiwi is mentioned.";
    let script = vec![
        Reply::Complete {
            outputs: vec![Output::ExecCommand(
                json!({"cmd": "cat release.fifo", "yield_time_ms": 30000}),
            )],
            usage: (10, 0, 5),
        },
        Reply::Complete {
            outputs: vec![Output::Message(answer.to_owned())],
            usage: (20, 0, 6),
        },
    ];
    let mut host = app_host(script, json!({"approvalPolicy": "never"}));
    let fifo = host.sandbox.work_dir().join("release.fifo");
    crate::real_claude::make_fifo(&fifo);
    let turn = host.start_turn("run the blocking command");
    let turn_id = turn.clone();
    host.until_message("the command's item/started", |m| {
        m["method"] == "item/started"
            && m["params"]["turnId"] == turn_id
            && m["params"]["item"]["type"] == "commandExecution"
    });
    let params = json!({"threadId": host.thread_id, "expectedTurnId": turn,
        "input": [{"type": "text", "text": steer_text, "text_elements": []}]});
    let response = host.request("turn/steer", params);
    assert_eq!(response["result"], json!({"turnId": turn}), "{response}");
    // Codex took the steer (it answered our turn/steer) before the command may end.
    wait_until(
        TURN_TIMEOUT,
        Describe(|| {
            format!(
                "codex to answer turn/steer:\n{}",
                host.backend_stdout(&turn)
            )
        }),
        || {
            host.backend_stdout(&turn)
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .any(|m| m["id"] == 100 && m["result"].is_object())
                .then_some(())
        },
    );
    crate::real_claude::release_fifo(&fifo);
    let messages = host.until_completed(&turn);
    let context = format!(
        "{messages:#?}\nbackend.stdout:\n{}",
        host.backend_stdout(&turn)
    );
    // The model got the steered text in the request after the command's output, not before.
    let first = host.mock.wait_request(0, Duration::ZERO);
    assert!(!first.to_string().contains(steer_text), "{first}");
    let second = host.mock.wait_request(1, Duration::ZERO);
    assert!(has_message(&second, "user", steer_text), "{second}");
    // The steered input is one userMessage item of the turn (ours: Codex's copy is dropped);
    // the turn ends once, with the answer.
    let steered = messages
        .iter()
        .filter(|m| {
            m["method"] == "item/completed"
                && m["params"]["item"]["type"] == "userMessage"
                && m["params"]["item"]["content"][0]["text"] == steer_text
        })
        .count();
    assert_eq!(steered, 1, "{context}");
    assert_eq!(
        with_method(&messages, "turn/completed").len(),
        1,
        "{context}"
    );
    let completed = &messages.last().unwrap()["params"]["turn"];
    assert_eq!(completed["status"], "completed", "{context}");
    assert_eq!(completed["items"][0]["text"], answer, "{context}");
    let mut all = messages;
    all.push(response);
    host.assert_conforms_and_mock_done(&all);
}
