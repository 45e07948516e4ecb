//! Our own small JSON-RPC layer, in Codex's framing.
//!
//! Codex clients omit `"jsonrpc":"2.0"`, which is why a general JSON-RPC crate does not fit
//! (see ARCHITECTURE.md). Here a line is classified into a request, a notification or a
//! response to one of our server-to-client requests; everything else becomes a precise
//! [`WireError`]. Request ids keep `1` and `"1"` apart and round-trip int64 exactly.
//! Every error object the server sends is built in this module.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A request id: a string or a 64-bit integer, echoed back exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Int(n) => write!(f, "{n}"),
            RequestId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// JSON-RPC error codes used on the wire.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    pub const OVERLOADED: i64 = -32001;
}

/// A JSON-RPC error object: `{"code","message","data"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The longest error message sent: a message that quotes a client's value (serde quotes a
/// wrong-typed string whole) is cut here, so a 5 MB bad value never comes back whole.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

/// The longest client value quoted whole in an error message (see [`quote`]).
pub const MAX_QUOTED_CHARS: usize = 64;

/// A client's value as an error message quotes it: whole when short, else its first
/// [`MAX_QUOTED_CHARS`] characters and how long it was.
pub fn quote(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        None => std::borrow::Cow::Borrowed(value),
        Some((at, _)) => {
            std::borrow::Cow::Owned(format!("{}… ({} bytes)", &value[..at], value.len()))
        }
    }
}

/// `message` cut to [`MAX_ERROR_MESSAGE_BYTES`] on a character boundary.
fn capped(mut message: String) -> String {
    if message.len() > MAX_ERROR_MESSAGE_BYTES {
        let total = message.len();
        let mut at = MAX_ERROR_MESSAGE_BYTES;
        while !message.is_char_boundary(at) {
            at -= 1;
        }
        message.truncate(at);
        message.push_str(&format!("… (message cut, {total} bytes)"));
    }
    message
}

impl ErrorObject {
    fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: capped(message.into()),
            data: None,
        }
    }

    /// `-32700`: the line is not a JSON object we can read.
    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(code::PARSE_ERROR, format!("Parse error: {detail}"))
    }

    /// `-32600`: a JSON object that is not a valid request.
    pub fn invalid_request(detail: impl std::fmt::Display) -> Self {
        Self::new(code::INVALID_REQUEST, format!("Invalid request: {detail}"))
    }

    /// `-32600` with a message taken verbatim (Codex's texts, e.g. `thread not found: <id>`).
    pub fn request_failed(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_REQUEST, message)
    }

    /// `-32600` with a message and data taken verbatim (Codex's errors that carry a turn
    /// error, such as `cannot steer a review turn`, or its `modelProviderNotConfigured`).
    pub fn request_failed_with_data(message: impl Into<String>, data: Value) -> Self {
        ErrorObject {
            code: code::INVALID_REQUEST,
            message: capped(message.into()),
            data: Some(data),
        }
    }

    /// `-32601`: the method is not one we serve. The message carries Codex's words for it
    /// (``unknown variant `METHOD` ``, which Codex sends as a `-32600`), so that a client
    /// matching Codex's text recognises it.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            code::METHOD_NOT_FOUND,
            format!("Method not found: unknown variant `{}`", quote(method)),
        )
    }

    /// `-32601`: a method of Codex's protocol that agent-host does not serve, in the shape
    /// Codex answers a method it cannot serve (``contextMap/query is unavailable without
    /// sqlite state``): the method, then why.
    pub fn unavailable(method: &str) -> Self {
        Self::new(
            code::METHOD_NOT_FOUND,
            format!("{} is unavailable in agent-host", quote(method)),
        )
    }

    /// `-32600 <what> requires experimentalApi capability`: Codex's refusal of an
    /// experimental method or field without the capability.
    pub fn requires_experimental_api(what: &str) -> Self {
        Self::request_failed(format!("{what} requires experimentalApi capability"))
    }

    /// `-32602`: the params do not fit the method.
    pub fn invalid_params(method: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(
            code::INVALID_PARAMS,
            format!("Invalid params for `{method}`: {detail}"),
        )
    }

    /// `-32602` with a message taken verbatim (Codex's texts, e.g. `command/exec size requires
    /// tty: true`).
    pub fn invalid_params_verbatim(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    /// `-32602` with a message and data taken verbatim (Codex's input-too-large error).
    pub fn invalid_params_with_data(message: impl Into<String>, data: Value) -> Self {
        ErrorObject {
            code: code::INVALID_PARAMS,
            message: capped(message.into()),
            data: Some(data),
        }
    }

    /// `-32603`: our own failure (IO, a spawn that failed).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(code::INTERNAL_ERROR, detail.to_string())
    }

    /// `-32001`: too much in flight; the client should retry.
    pub fn overloaded() -> Self {
        Self::new(code::OVERLOADED, "Server overloaded; retry later.")
    }

    /// `-32600 Not initialized`.
    pub fn not_initialized() -> Self {
        Self::request_failed("Not initialized")
    }

    /// `-32600 Already initialized`.
    pub fn already_initialized() -> Self {
        Self::request_failed("Already initialized")
    }
}

