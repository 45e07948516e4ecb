//! A mock of the Anthropic Messages API for driving the real Claude Code CLI offline.
//!
//! A loopback HTTP server on `127.0.0.1:0` ([`super::loopback`]): every `POST /v1/messages`
//! (Claude Code adds `?beta=true`) takes the next scripted [`Reply`]; anything else (such as
//! `/v1/messages/count_tokens`) gets a 404 and takes nothing. A streamed reply is the
//! server-sent events of the real API: `message_start`, `ping`, per content block
//! `content_block_start`, its deltas (`text_delta`, `thinking_delta` + `signature_delta`,
//! `input_json_delta`) and `content_block_stop`, then `message_delta` with the stop reason
//! (`tool_use` when the reply calls a tool, else `end_turn`) and `message_stop`. A request
//! without `"stream": true` gets the same message as one JSON object.
//!
//! Claude Code 2.1.330 run with `CLAUDE_CODE_SIMPLE=1` (what `--bare` sets) and
//! `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` sends exactly one request per model call and
//! nothing else. On an HTTP 400 it retries twice with fewer beta features; on a 5xx it retries
//! with backoff unless `CLAUDE_CODE_MAX_RETRIES=0`.
//!
//! Each request is reported on a channel ([`MockEvent`]) so a test can wait for "Claude
//! asked" without sleeping, and check what it sent (e.g. the tool result).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::loopback::{Connection, Events, Loopback, Request, Script, Service};

/// One content block of a scripted assistant message.
#[derive(Debug, Clone)]
pub enum Block {
    /// Text (sent as two `text_delta`s).
    Text(String),
    /// Extended thinking (one `thinking_delta`, then a `signature_delta`).
    Thinking(String),
    /// A call of Claude Code's `Bash` tool with this command (`input_json_delta`s).
    Bash(String),
}

/// What one model request gets.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An assistant message with these blocks; `usage` is (input, output) tokens.
    Message {
        blocks: Vec<Block>,
        usage: (u64, u64),
    },
    /// An HTTP error with the API's JSON error body carrying `message`.
    HttpError { status: u16, message: String },
}

/// A running mock; see the module documentation.
pub struct MockAnthropic {
    server: Loopback,
    events: Events,
}

/// The mock's events: `next_event`, `wait_request`, `drain`.
impl std::ops::Deref for MockAnthropic {
    type Target = Events;
    fn deref(&self) -> &Events {
        &self.events
    }
}

struct Shared {
    script: Script<Reply>,
}

impl MockAnthropic {
    /// Serves `script` (one reply per model request, in order) until it is used up or
    /// `lifetime` has passed.
    pub fn start(script: Vec<Reply>, lifetime: Duration) -> MockAnthropic {
        let (script, events) = Script::new(script);
        MockAnthropic {
            server: Loopback::start(Arc::new(Shared { script }), lifetime),
            events,
        }
    }

    /// `http://127.0.0.1:<port>`: Claude Code's `ANTHROPIC_BASE_URL` (it adds `/v1/messages`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

impl Service for Shared {
    fn exhausted(&self) -> bool {
        self.script.exhausted()
    }

    fn serve(&self, request: Request, connection: &mut Connection) -> bool {
        if request.method != "POST" || request.path != "/v1/messages" {
            self.script.unexpected(&request);
            let body = error_body("not_found_error", "not served by the mock");
            return connection
                .respond(404, "application/json", body.as_bytes())
                .is_ok();
        }
        let body = request.json();
        let (index, reply) = self.script.take(&request, &body);
        let model = body["model"].as_str().unwrap_or("mock-model");
        match reply {
            Some(Reply::Message { blocks, usage }) => {
                let message = Message {
                    index,
                    model,
                    blocks: &blocks,
                    usage,
                };
                if body["stream"] == true {
                    let sse = message.sse();
                    connection
                        .respond(200, "text/event-stream", sse.as_bytes())
                        .is_ok()
                } else {
                    let whole = message.whole().to_string();
                    connection
                        .respond(200, "application/json", whole.as_bytes())
                        .is_ok()
                }
            }
            Some(Reply::HttpError { status, message }) => {
                let kind = if status >= 500 {
                    "api_error"
                } else {
                    "invalid_request_error"
                };
                let body = error_body(kind, &message);
                connection
                    .respond(status, "application/json", body.as_bytes())
                    .is_ok()
            }
            None => {
                let body = error_body("api_error", "the mock's script is used up");
                let _ = connection.respond(500, "application/json", body.as_bytes());
                false
            }
        }
    }
}

/// `{"type":"error","error":{"type":KIND,"message":…}}`, the API's error body.
fn error_body(kind: &str, message: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}}).to_string()
}

