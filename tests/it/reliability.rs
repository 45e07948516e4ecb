//! Reliability: a seeded generator throws mutated input at every parser of the project and at
//! the running server, and checks that nothing panics, every bad line gets its precise
//! JSON-RPC error, and the server keeps serving.
//!
//! The inputs are mutations of a corpus taken from the fixtures (the client messages of every
//! transcript and Codex capture, the backend lines of the fake-agent scripts, the
//! configuration examples): byte flips, insertions of JSON-significant tokens, truncations,
//! splices of two entries, and, for JSON, a random node of the tree replaced by a random value
//! (huge numbers, deep nesting, odd strings). The seed is printed; `RELIABILITY_SEED=N` runs
//! the same inputs again. Counts are fixed, so each test is bounded.
//!
//! The soak test (memory and file descriptors flat over many turns) is in
//! `reliability_soak.rs`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use agent_host::backend::{UsageBase, claude, codex_jsonl, gemini};
use agent_host::config::Config;
use agent_host::jsonrpc::{Incoming, Line, classify};
use agent_host::protocol::ClientRequest;
use serde_json::{Value, json};

use crate::support::host::Host;
use crate::support::{Sandbox, ServerProcess};

/// A small, fast, seedable generator (xorshift64*): the same seed gives the same inputs.
pub struct Rng(u64);

