//! Entry points for the fuzz targets of `fuzz/` (`cargo fuzz`, `docs/testing.md`, "Fuzzing"):
//! each takes arbitrary bytes and runs one of the parsers that read what another program
//! wrote, the way the server or the runner runs it. None of them may panic on any input;
//! where a parser promises more than that, the entry point asserts it.
//!
//! The fuzz crate builds one binary for all of them (one build instead of one per parser):
//! [`Target`] names each parser, and the binary runs the one its environment names.
//!
//! Hidden from the documentation: only the fuzz crate and the seed test below call these.

use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::backend::Adapter;
use crate::config::Config;
use crate::events::{Event, Mode};
use crate::jsonrpc::{self, Incoming, Line, Outgoing};
use crate::protocol::methods::{ClientNotification, ClientRequest};
use crate::server::{ExperimentalApi, parse_error_object};
use crate::spec::{Approvals, BackendKind, GraceMs, InputMode, PromptVia, Provider, Spec};
use crate::transport::{self, InputLine};

/// One parser under fuzzing: what one run of the fuzz binary feeds its inputs to, chosen
/// by name (`AGENT_HOST_FUZZ_TARGET`); each has its own corpus, `fuzz/corpus/<name>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// [`framing_and_dispatch`].
    Framing,
    /// [`config`].
    Config,
    /// [`backend_stream`] of [`Stream::CodexJsonl`].
    CodexJsonl,
    /// [`backend_stream`] of Claude's stream-json: the first byte chooses one-shot (even) or
    /// stream-json input (odd), the rest is the stream.
    Claude,
    /// [`backend_stream`] of [`Stream::Gemini`].
    Gemini,
    /// [`backend_stream`] of [`Stream::CodexAppServer`].
    CodexAppServer,
    /// [`backend_stream`] of [`Stream::Acp`].
    Acp,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::Framing,
        Target::Config,
        Target::CodexJsonl,
        Target::Claude,
        Target::Gemini,
        Target::CodexAppServer,
        Target::Acp,
    ];

    /// The target's name: its corpus directory and the value that selects it.
    pub fn name(self) -> &'static str {
        match self {
            Target::Framing => "framing",
            Target::Config => "config",
            Target::CodexJsonl => "codex_jsonl",
            Target::Claude => "claude",
            Target::Gemini => "gemini",
            Target::CodexAppServer => "codex_app_server",
            Target::Acp => "acp",
        }
    }

    /// The target named `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|target| target.name() == name)
    }

    /// Feeds `data` to the target's parser.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Framing => framing_and_dispatch(data),
            Target::Config => config(data),
            Target::CodexJsonl => backend_stream(Stream::CodexJsonl, data),
            Target::Claude => {
                let Some((&mode, rest)) = data.split_first() else {
                    return;
                };
                let stream = match mode % 2 {
                    0 => Stream::Claude,
                    _ => Stream::ClaudeStreamJsonInput,
                };
                backend_stream(stream, rest);
            }
            Target::Gemini => backend_stream(Stream::Gemini, data),
            Target::CodexAppServer => backend_stream(Stream::CodexAppServer, data),
            Target::Acp => backend_stream(Stream::Acp, data),
        }
    }
}

/// The longest line the framing target accepts: small, so that fuzzed inputs reach the
/// overlong-line path.
const FRAMING_MAX_LINE: usize = 64;

/// The client's side of the wire: `data` split into lines by the transport's reader (with a
/// tiny buffer and line limit, so lines span reads and overlong ones are skipped), each
/// line classified by the JSON-RPC layer and a request read by the method table, and the
/// answer the loop gives to what it cannot serve written out as a wire line.
///
/// Asserts that the reader yields exactly the lines of a plain split at `\n`.
pub fn framing_and_dispatch(data: &[u8]) {
    let lines = read_lines(data);
    assert_eq!(lines, expected_lines(data), "the transport's lines");
    // The first byte chooses whether the session opted into the experimental API.
    let experimental = match data.first() {
        Some(byte) if byte % 2 == 1 => ExperimentalApi::Enabled,
        Some(_) | None => ExperimentalApi::Disabled,
    };
    for line in lines {
        if let InputLine::Line(line) = line {
            dispatch(&line, experimental);
        }
    }
}