/// A scripted assistant message, ready to be sent.
/// Prompt tokens every message reports as read from the cache, beside its `input_tokens`
/// (Anthropic counts them apart; Codex counts them in `inputTokens`).
pub const CACHE_READ_TOKENS: u64 = 10;
/// Prompt tokens every message reports as written to the cache.
pub const CACHE_WRITE_TOKENS: u64 = 5;

struct Message<'a> {
    /// The request's number: message `msg_mock_<index>`, tools `toolu_mock_<index>_<block>`.
    index: usize,
    model: &'a str,
    blocks: &'a [Block],
    usage: (u64, u64),
}

impl Message<'_> {
    fn id(&self) -> String {
        format!("msg_mock_{}", self.index)
    }

    fn tool_id(&self, position: usize) -> String {
        format!("toolu_mock_{}_{position}", self.index)
    }

    fn stop_reason(&self) -> &'static str {
        if self.blocks.iter().any(|b| matches!(b, Block::Bash(_))) {
            "tool_use"
        } else {
            "end_turn"
        }
    }

    fn usage_json(&self, output_tokens: u64) -> Value {
        json!({"input_tokens": self.usage.0,
            "cache_creation_input_tokens": CACHE_WRITE_TOKENS,
            "cache_read_input_tokens": CACHE_READ_TOKENS, "output_tokens": output_tokens})
    }

    /// The block as it stands complete.
    fn block_json(&self, position: usize, block: &Block) -> Value {
        match block {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::Thinking(thinking) => {
                json!({"type": "thinking", "thinking": thinking, "signature": signature(position)})
            }
            Block::Bash(command) => json!({"type": "tool_use", "id": self.tool_id(position),
                "name": "Bash", "input": {"command": command}}),
        }
    }

    /// The whole message, for a request without `stream`.
    fn whole(&self) -> Value {
        let content: Vec<Value> = self
            .blocks
            .iter()
            .enumerate()
            .map(|(position, block)| self.block_json(position, block))
            .collect();
        json!({"id": self.id(), "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": self.usage_json(self.usage.1)})
    }

    /// The server-sent events of the message.
    fn sse(&self) -> String {
        let mut body = event(
            "message_start",
            json!({"message": {"id": self.id(), "type": "message", "role": "assistant",
                "model": self.model, "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": self.usage_json(1)}}),
        );
        body += &event("ping", json!({}));
        for (index, block) in self.blocks.iter().enumerate() {
            let (start, deltas): (Value, Vec<Value>) = match block {
                Block::Text(text) => (
                    json!({"type": "text", "text": ""}),
                    halves(text)
                        .map(|half| json!({"type": "text_delta", "text": half}))
                        .collect(),
                ),
                Block::Thinking(thinking) => (
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    vec![
                        json!({"type": "thinking_delta", "thinking": thinking}),
                        json!({"type": "signature_delta", "signature": signature(index)}),
                    ],
                ),
                Block::Bash(command) => {
                    let input = json!({"command": command}).to_string();
                    (
                        json!({"type": "tool_use", "id": self.tool_id(index), "name": "Bash",
                            "input": {}}),
                        halves(&input)
                            .map(|half| json!({"type": "input_json_delta", "partial_json": half}))
                            .collect(),
                    )
                }
            };
            body += &event(
                "content_block_start",
                json!({"index": index, "content_block": start}),
            );
            for delta in deltas {
                body += &event(
                    "content_block_delta",
                    json!({"index": index, "delta": delta}),
                );
            }
            body += &event("content_block_stop", json!({"index": index}));
        }
        body += &event(
            "message_delta",
            json!({"delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": self.usage.1}}),
        );
        body + &event("message_stop", json!({}))
    }
}

/// A made-up signature of a thinking block.
fn signature(index: usize) -> String {
    format!("mock-signature-{index}")
}

/// The text in two pieces, as a model streams it (an empty piece is left out).
fn halves(text: &str) -> impl Iterator<Item = &str> {
    let split = text.char_indices().nth(text.chars().count() / 2);
    let (head, tail) = text.split_at(split.map_or(0, |(at, _)| at));
    [head, tail].into_iter().filter(|half| !half.is_empty())
}

fn event(kind: &str, mut data: Value) -> String {
    data["type"] = Value::from(kind);
    format!("event: {kind}\ndata: {data}\n\n")
}