impl Rng {
    /// The generator of `RELIABILITY_SEED`, else of a seed from the clock; prints the seed
    /// with `what`, so a failure can be replayed.
    pub fn seeded(what: &str) -> Rng {
        let seed = std::env::var("RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{what}: RELIABILITY_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Tokens that matter to JSON and TOML parsers.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0.0",
    "18446744073709551616",
    "-9223372036854775809",
    "\\u0000",
    "\\ud800",
    "\\",
    "\u{feff}",
    "\u{10ffff}",
    "=",
    "\n",
    "'''",
    "[[",
    "]]",
    "#",
    "NaN",
    "inf",
];

/// One byte-level mutation of `input` (one to four edits, or a splice with `other`).
pub fn mutate_bytes(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.below(out.len() + 1)
        };
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, rng.next() as u8),
            2 => {
                let token = rng.pick(TOKENS).as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            3 => out.truncate(at),
            4 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            _ => {
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
    out
}

/// A random JSON value: scalars at the edges of their types, strings, and nesting.
pub fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 9 } else { 12 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(u64::MAX),
        4 => json!(-1),
        5 => json!(f64::MAX),
        6 => json!(""),
        7 => json!("x".repeat(rng.below(70_000))),
        8 => json!(rng.pick(&["../../etc/passwd", "\u{0}", "é\u{202e}", "thr_1", "-1"])),
        9 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        10 => nested(rng.below(200)),
        _ => {
            let keys = [
                "id", "threadId", "cwd", "limit", "input", "type", "text", "x",
            ];
            let mut object = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                object.insert((*rng.pick(&keys)).to_owned(), random_value(rng, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// `depth` arrays inside each other (past serde_json's recursion limit at 128).
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(0), |inner, _| json!([inner]))
}

/// A structural mutation: one node of `value` (any depth) replaced by a random value.
pub fn mutate_tree(rng: &mut Rng, value: &mut Value) {
    let children = match value {
        Value::Object(map) => map.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if children == 0 || rng.below(3) == 0 {
        *value = random_value(rng, 0);
        return;
    }
    let index = rng.below(children);
    match value {
        Value::Object(map) => {
            if let Some((_, child)) = map.iter_mut().nth(index) {
                mutate_tree(rng, child);
            }
        }
        Value::Array(items) => mutate_tree(rng, &mut items[index]),
        _ => {}
    }
}

/// One mutated input from `corpus`: half byte-level, half structural (for JSON entries).
pub fn mutated(rng: &mut Rng, corpus: &[String]) -> Vec<u8> {
    let entry = rng.pick(corpus);
    if rng.below(2) == 0
        && let Ok(mut value) = serde_json::from_str::<Value>(entry)
    {
        mutate_tree(rng, &mut value);
        return value.to_string().into_bytes();
    }
    let other = rng.pick(corpus).clone();
    mutate_bytes(rng, entry.as_bytes(), other.as_bytes())
}

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn files_in(dir: &str, ext: &str) -> Vec<String> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut names: Vec<_> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Every client → server message of the transcripts and Codex captures.
pub fn client_corpus() -> Vec<String> {
    let mut corpus = Vec::new();
    let mut texts = files_in("fixtures/transcripts", "jsonl");
    texts.extend(files_in("fixtures/codex-captures", "jsonl"));
    for text in texts {
        for line in text.lines() {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if entry["dir"] == "c2s" && entry["msg"].is_object() {
                corpus.push(entry["msg"].to_string());
            }
        }
    }
    assert!(corpus.len() > 100, "too small a corpus: {}", corpus.len());
    corpus
}

/// The JSON backend lines of the fake-agent scripts (`line {...}`), plus what each step
/// prints, as the codex `exec --json` stream.
fn backend_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = files_in("fixtures/agent-scripts", "txt")
        .iter()
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| line.strip_prefix("line ").map(str::to_owned))
        .collect();
    corpus.extend(
        [
            r#"{"type":"thread.started","thread_id":"s-1"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"echo hi","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"echo hi","aggregated_output":"hi\n","exit_code":0,"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"hello"}}"#,
            r#"{"type":"item.completed","item":{"id":"i3","type":"file_change","changes":[{"path":"a.txt","kind":"add"}],"status":"completed"}}"#,
            r#"{"type":"item.updated","item":{"id":"i4","type":"todo_list","items":[{"text":"a","completed":false}]}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":3,"cached_input_tokens":1,"output_tokens":2}}"#,
            r#"{"type":"turn.failed","error":{"message":"boom"}}"#,
            r#"{"type":"error","message":"bad"}"#,
            // Gemini CLI stream-json.
            r#"{"type":"init","session_id":"s-1","model":"gemini-2.5-flash"}"#,
            r#"{"type":"message","role":"assistant","content":"Running it.","delta":true}"#,
            r#"{"type":"tool_use","tool_name":"run_shell_command","tool_id":"r_1","parameters":{"command":"echo hi"}}"#,
            r#"{"type":"tool_result","tool_id":"r_1","status":"success","output":"hi"}"#,
            r#"{"type":"result","status":"success","stats":{"total_tokens":24,"input_tokens":20,"output_tokens":4}}"#,
            r#"{"type":"result","status":"error","error":{"type":"unknown","message":"no"},"stats":{}}"#,
        ]
        .map(str::to_owned),
    );
    corpus
}

/// Runs `check` on `count` mutations of `corpus`; a panic fails the test with the input and
/// the seed's replay instruction.
fn fuzz(what: &str, corpus: &[String], count: usize, mut check: impl FnMut(&[u8])) {
    let mut rng = Rng::seeded(what);
    for i in 0..count {
        let input = mutated(&mut rng, corpus);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!(
                "{what}: input #{i} panicked (replay with the RELIABILITY_SEED printed above): {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn jsonrpc_line_classification_never_panics_and_errors_precisely() {
    let corpus = client_corpus();
    fuzz("jsonrpc classify", &corpus, 20_000, |input| {
        match classify(input) {
            Line::Blank => assert!(
                input
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .unwrap_or(input)
                    .iter()
                    .all(u8::is_ascii_whitespace)
            ),
            Line::Invalid(err) => {
                // Parse error or invalid request, nothing else, and always a message.
                assert!(
                    [-32700, -32600].contains(&err.error.code),
                    "{:?}",
                    err.error
                );
                assert!(!err.error.message.is_empty());
            }
            Line::Message(Incoming::Request { method, params, .. }) => {
                // Request parsing: an error or a request, never a panic.
                let _ = ClientRequest::parse(&method, params);
            }
            Line::Message(_) => {}
        }
    });
}

/// One adapter of each stream kind fed `lines`, then its end; every event serializes.
fn feed_adapters(lines: &[Vec<u8>]) {
    let usage = || UsageBase::default();
    let mut codex = codex_jsonl::Stream::new("turn-1", "/w", usage());
    let mut claude_once = claude::Stream::new("turn-1", "/w", usage(), claude::InputKind::Once);
    let mut claude_messages =
        claude::Stream::new("turn-1", "/w", usage(), claude::InputKind::Messages);
    let mut gemini = gemini::Stream::new("turn-1", "/w", usage());
    let mut out = Vec::new();
    for line in lines {
        codex.on_line(line, &mut out);
        claude_once.on_line(line, &mut out);
        claude_messages.on_line(line, &mut out);
        gemini.on_line(line, &mut out);
    }
    codex.finish(&mut out);
    claude_once.finish(&mut out);
    claude_messages.finish(&mut out);
    gemini.finish(&mut out);
    for event in &out {
        serde_json::to_value(event).expect("an event serializes");
    }
}

#[test]
fn backend_stream_adapters_never_panic_on_mutated_lines() {
    let mut corpus = backend_corpus();
    corpus.extend(
        repo_file("fixtures/agent-scripts/claude-turn.txt")
            .lines()
            .filter_map(|l| l.strip_prefix("line ").map(str::to_owned)),
    );
    let mut rng = Rng::seeded("backend adapters");
    for round in 0..400 {
        // A stream: valid lines with mutated ones among them, in any order.
        let lines: Vec<Vec<u8>> = (0..1 + rng.below(30))
            .map(|_| match rng.below(3) {
                0 => rng.pick(&corpus).clone().into_bytes(),
                _ => mutated(&mut rng, &corpus),
            })
            .collect();
        if catch_unwind(AssertUnwindSafe(|| feed_adapters(&lines))).is_err() {
            let shown: Vec<_> = lines.iter().map(|l| String::from_utf8_lossy(l)).collect();
            panic!("backend adapters: stream #{round} panicked: {shown:#?}");
        }
    }
}

/// Configuration texts: the examples of docs/configuration.md and the tests' own.
fn config_corpus() -> Vec<String> {
    let doc = repo_file("docs/configuration.md");
    let mut corpus: Vec<String> = doc
        .split("```toml")
        .skip(1)
        .filter_map(|block| block.split("```").next().map(str::to_owned))
        .collect();
    let sandbox = Sandbox::new();
    Host::write_scripts(&sandbox, &[]);
    corpus.push(std::fs::read_to_string(sandbox.root().join("turns.toml")).unwrap());
    assert!(corpus.len() >= 3, "too few configuration examples");
    corpus
}

#[test]
fn configuration_parser_never_panics_on_mutated_files() {
    let corpus = config_corpus();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let overrides = [
        "interrupt.term_grace_ms=5",
        "default_provider=\"x\"",
        "providers.p.kind=\"claude\"",
        "a.b.c=[1,",
        "=",
    ];
    let mut rng = Rng::seeded("config overrides");
    fuzz("config files", &corpus, 3_000, |input| {
        std::fs::write(&path, input).unwrap();
        let chosen: Vec<String> = (0..rng.below(3))
            .map(|_| (*rng.pick(&overrides)).to_owned())
            .collect();
        if let Err(err) = Config::load(Some(&path), &chosen) {
            assert!(!err.to_string().is_empty());
        }
    });
}

/// The methods left out of the server fuzz: they start processes, write files outside the
/// state directory or wait on backends (their parsing is fuzzed without the server above).
fn runs_something(line: &str) -> bool {
    [
        "command/exec",
        "turn/",
        "review/",
        "shellCommand",
        "model/list",
        "account/",
        "externalAgentConfig/import",
        "Write",
        "write",
        "fuzzyFileSearch",
    ]
    .iter()
    .any(|m| line.contains(m))
}

/// How many error responses with this code and a `null` id the server should send for
/// `line`, as the library classifies it.
fn expected_null_id_error(line: &[u8]) -> Option<i64> {
    match classify(line) {
        Line::Invalid(err) if err.id.is_none() => Some(err.error.code),
        _ => None,
    }
}

#[test]
fn server_answers_every_mutated_line_and_keeps_serving() {
    let corpus: Vec<String> = client_corpus()
        .into_iter()
        .filter(|line| !runs_something(line))
        .collect();
    let sandbox = Sandbox::new();
    let mut server = ServerProcess::spawn(&sandbox.agent_host_spec(None, &[], &BTreeMap::new()));
    server.initialize();
    let mut rng = Rng::seeded("server lines");
    let mut expected: BTreeMap<i64, usize> = BTreeMap::new();
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for i in 0..300 {
        let mut line = mutated(&mut rng, &corpus);
        line.retain(|&b| b != b'\n' && b != b'\r');
        if runs_something(&String::from_utf8_lossy(&line)) {
            continue;
        }
        if let Some(code) = expected_null_id_error(&line) {
            *expected.entry(code).or_default() += 1;
        }
        server.send_bytes(&line);
        server.send_bytes(b"\n");
        // A probe after each line: the server still answers, in time.
        let probe = json!(format!("probe-{i}"));
        let (answer, before) = server.request(probe, "thread/list", json!({"limit": 1}));
        assert!(
            answer.get("result").is_some(),
            "probe after {line:?}: {answer}"
        );
        for message in before.iter().chain(std::iter::once(&answer)) {
            check_message(message);
            if message["id"].is_null() && message.get("method").is_none() {
                let code = message["error"]["code"].as_i64().unwrap_or(0);
                *seen.entry(code).or_default() += 1;
            }
        }
    }
    assert_eq!(seen, expected, "null-id errors by code: seen vs expected");
    server.close_stdin();
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");
    let stderr = server
        .stderr_to_end(Duration::from_secs(10))
        .expect("stderr closes");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A server message is a JSON-RPC response (result, or error with code and message) or a
/// request/notification with a method.
fn check_message(message: &Value) {
    if message.get("method").is_some() {
        assert!(message["method"].is_string(), "{message}");
        return;
    }
    assert!(message.get("id").is_some(), "{message}");
    match (message.get("result"), message.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            assert!(error["code"].is_i64(), "{message}");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{message}"
            );
        }
        _ => panic!("neither result nor error: {message}"),
    }
}

#[test]
fn turns_of_mutated_backend_lines_end_exactly_once_and_conform() {
    let corpus = backend_corpus();
    let mut rng = Rng::seeded("backend turns");
    let mut scripts = Vec::new();
    for t in 0..15 {
        let mut text = String::from("start\n");
        for _ in 0..1 + rng.below(12) {
            let line =
                String::from_utf8_lossy(&mutated(&mut rng, &corpus)).replace(['\n', '\r'], " ");
            text.push_str(&format!("line {line}\n"));
        }
        if rng.below(2) == 0 {
            text.push_str("complete\n");
        }
        scripts.push((format!("fuzz{t}"), text));
    }
    let named: Vec<(&str, &str)> = scripts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let mut host = Host::fake(&named);
    for (name, text) in &scripts {
        let turn = host.start_script(name, json!({}));
        let messages = host.until_completed_or(&turn, &|| format!("script {name}:\n{text}"));
        let done = messages.last().unwrap();
        let status = &done["params"]["turn"]["status"];
        assert!(
            status == "completed" || status == "failed",
            "{name} ended {status}:\n{text}"
        );
        host.assert_conforms(&messages);
    }
    // Still serving, and the thread reads back with every turn.
    let read = host.read_thread();
    let turns = read["result"]["thread"]["turns"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(turns, scripts.len(), "{read}");
}

#[test]
fn server_refuses_mutated_configurations_without_panicking() {
    let corpus = config_corpus();
    let mut rng = Rng::seeded("server configs");
    for i in 0..25 {
        let sandbox = Sandbox::new();
        let text = mutated(&mut rng, &corpus);
        let path = sandbox.root().join("fuzzed.toml");
        std::fs::write(&path, &text).unwrap();
        let expected_ok = Config::load(Some(&path), &[]).is_ok();
        let mut server =
            ServerProcess::spawn(&sandbox.agent_host_spec(Some(&path), &[], &BTreeMap::new()));
        let context = || format!("config #{i}:\n{}", String::from_utf8_lossy(&text));
        if expected_ok {
            server.initialize();
            server.close_stdin();
        }
        let status = server.wait_exit(Duration::from_secs(20));
        // All of stderr: the reader thread may still hold the last chunk when the exit is seen.
        let stderr = server
            .stderr_to_end(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("stderr stayed open: {}", context()));
        assert!(!stderr.contains("panicked"), "{}\n{stderr}", context());
        match status {
            Some(status) if expected_ok => assert!(status.success(), "{}", context()),
            Some(status) => {
                assert_eq!(status.code(), Some(2), "{}\n{stderr}", context());
                assert!(stderr.contains("config"), "{}\n{stderr}", context());
            }
            None => panic!("the server did not exit: {}", context()),
        }
    }
}