/// One message read from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Request {
        id: RequestId,
        method: String,
        params: Option<Value>,
    },
    Notification {
        method: String,
        params: Option<Value>,
    },
    /// The client's answer to one of our server-to-client requests.
    Response {
        id: RequestId,
        result: Result<Value, ErrorObject>,
    },
}

/// Why a line could not be read as a message; `id` is echoed when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct WireError {
    pub id: Option<RequestId>,
    pub error: ErrorObject,
}

/// What a line of input turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A blank line: skipped without a reply (JSON Lines allows none, but editors send them).
    Blank,
    Message(Incoming),
    Invalid(WireError),
}

/// Classifies one input line (without its newline).
pub fn classify(line: &[u8]) -> Line {
    // A byte-order mark (some Windows tools write one) is not part of the message.
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(err) => {
            return Line::Invalid(WireError {
                id: None,
                error: ErrorObject::parse_error(format!("invalid JSON: {err}")),
            });
        }
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Line::Invalid(WireError {
                id: None,
                error: ErrorObject::parse_error("batch requests are not supported"),
            });
        }
        other => {
            return Line::Invalid(WireError {
                id: None,
                error: ErrorObject::parse_error(format!(
                    "expected a JSON object, found {}",
                    kind_of(&other)
                )),
            });
        }
    };
    match classify_object(object) {
        Ok(incoming) => Line::Message(incoming),
        Err(err) => Line::Invalid(err),
    }
}

// The error is built once per bad line and unwrapped at once by `classify`: its size
// costs nothing worth a box.
#[allow(clippy::result_large_err)]
fn classify_object(mut object: Map<String, Value>) -> Result<Incoming, WireError> {
    // `jsonrpc` is accepted and ignored; `trace` (W3C trace context) likewise.
    object.remove("jsonrpc");
    let raw_id = object.remove("id");
    let id = match raw_id {
        None => None,
        Some(raw) => match parse_id(raw) {
            Ok(id) => Some(id),
            Err(found) => {
                return Err(WireError {
                    id: None,
                    error: ErrorObject::invalid_request(format!(
                        "`id` must be a string or a 64-bit integer, found {found}"
                    )),
                });
            }
        },
    };
    match object.remove("method") {
        Some(Value::String(method)) => {
            let params = object.remove("params");
            Ok(match id {
                Some(id) => Incoming::Request { id, method, params },
                None => Incoming::Notification { method, params },
            })
        }
        Some(other) => Err(WireError {
            id,
            error: ErrorObject::invalid_request(format!(
                "`method` must be a string, found {}",
                kind_of(&other)
            )),
        }),
        None => {
            let Some(id) = id else {
                return Err(WireError {
                    id: None,
                    error: ErrorObject::invalid_request(
                        "a message needs `method` (request or notification) or `id` with `result` or `error` (response)",
                    ),
                });
            };
            if let Some(result) = object.remove("result") {
                return Ok(Incoming::Response {
                    id,
                    result: Ok(result),
                });
            }
            match object.remove("error") {
                Some(error) => match serde_json::from_value::<ErrorObject>(error) {
                    Ok(error) => Ok(Incoming::Response {
                        id,
                        result: Err(error),
                    }),
                    Err(err) => Err(WireError {
                        id: Some(id),
                        error: ErrorObject::invalid_request(format!("bad `error` object: {err}")),
                    }),
                },
                None => Err(WireError {
                    id: Some(id),
                    error: ErrorObject::invalid_request(
                        "a message with `id` needs `method`, `result` or `error`",
                    ),
                }),
            }
        }
    }
}

fn parse_id(raw: Value) -> Result<RequestId, String> {
    match raw {
        Value::String(s) => Ok(RequestId::Str(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(RequestId::Int(i)),
            None => Err(format!("the number {n}")),
        },
        other => Err(kind_of(&other).to_string()),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One message we write to the client. Written with Codex's key order and never with a
/// `jsonrpc` member.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Response {
        id: RequestId,
        result: Result<Value, ErrorObject>,
    },
    /// An error about a line whose id could not be read: `"id": null`.
    Unaddressed { error: ErrorObject },
    /// A notification whose params are already JSON text: a turn's notifications are the
    /// hot path, and serializing their typed params once, straight to text, costs a third of
    /// building a `Value` tree first and serializing that again.
    Notification {
        method: &'static str,
        params_json: Vec<u8>,
        emitted_at_ms: i64,
    },
    Request {
        method: &'static str,
        id: RequestId,
        params: Value,
    },
}

/// The messages written through serde (every one but a notification): borrowed views in
/// Codex's key order.
enum Framed<'a> {
    Result(&'a RequestId, &'a Value),
    Error(&'a ErrorObject, Option<&'a RequestId>),
    Request(&'static str, &'a RequestId, &'a Value),
}

impl Serialize for Framed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Framed::Result(id, result) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("result", result)?;
                map.end()
            }
            Framed::Error(error, id) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("error", error)?;
                map.serialize_entry("id", id)?;
                map.end()
            }
            Framed::Request(method, id, params) => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("method", method)?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("params", params)?;
                map.end()
            }
        }
    }
}