/// The lines `transport::read_lines` makes of `data`.
fn read_lines(data: &[u8]) -> Vec<InputLine> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    });
    // Room for every line, so the reader never waits for a receiver that runs after it.
    let capacity = data.iter().filter(|&&b| b == b'\n').count() + 1;
    let (tx, mut rx) = tokio::sync::mpsc::channel(capacity);
    runtime.block_on(async {
        let reader = tokio::io::BufReader::with_capacity(7, data);
        transport::read_lines(reader, FRAMING_MAX_LINE, tx)
            .await
            .expect("reading from memory cannot fail");
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.try_recv() {
        lines.push(line);
    }
    lines
}

/// The lines of `data` by the transport's contract: split at `\n`, a last line without one
/// counts, one longer than the limit (counted with its `\r`) is reported by its length, a
/// kept line loses its final `\r`.
fn expected_lines(data: &[u8]) -> Vec<InputLine> {
    let mut parts: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if parts.last().is_some_and(|last| last.is_empty()) {
        parts.pop();
    }
    parts
        .into_iter()
        .map(|part| {
            if part.len() > FRAMING_MAX_LINE {
                InputLine::TooLong { bytes: part.len() }
            } else {
                InputLine::Line(part.strip_suffix(b"\r").unwrap_or(part).to_vec())
            }
        })
        .collect()
}

/// One input line as the loop reads it, up to the handler it would reach; the answers it
/// writes without a handler are serialized as they would go out.
fn dispatch(line: &[u8], experimental: ExperimentalApi) {
    let answer = match jsonrpc::classify(line) {
        Line::Blank => return,
        Line::Invalid(err) => match err.id {
            Some(id) => Outgoing::Response {
                id,
                result: Err(err.error),
            },
            None => Outgoing::Unaddressed { error: err.error },
        },
        Line::Message(Incoming::Request { id, method, params }) => {
            match ClientRequest::parse(&method, params) {
                Ok(request) => {
                    // What a handler receives is a value of the table's types: it serializes.
                    let _ = serde_json::to_value(&request);
                    return;
                }
                Err(err) => Outgoing::Response {
                    id,
                    result: Err(parse_error_object(err, experimental)),
                },
            }
        }
        Line::Message(Incoming::Notification { method, .. }) => {
            let _ = ClientNotification::parse(&method);
            return;
        }
        Line::Message(Incoming::Response { .. }) => return,
    };
    let written = answer.to_line();
    assert!(
        serde_json::from_slice::<Value>(&written).is_ok(),
        "an answer is one JSON value"
    );
}

/// The configuration parser: `data` as the file's text, then after each NUL byte one `-c`
/// override. An error is formatted as the server prints it (with its line and key).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let file = parts.next().unwrap_or_default();
    let overrides: Vec<String> = parts.map(str::to_owned).collect();
    match Config::from_toml(file, &overrides) {
        Ok(config) => {
            let _ = config.default_provider();
            let _ = serde_json::to_string(&config.layers().merged);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}

/// A backend's output format, as an adapter reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The codex `exec --json` event stream (kinds `jsonl` and `codex-exec`).
    CodexJsonl,
    /// Claude Code's stream-json, one-shot.
    Claude,
    /// Claude Code's stream-json with stream-json input (steering, permission prompts).
    ClaudeStreamJsonInput,
    /// Gemini CLI's stream-json.
    Gemini,
    /// A `codex app-server`'s JSON-RPC, as its client (kind `codex`).
    CodexAppServer,
    /// An Agent Client Protocol agent's JSON-RPC, as its client (kind `acp`).
    Acp,
}

/// One backend's stdout: `data` split at `\n` and fed to the adapter line by line, as the
/// runner feeds it, with the runner's own calls between lines (the backend's stdin, answers
/// to its approval requests, a steered message, the cancel), then stdout's end.
///
/// Asserts that every event the adapter makes can be written to the event log.
pub fn backend_stream(stream: Stream, data: &[u8]) {
    let mut adapter = match Adapter::new(&spec(stream)) {
        Ok(adapter) => adapter,
        Err(why) => panic!("no adapter for {stream:?}: {why}"),
    };
    let mut out = Vec::new();
    // The first user message is the prompt where stdin carries user messages (the runner's
    // `with_user_messages`); the others start with the backend's protocol.
    match stream {
        Stream::ClaudeStreamJsonInput | Stream::Acp => {
            let _ = adapter.user_message("fuzz");
        }
        Stream::CodexJsonl | Stream::Claude | Stream::Gemini | Stream::CodexAppServer => {}
    }
    let _ = adapter.take_input();
    for (number, line) in data.split(|&b| b == b'\n').enumerate() {
        let from = out.len();
        adapter.on_line(line, &mut out);
        let _ = adapter.take_input();
        let asked: Vec<String> = out[from..]
            .iter()
            .filter_map(|event| match event {
                Event::ApprovalRequested { request_id, .. } => Some(request_id.clone()),
                _ => None,
            })
            .collect();
        for (index, request_id) in asked.iter().enumerate() {
            let decision = if index % 2 == 0 { "accept" } else { "decline" };
            let _ = adapter.approval_answer(request_id, &json!(decision), &mut out);
        }
        if number % 16 == 5 {
            let _ = adapter.user_message("steered");
        }
        if number % 16 == 11 {
            let _ = adapter.cancel();
        }
    }
    adapter.finish(&mut out);
    for event in &out {
        assert!(
            serde_json::to_string(event).is_ok(),
            "an event serializes: {event:?}"
        );
    }
}

/// A turn's spec for the adapter of `stream`.
fn spec(stream: Stream) -> Spec {
    let (kind, input) = match stream {
        Stream::CodexJsonl => (BackendKind::Jsonl, InputMode::Once),
        Stream::Claude => (BackendKind::Claude, InputMode::Once),
        Stream::ClaudeStreamJsonInput => (BackendKind::Claude, InputMode::StreamJson),
        Stream::Gemini => (BackendKind::Gemini, InputMode::Once),
        Stream::CodexAppServer => (BackendKind::Codex, InputMode::Once),
        Stream::Acp => (BackendKind::Acp, InputMode::Once),
    };
    Spec {
        v: 1,
        thread_id: "019a0000-0000-7000-8000-000000000001".to_owned(),
        turn_id: "019a0000-0000-7000-8000-000000000002".to_owned(),
        mode: Mode::Background,
        cwd: "/work".into(),
        provider: Provider {
            name: "fuzz".to_owned(),
            kind,
            command: "backend".to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_inherit: None,
            prompt_via: PromptVia::Arg,
            approvals: Approvals::None,
            input,
        },
        prompt: "fuzz".to_owned(),
        images: Vec::new(),
        model: None,
        resume_session_id: Some("session-1".to_owned()),
        approval_policy: Some(json!("on-request")),
        sandbox_policy: Some(json!({"type": "workspaceWrite", "networkAccess": false})),
        grace_ms: GraceMs::default(),
        previous_total_usage: None,
        resumed_session_usage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files of `dir` (relative to the crate) whose names end with `suffix`.
    fn fixtures(dir: &str, suffix: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().ends_with(suffix))
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "no {suffix} files in {}", dir.display());
        paths
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }

    /// Every entry point over the fixtures the fuzz corpus starts from
    /// (`scripts/fuzz-seeds.py`), whole files as they are: no panic, no failed assertion.
    #[test]
    fn the_fixtures_pass_every_entry_point() {
        let conversations = [
            fixtures("fixtures/transcripts", ".jsonl"),
            fixtures("fixtures/codex-captures", ".jsonl"),
        ]
        .concat();
        for data in &conversations {
            framing_and_dispatch(data);
            backend_stream(Stream::CodexAppServer, data);
        }
        for data in fixtures("fixtures/transcripts", ".toml") {
            config(&data);
        }
        let scripts = fixtures("fixtures/agent-scripts", ".txt");
        let streams = [
            Stream::CodexJsonl,
            Stream::Claude,
            Stream::ClaudeStreamJsonInput,
            Stream::Gemini,
            Stream::CodexAppServer,
            Stream::Acp,
        ];
        for data in &scripts {
            for stream in streams {
                backend_stream(stream, data);
            }
        }
        for data in fixtures("fuzz/seeds/acp", ".jsonl") {
            backend_stream(Stream::Acp, &data);
        }
    }

    /// The hand-written ACP seed is a whole turn: it reaches the end marker, so the fuzzer
    /// starts from inputs that get past the handshake.
    #[test]
    fn the_acp_seed_is_a_whole_turn() {
        let data = &fixtures("fuzz/seeds/acp", ".jsonl")[0];
        let mut adapter = Adapter::new(&spec(Stream::Acp)).unwrap();
        let mut out = Vec::new();
        let _ = adapter.user_message("fuzz");
        for line in data.split(|&b| b == b'\n') {
            adapter.on_line(line, &mut out);
            let _ = adapter.take_input();
        }
        assert!(
            out.iter()
                .any(|event| matches!(event, Event::Marker { .. })),
            "{out:?}"
        );
    }

    /// Every target by its name, and every corpus name of `scripts/fuzz-seeds.py` and
    /// `scripts/fuzz.sh` a target's.
    #[test]
    fn every_target_is_found_by_its_name_and_the_scripts_name_them_all() {
        for target in Target::ALL {
            assert_eq!(Target::from_name(target.name()), Some(target));
        }
        assert_eq!(Target::from_name("nothing"), None);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = std::fs::read_to_string(root.join("scripts/fuzz.sh")).unwrap();
        let listed = script
            .lines()
            .find_map(|line| line.strip_prefix("ALL_TARGETS=("))
            .and_then(|rest| rest.strip_suffix(')'))
            .expect("ALL_TARGETS=(...) in scripts/fuzz.sh");
        let names: Vec<&str> = Target::ALL.iter().map(|target| target.name()).collect();
        assert_eq!(listed.split(' ').collect::<Vec<_>>(), names);
    }

    #[test]
    fn the_framing_target_checks_the_lines_against_a_plain_split() {
        let long = [b'x'; FRAMING_MAX_LINE + 1];
        let data = [b"ab\r\n\n".as_slice(), &long, b"\r\n{\"id\":1}"].concat();
        assert_eq!(
            expected_lines(&data),
            [
                InputLine::Line(b"ab".to_vec()),
                InputLine::Line(Vec::new()),
                InputLine::TooLong {
                    bytes: FRAMING_MAX_LINE + 2
                },
                InputLine::Line(b"{\"id\":1}".to_vec()),
            ]
        );
        framing_and_dispatch(&data);
    }
}
