//! A mock of the Gemini API (`generativelanguage.googleapis.com`) for driving the real Gemini
//! CLI offline.
//!
//! A loopback HTTP server on `127.0.0.1:0` ([`super::loopback`]): every
//! `POST /v1beta/models/<model>:streamGenerateContent` (`?alt=sse`) takes the next scripted
//! [`Reply`]; anything else gets a 404 and takes nothing. A reply is server-sent events, one
//! `GenerateContentResponse` per `data:` line: the text in two chunks, then a chunk with the
//! function call (if any), `finishReason: "STOP"` and `usageMetadata`.
//!
//! Gemini CLI 0.61.0 pointed here by `GOOGLE_GEMINI_BASE_URL` (auth type `gemini-api-key` in
//! its settings, a dummy `GEMINI_API_KEY`) and given a model with `-m` sends exactly one
//! request per model call and nothing else (without `-m` its model router first asks a
//! classifier model with `:generateContent`). It does not retry an HTTP 400.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::loopback::{Connection, Events, Loopback, Request, Script, Service};

/// What one model request gets.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Model text, then optionally a `run_shell_command` call with this command; `usage` is
    /// (prompt, candidates) tokens.
    Model {
        text: String,
        shell: Option<String>,
        usage: (u64, u64),
    },
    /// An HTTP error with the API's JSON error body carrying `message`.
    HttpError { status: u16, message: String },
}

/// A running mock; see the module documentation.
pub struct MockGemini {
    server: Loopback,
    events: Events,
}

/// The mock's events: `next_event`, `wait_request`, `drain`.
impl std::ops::Deref for MockGemini {
    type Target = Events;
    fn deref(&self) -> &Events {
        &self.events
    }
}

struct Shared {
    script: Script<Reply>,
}

impl MockGemini {
    /// Serves `script` (one reply per model request, in order) until it is used up or
    /// `lifetime` has passed.
    pub fn start(script: Vec<Reply>, lifetime: Duration) -> MockGemini {
        let (script, events) = Script::new(script);
        MockGemini {
            server: Loopback::start(Arc::new(Shared { script }), lifetime),
            events,
        }
    }

    /// `http://127.0.0.1:<port>`: Gemini's `GOOGLE_GEMINI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

impl Service for Shared {
    fn exhausted(&self) -> bool {
        self.script.exhausted()
    }

    fn serve(&self, request: Request, connection: &mut Connection) -> bool {
        let model_call = request.method == "POST"
            && request.path.starts_with("/v1beta/models/")
            && request.path.ends_with(":streamGenerateContent");
        if !model_call {
            self.script.unexpected(&request);
            let body = error_body(404, "not served by the mock");
            return connection
                .respond(404, "application/json", body.as_bytes())
                .is_ok();
        }
        let (_, reply) = self.script.take(&request, &request.json());
        match reply {
            Some(Reply::Model { text, shell, usage }) => {
                let sse = sse(&text, shell.as_deref(), usage);
                connection
                    .respond(200, "text/event-stream", sse.as_bytes())
                    .is_ok()
            }
            Some(Reply::HttpError { status, message }) => {
                let body = error_body(status, &message);
                connection
                    .respond(status, "application/json", body.as_bytes())
                    .is_ok()
            }
            None => {
                let body = error_body(500, "the mock's script is used up");
                let _ = connection.respond(500, "application/json", body.as_bytes());
                false
            }
        }
    }
}

/// `{"error":{"code":STATUS,"message":…,"status":…}}`, the API's error body.
fn error_body(status: u16, message: &str) -> String {
    let name = if status >= 500 {
        "INTERNAL"
    } else {
        "INVALID_ARGUMENT"
    };
    json!({"error": {"code": status, "message": message, "status": name}}).to_string()
}

/// The server-sent events of one model reply: the first half of the text, then the rest with
/// the function call (if any), the finish reason and the usage.
fn sse(text: &str, shell: Option<&str>, usage: (u64, u64)) -> String {
    let split = text.char_indices().nth(text.chars().count() / 2);
    let (head, tail) = text.split_at(split.map_or(0, |(at, _)| at));
    let mut chunks = Vec::new();
    if !head.is_empty() {
        chunks.push(json!({"candidates": [{"content": {"role": "model",
            "parts": [{"text": head}]}, "index": 0}]}));
    }
    let mut parts = Vec::new();
    if !tail.is_empty() {
        parts.push(json!({"text": tail}));
    }
    if let Some(command) = shell {
        parts.push(json!({"functionCall": {"name": "run_shell_command",
            "args": {"command": command, "description": "run it"}}}));
    }
    chunks.push(json!({
        "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0,
            "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": usage.0, "candidatesTokenCount": usage.1,
            "totalTokenCount": usage.0 + usage.1},
    }));
    chunks
        .iter()
        .map(|chunk| format!("data: {chunk}\r\n\r\n"))
        .collect()
}