impl Outgoing {
    /// The message as one line of JSON, with its newline.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_line(&mut line);
        line
    }

    /// Appends the message as one line of JSON, with its newline, to `out`.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        let framed = match self {
            Outgoing::Response {
                id,
                result: Ok(result),
            } => Framed::Result(id, result),
            Outgoing::Response {
                id,
                result: Err(error),
            } => Framed::Error(error, Some(id)),
            Outgoing::Unaddressed { error } => Framed::Error(error, None),
            Outgoing::Request { method, id, params } => Framed::Request(method, id, params),
            Outgoing::Notification {
                method,
                params_json,
                emitted_at_ms,
            } => {
                out.extend_from_slice(b"{\"method\":");
                // A method name is a plain literal of the protocol's table, but it is still
                // written as JSON rather than trusted to need no escape.
                write_json(out, method);
                out.extend_from_slice(b",\"params\":");
                out.extend_from_slice(params_json);
                out.extend_from_slice(b",\"emittedAtMs\":");
                write_json(out, emitted_at_ms);
                out.extend_from_slice(b"}\n");
                return;
            }
        };
        write_json(out, &framed);
        out.push(b'\n');
    }
}

/// Serializes `value` onto `out`. Cannot fail for what is written here (every map key is a
/// string); should it, the line is left unwritten rather than half written.
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(line: &str) -> Incoming {
        match classify(line.as_bytes()) {
            Line::Message(m) => m,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn invalid(line: &str) -> WireError {
        match classify(line.as_bytes()) {
            Line::Invalid(e) => e,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn ids_round_trip_exactly_and_keep_int_and_string_apart() {
        let big = message(r#"{"id":9007199254740993,"method":"m","params":{}}"#);
        let Incoming::Request { id, .. } = big else {
            panic!()
        };
        assert_eq!(id, RequestId::Int(9_007_199_254_740_993));
        let out = Outgoing::Response {
            id,
            result: Ok(json!({})),
        };
        assert_eq!(
            out.to_line(),
            b"{\"id\":9007199254740993,\"result\":{}}\n".to_vec()
        );
        let s = message(r#"{"id":"1","method":"m"}"#);
        let i = message(r#"{"id":1,"method":"m"}"#);
        assert_ne!(s, i);
    }

    #[test]
    fn jsonrpc_member_is_accepted_and_never_written() {
        let m = message(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#);
        assert!(matches!(m, Incoming::Request { .. }));
        let line = Outgoing::Notification {
            method: "x",
            params_json: b"{}".to_vec(),
            emitted_at_ms: 1,
        }
        .to_line();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"method\":\"x\",\"params\":{},\"emittedAtMs\":1}\n"
        );
    }

    #[test]
    fn malformed_lines_get_precise_errors() {
        assert_eq!(invalid("{not json").error.code, code::PARSE_ERROR);
        assert_eq!(invalid("[1,2]").error.code, code::PARSE_ERROR);
        assert_eq!(invalid("42").error.code, code::PARSE_ERROR);
        let bad_id = invalid(r#"{"id":1.5,"method":"m"}"#);
        assert_eq!(bad_id.error.code, code::INVALID_REQUEST);
        assert!(bad_id.error.message.contains("`id`"), "{bad_id:?}");
        assert_eq!(invalid(r#"{"id":null,"method":"m"}"#).id, None);
        assert_eq!(invalid(r#"{"id":7}"#).id, Some(RequestId::Int(7)));
        assert_eq!(classify(b"   "), Line::Blank);
    }

    #[test]
    fn responses_to_server_requests_are_read() {
        let ok = message(r#"{"id":0,"result":{"decision":"accept"}}"#);
        assert!(matches!(ok, Incoming::Response { result: Ok(_), .. }));
        let err = message(r#"{"id":1,"error":{"code":-1,"message":"no"}}"#);
        assert!(matches!(err, Incoming::Response { result: Err(_), .. }));
    }

    #[test]
    fn error_key_order_matches_codex() {
        let line = Outgoing::Response {
            id: RequestId::Int(3),
            result: Err(ErrorObject::already_initialized()),
        }
        .to_line();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"error\":{\"code\":-32600,\"message\":\"Already initialized\"},\"id\":3}\n"
        );
    }
}
