//! A mock of the OpenAI Responses API for driving the real Codex CLI offline.
//!
//! A loopback HTTP server on `127.0.0.1:0` ([`super::loopback`]): every `POST …/responses`
//! takes the next scripted [`Reply`]; anything else gets a 404 and takes nothing. Replies are server-sent events in the shape Codex 0.169.0 reads
//! (`response.created`, `response.output_item.added`, `response.output_text.delta`,
//! `response.output_item.done`, `response.completed` with usage), an HTTP error, or a stream
//! that stalls after `response.created` until the client goes away.
//!
//! The mock stops by itself: it accepts no connection once the script is used up, and
//! nothing at all after its deadline (every accept and every read is bounded by it). Dropping
//! it shuts every connection down and joins its threads. Each POST is reported on a channel
//! ([`MockEvent`]) so a test can wait for "Codex asked" without sleeping.
//!
//! `benches/turn_vs_codex.rs` includes this file and `loopback.rs` by `#[path]`, so they use
//! nothing of the test crate but each other (`super::loopback`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

pub use super::loopback::MockEvent;
use super::loopback::{Closed, Connection, Events, Loopback, Request, Script, Service};

/// One output item of a completed response.
#[derive(Debug, Clone)]
pub enum Output {
    /// An assistant message with this text (sent as two `output_text.delta`s).
    Message(String),
    /// An assistant message streamed as exactly these `output_text.delta`s, in order.
    Chunks(Vec<String>),
    /// A call of Codex's `exec_command` tool with these arguments (`{"cmd": …}`).
    ExecCommand(Value),
}

/// What one model request gets.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete SSE stream with these items and this usage (input, cached, output tokens).
    Complete {
        outputs: Vec<Output>,
        usage: (u64, u64, u64),
    },
    /// An HTTP error with a JSON error body carrying `message`.
    HttpError { status: u16, message: String },
    /// `200`, `response.created`, then nothing until the client closes the connection (or
    /// the mock's deadline).
    Stall,
}

/// A running mock; see the module documentation.
pub struct MockResponses {
    server: Loopback,
    events: Events,
}

/// The mock's events: `next_event`, `wait_request`, `drain`.
impl std::ops::Deref for MockResponses {
    type Target = Events;
    fn deref(&self) -> &Events {
        &self.events
    }
}

struct Shared {
    script: Script<Reply>,
}

impl MockResponses {
    /// Serves `script` (one reply per model request, in order) until it is used up or
    /// `lifetime` has passed.
    pub fn start(script: Vec<Reply>, lifetime: Duration) -> MockResponses {
        let (script, events) = Script::new(script);
        MockResponses {
            server: Loopback::start(Arc::new(Shared { script }), lifetime),
            events,
        }
    }

    /// `http://127.0.0.1:<port>/v1`: Codex's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }
}

impl Service for Shared {
    fn exhausted(&self) -> bool {
        self.script.exhausted()
    }

    fn serve(&self, request: Request, connection: &mut Connection) -> bool {
        if request.method != "POST" || !request.path.ends_with("/responses") {
            self.script.unexpected(&request);
            return connection
                .respond_plain(404, "not served by the mock")
                .is_ok();
        }
        let (index, reply) = self.script.take(&request, &request.json());
        match reply {
            Some(Reply::Complete { outputs, usage }) => {
                let body = sse_body(index, &outputs, usage);
                connection
                    .respond(200, "text/event-stream", body.as_bytes())
                    .is_ok()
            }
            Some(Reply::HttpError { status, message }) => {
                let body =
                    json!({"error": {"message": message, "type": "server_error", "code": null}});
                connection
                    .respond(status, "application/json", body.to_string().as_bytes())
                    .is_ok()
            }
            Some(Reply::Stall) => {
                self.stall(connection, index);
                false
            }
            None => {
                let _ = connection.respond_plain(500, "the mock's script is used up");
                false
            }
        }
    }
}

impl Shared {
    /// Sends the head of an endless event stream and `response.created`, then waits for the
    /// client to close the connection, or for the deadline.
    fn stall(&self, connection: &mut Connection, index: usize) {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
        let created = event(
            "response.created",
            json!({"response": {"id": format!("resp_{index}")}}),
        );
        if connection.write_raw(head.as_bytes()).is_err()
            || connection.write_raw(created.as_bytes()).is_err()
        {
            return;
        }
        match connection.wait_closed() {
            Closed::ByClient => {
                self.script.record(MockEvent::StallEnded { index });
            }
            Closed::ByMock => {}
        }
    }
}

fn event(kind: &str, mut data: Value) -> String {
    data["type"] = Value::from(kind);
    format!("event: {kind}\ndata: {data}\n\n")
}

/// The events of an assistant message whose text arrives as `chunks` (empty ones skipped).
fn message_events(item_id: &str, position: usize, chunks: &[String]) -> String {
    let added = json!({"type": "message", "role": "assistant", "id": item_id, "content": []});
    let mut body = event(
        "response.output_item.added",
        json!({"output_index": position, "item": added}),
    );
    for delta in chunks.iter().filter(|d| !d.is_empty()) {
        body += &event(
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": position,
                   "content_index": 0, "delta": delta}),
        );
    }
    let text = chunks.concat();
    let done = json!({"type": "message", "role": "assistant", "id": item_id,
        "content": [{"type": "output_text", "text": text, "annotations": []}]});
    body += &event(
        "response.output_item.done",
        json!({"output_index": position, "item": done}),
    );
    body
}

/// The SSE body of a completed response `index` with `outputs`.
fn sse_body(index: usize, outputs: &[Output], usage: (u64, u64, u64)) -> String {
    let response_id = format!("resp_{index}");
    let mut body = event("response.created", json!({"response": {"id": response_id}}));
    for (position, output) in outputs.iter().enumerate() {
        let item_id = format!("item_{index}_{position}");
        match output {
            Output::Message(text) => {
                // Two deltas: the text arrives in pieces, as from a real model.
                let split = text.char_indices().nth(text.chars().count() / 2);
                let (head, tail) = text.split_at(split.map_or(0, |(at, _)| at));
                let chunks = [head, tail].map(str::to_owned);
                body += &message_events(&item_id, position, &chunks);
            }
            Output::Chunks(chunks) => body += &message_events(&item_id, position, chunks),
            Output::ExecCommand(arguments) => {
                let call = json!({"type": "function_call", "id": item_id,
                    "call_id": format!("call_{index}_{position}"), "name": "exec_command",
                    "arguments": arguments.to_string()});
                body += &event(
                    "response.output_item.added",
                    json!({"output_index": position, "item": call}),
                );
                body += &event(
                    "response.output_item.done",
                    json!({"output_index": position, "item": call}),
                );
            }
        }
    }
    let (input, cached, output) = usage;
    body += &event(
        "response.completed",
        json!({"response": {"id": response_id, "usage": {
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input + output,
        }}}),
    );
    body
}
