//! Protocol-front behaviour that transcripts cannot show well: bursts, huge lines, several
//! servers on one state directory, a state directory that cannot be used.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{DEFAULT_TIMEOUT, Sandbox};

#[test]
fn a_burst_of_3000_requests_gets_exactly_one_response_each() {
    let sandbox = Sandbox::new();
    let mut server = sandbox.spawn_agent_host();
    server.initialize();
    // Written in one go, as the Codex capture `18_overload` did (Codex dropped 555 of them).
    let mut burst = String::new();
    for id in 0..3000 {
        burst.push_str(&format!(
            "{{\"id\":{id},\"method\":\"thread/list\",\"params\":{{}}}}\n"
        ));
    }
    server.send_bytes(burst.as_bytes());
    let mut seen = vec![0u32; 3000];
    for _ in 0..3000 {
        let message = server.recv_json(DEFAULT_TIMEOUT).expect("a response");
        let id = message["id"].as_u64().expect("a response id") as usize;
        assert!(message.get("result").is_some(), "{message}");
        seen[id] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1));
    // Nothing more: the next request's answer is the next line.
    let (response, before) = server.request(json!("after"), "thread/loaded/list", json!({}));
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(response["result"]["data"], json!([]));
}

#[test]
fn a_64_mib_request_line_is_answered_and_the_server_keeps_serving() {
    let sandbox = Sandbox::new();
    let mut server = sandbox.spawn_agent_host();
    server.initialize();
    let huge = "x".repeat(64 * 1024 * 1024);
    let line = format!(
        "{{\"id\":1,\"method\":\"thread/start\",\"params\":{{\"developerInstructions\":\"{huge}\"}}}}\n"
    );
    server.send_bytes(line.as_bytes());
    let (response, _) = server
        .wait_for_response(&json!(1), DEFAULT_TIMEOUT * 6)
        .unwrap_or_else(|(err, got)| panic!("{err}: {got:?}"));
    assert!(response["result"]["thread"]["id"].is_string(), "{response}");
    let (next, _) = server.request(json!(2), "thread/loaded/list", json!({}));
    assert_eq!(next["result"]["data"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_line_over_the_configured_maximum_gets_an_error_and_is_not_buffered() {
    let sandbox = Sandbox::new();
    let spec = sandbox.agent_host_spec(
        None,
        &["--max-line-bytes".into(), "1024".into()],
        &BTreeMap::new(),
    );
    let mut server = crate::support::ServerProcess::spawn(&spec);
    server.initialize();
    let line = format!(
        "{{\"id\":1,\"method\":\"thread/start\",\"params\":{{\"x\":\"{}\"}}}}\n",
        "y".repeat(4096)
    );
    server.send_bytes(line.as_bytes());
    let error: Value = server.recv_json(DEFAULT_TIMEOUT).expect("an error");
    assert_eq!(error["error"]["code"], -32600, "{error}");
    assert_eq!(error["id"], Value::Null);
    assert!(
        error["error"]["message"].as_str().unwrap().contains("1024"),
        "{error}"
    );
    let (next, _) = server.request(json!(2), "thread/loaded/list", json!({}));
    assert!(next.get("result").is_some());
}

#[test]
fn two_servers_share_one_state_directory() {
    let sandbox = Sandbox::new();
    let mut first = sandbox.spawn_agent_host();
    let mut second = sandbox.spawn_agent_host();
    first.initialize();
    second.initialize();
    let (started, _) = first.request(json!(1), "thread/start", json!({}));
    let id = started["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (named, _) = second.request(
        json!(1),
        "thread/name/set",
        json!({"threadId": id, "name": "shared"}),
    );
    assert_eq!(named["result"], json!({}), "{named}");
    let (read, _) = first.request(json!(2), "thread/read", json!({"threadId": id}));
    assert_eq!(read["result"]["thread"]["name"], "shared");
    let (resumed, _) = second.request(json!(3), "thread/resume", json!({"threadId": id}));
    assert_eq!(resumed["result"]["thread"]["id"], id.as_str());
}

#[test]
fn experimental_fields_need_the_capability_like_codex() {
    let sandbox = Sandbox::new();
    let mut server = sandbox.spawn_agent_host();
    server.initialize();
    for (params, descriptor) in [
        (
            json!({"mockExperimentalField": 1}),
            "thread/start.mockExperimentalField",
        ),
        (json!({"dynamicTools": []}), "thread/start.dynamicTools"),
        (
            json!({"approvalPolicy": {"granular": {}}}),
            "askForApproval.granular",
        ),
    ] {
        let (response, _) = server.request(json!(1), "thread/start", params);
        assert_eq!(response["error"]["code"], -32600, "{response}");
        assert_eq!(
            response["error"]["message"],
            format!("{descriptor} requires experimentalApi capability")
        );
    }
    let mut opted_in = sandbox.spawn_agent_host();
    let (init, _) = opted_in.request(
        json!(0),
        "initialize",
        json!({"clientInfo": {"name": "t", "version": "1"}, "capabilities": {"experimentalApi": true}}),
    );
    assert!(init.get("result").is_some());
    let (started, _) = opted_in.request(
        json!(1),
        "thread/start",
        json!({"mockExperimentalField": 1}),
    );
    assert!(started["result"]["thread"]["id"].is_string(), "{started}");
}

#[test]
fn a_state_directory_that_cannot_be_made_stops_the_server_at_start() {
    let sandbox = Sandbox::new();
    // A file where the state directory should be.
    std::fs::remove_dir(sandbox.state_dir()).unwrap();
    std::fs::write(sandbox.state_dir(), "not a directory").unwrap();
    let mut server = sandbox.spawn_agent_host();
    let status = server
        .wait_exit(DEFAULT_TIMEOUT)
        .expect("the server exits when it cannot make its state directory");
    assert_eq!(status.code(), Some(2));
    let stderr = server.stderr_to_end(DEFAULT_TIMEOUT).expect("stderr ends");
    let state = sandbox.state_dir().display().to_string();
    assert_eq!(
        stderr.trim_end(),
        format!(
            "agent-host: cannot open the state directory {state}: {state}: Not a directory \
             (os error 20)"
        )
    );
}

#[test]
fn an_index_that_cannot_be_opened_is_a_request_error_after_initialize() {
    let sandbox = Sandbox::new();
    // A directory where the index database should be: SQLite cannot open it.
    let index = sandbox.state_dir().join("index.sqlite");
    std::fs::create_dir(&index).unwrap();
    let mut server = sandbox.spawn_agent_host();
    // `initialize` does not need the index.
    let init = server.initialize();
    assert!(init["codexHome"].is_string(), "{init}");
    let expected = format!(
        "the thread index could not be opened: thread index: unable to open database file: {}",
        index.display()
    );
    let (started, _) = server.request(json!(1), "thread/start", json!({}));
    assert_eq!(started["error"]["code"], -32603, "{started}");
    assert_eq!(
        started["error"]["message"],
        format!("cannot store the thread: {expected}")
    );
    let (listed, _) = server.request(json!(2), "thread/list", json!({}));
    assert_eq!(listed["error"]["code"], -32603, "{listed}");
    assert_eq!(listed["error"]["message"], expected);
    // Requests that do not need it are served as ever.
    let (loaded, _) = server.request(json!(3), "thread/loaded/list", json!({}));
    assert_eq!(loaded["result"]["data"], json!([]), "{loaded}");
    server.close_stdin();
    let status = server.wait_exit(DEFAULT_TIMEOUT).expect("exit after EOF");
    assert!(status.success(), "{status:?}");
    // The failure is logged once, however often it is reported.
    let stderr = server.stderr_to_end(DEFAULT_TIMEOUT).expect("stderr ends");
    assert_eq!(
        stderr
            .matches("the thread index could not be opened")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn bad_values_are_quoted_short_and_a_byte_order_mark_is_skipped() {
    let sandbox = Sandbox::new();
    let mut server = sandbox.spawn_agent_host();
    server.initialize();
    // A 5 MB cursor that is no cursor: Codex's text, with a short prefix of the value.
    let cursor = "c".repeat(5 * 1024 * 1024);
    let (response, _) = server.request(json!(1), "thread/list", json!({"cursor": cursor}));
    let message = response["error"]["message"].as_str().expect("an error");
    assert_eq!(response["error"]["code"], -32600, "{message:.200}");
    assert!(message.starts_with("invalid cursor: ccc"), "{message:.200}");
    assert!(
        message.len() < 200,
        "{} bytes: {message:.200}",
        message.len()
    );
    // A wrong-typed 5 MB value: serde quotes it whole; the message is cut.
    let (response, _) = server.request(json!(2), "thread/list", json!({"limit": cursor}));
    let message = response["error"]["message"].as_str().expect("an error");
    assert_eq!(response["error"]["code"], -32602, "{message:.200}");
    assert!(
        message.len() < 2048,
        "{} bytes: {message:.200}",
        message.len()
    );
    // A method name of 1 MB.
    let method = "m".repeat(1024 * 1024);
    let (response, _) = server.request(json!(3), &method, json!({}));
    let message = response["error"]["message"].as_str().expect("an error");
    assert_eq!(response["error"]["code"], -32601, "{message:.200}");
    assert!(
        message.len() < 200,
        "{} bytes: {message:.200}",
        message.len()
    );
    // A line that starts with a UTF-8 byte-order mark is read as the message after it.
    server.send_bytes(b"\xEF\xBB\xBF{\"id\":4,\"method\":\"thread/loaded/list\",\"params\":{}}\n");
    let response = server.recv_json(DEFAULT_TIMEOUT).expect("a response");
    assert_eq!(
        response,
        json!({"id": 4, "result": {"data": [], "nextCursor": null}})
    );
}
