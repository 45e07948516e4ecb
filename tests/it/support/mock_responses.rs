//! A mock of the OpenAI Responses API for driving the real Codex CLI offline.
//!
//! A `std::net::TcpListener` bound to `127.0.0.1:0` speaks just enough HTTP/1.1 for Codex:
//! every `POST …/responses` takes the next scripted [`Reply`]; anything else gets a 404 and
//! takes nothing. Replies are server-sent events in the shape Codex 0.169.0 reads
//! (`response.created`, `response.output_item.added`, `response.output_text.delta`,
//! `response.output_item.done`, `response.completed` with usage), an HTTP error, or a stream
//! that stalls after `response.created` until the client goes away.
//!
//! The mock stops by itself: it accepts no connection once the script is used up, and
//! nothing at all after its deadline (every accept and every read is bounded by it). Dropping
//! it shuts every connection down and joins its threads. Each POST is reported on a channel
//! ([`MockEvent`]) so a test can wait for "Codex asked" without sleeping.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One output item of a completed response.
#[derive(Debug, Clone)]
pub enum Output {
    /// An assistant message with this text (sent as two `output_text.delta`s).
    Message(String),
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

/// What the mock saw.
#[derive(Debug, Clone)]
pub enum MockEvent {
    /// The `index`-th POST to `…/responses` (from 0), with its JSON body.
    Request { index: usize, body: Value },
    /// The client closed the connection of the stalled request `index`.
    StallEnded { index: usize },
    /// A request the mock does not serve (method and path); it got a 404.
    Unexpected { request_line: String },
}

/// A running mock; see the module documentation.
pub struct MockResponses {
    addr: SocketAddr,
    events: Receiver<MockEvent>,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    served: Mutex<usize>,
    events: Sender<MockEvent>,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl MockResponses {
    /// Serves `script` (one reply per model request, in order) until it is used up or
    /// `lifetime` has passed.
    pub fn start(script: Vec<Reply>, lifetime: Duration) -> MockResponses {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock on 127.0.0.1");
        let addr = listener.local_addr().expect("mock address");
        let (events_tx, events) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            script: Mutex::new(script.into()),
            served: Mutex::new(0),
            events: events_tx,
            deadline: Instant::now() + lifetime,
            stop: Arc::clone(&stop),
            streams: Arc::clone(&streams),
        });
        let acceptor = thread::spawn(move || accept_loop(&listener, &shared));
        MockResponses {
            addr,
            events,
            stop,
            streams,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:<port>/v1`: Codex's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<MockEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Waits (at most `timeout`) for the POST number `index`; returns its body. Panics on
    /// timeout or on a request the mock does not serve.
    pub fn wait_request(&self, index: usize, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(MockEvent::Request { index: i, body }) if i == index => return body,
                Some(MockEvent::Unexpected { request_line }) => {
                    panic!("the mock got a request it does not serve: {request_line}")
                }
                Some(_) => {}
                None => panic!("the mock got no model request #{index} within {timeout:?}"),
            }
        }
    }

    /// Every event so far, without waiting.
    pub fn drain(&self) -> Vec<MockEvent> {
        self.events.try_iter().collect()
    }
}

impl Drop for MockResponses {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor (a connection it drops at once) and unblock every connection.
        let _ = TcpStream::connect(self.addr);
        for stream in self.streams.lock().expect("mock streams").iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take()
            && let Ok(workers) = acceptor.join()
        {
            for worker in workers {
                let _ = worker.join();
            }
        }
    }
}

/// Accepts connections until the script is used up, the deadline passes or the mock is
/// dropped; returns the connection threads.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut workers = Vec::new();
    loop {
        let exhausted = shared.script.lock().expect("mock script").is_empty();
        let left = shared.deadline.saturating_duration_since(Instant::now());
        if exhausted || left.is_zero() || shared.stop.load(Ordering::SeqCst) {
            return workers;
        }
        let timeout = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return workers,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return workers,
        }
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        {
            // Checked under the lock that `Drop` takes after setting `stop`: a connection is
            // either shut down by `Drop` or never served.
            let mut streams = shared.streams.lock().expect("mock streams");
            if shared.stop.load(Ordering::SeqCst) {
                return workers;
            }
            if let Ok(clone) = stream.try_clone() {
                streams.push(clone);
            }
        }
        let shared = Arc::clone(shared);
        workers.push(thread::spawn(move || serve_connection(stream, &shared)));
    }
}

/// One parsed HTTP request.
struct Request {
    line: String,
    body: Vec<u8>,
}

/// Serves the requests of one (keep-alive) connection until it closes or a reply closes it.
fn serve_connection(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let left = shared.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || reader.get_ref().set_read_timeout(Some(left)).is_err() {
            return;
        }
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let mut parts = request.line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if method != "POST" || !path.ends_with("/responses") {
            let _ = shared.events.send(MockEvent::Unexpected {
                request_line: request.line.clone(),
            });
            if write_plain(&mut writer, 404, "not served by the mock").is_err() {
                return;
            }
            continue;
        }
        let reply = shared.script.lock().expect("mock script").pop_front();
        let index = {
            let mut served = shared.served.lock().expect("mock counter");
            *served += 1;
            *served - 1
        };
        let body = serde_json::from_slice(&request.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into()));
        let _ = shared.events.send(MockEvent::Request { index, body });
        let keep_open = match reply {
            Some(Reply::Complete { outputs, usage }) => {
                let body = sse_body(index, &outputs, usage);
                write_response(&mut writer, 200, "text/event-stream", body.as_bytes()).is_ok()
            }
            Some(Reply::HttpError { status, message }) => {
                let body =
                    json!({"error": {"message": message, "type": "server_error", "code": null}});
                write_response(
                    &mut writer,
                    status,
                    "application/json",
                    body.to_string().as_bytes(),
                )
                .is_ok()
            }
            Some(Reply::Stall) => {
                stall(&mut writer, &mut reader, index, shared);
                false
            }
            None => {
                let _ = write_plain(&mut writer, 500, "the mock's script is used up");
                false
            }
        };
        if !keep_open {
            return;
        }
    }
}

/// Reads one request (request line, headers, a `content-length` or chunked body); `None` at
/// EOF, on a timeout or on malformed input.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    // Skip blank lines between requests.
    while line.trim().is_empty() {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
    }
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = value.parse().ok()?;
        } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).ok()?;
            let size_text = size_line.trim().split(';').next()?;
            let size = usize::from_str_radix(size_text, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request {
        line: line.trim_end().to_owned(),
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Mock Status",
    }
}

fn write_response(
    writer: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        reason(status),
        body.len()
    );
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()
}

fn write_plain(writer: &mut TcpStream, status: u16, text: &str) -> std::io::Result<()> {
    write_response(writer, status, "text/plain", text.as_bytes())
}

/// Sends the head of an endless event stream and `response.created`, then waits for the
/// client to close the connection (read returns EOF or an error), or for the deadline.
fn stall(writer: &mut TcpStream, reader: &mut BufReader<TcpStream>, index: usize, shared: &Shared) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    let created = event(
        "response.created",
        json!({"response": {"id": format!("resp_{index}")}}),
    );
    if writer.write_all(head.as_bytes()).is_err()
        || writer.write_all(created.as_bytes()).is_err()
        || writer.flush().is_err()
    {
        return;
    }
    let left = shared.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() || reader.get_ref().set_read_timeout(Some(left)).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    loop {
        match reader.read(&mut sink) {
            Ok(0) => {
                let _ = shared.events.send(MockEvent::StallEnded { index });
                return;
            }
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return;
            }
            Err(_) => {
                if !shared.stop.load(Ordering::SeqCst) {
                    let _ = shared.events.send(MockEvent::StallEnded { index });
                }
                return;
            }
        }
    }
}

fn event(kind: &str, mut data: Value) -> String {
    data["type"] = Value::from(kind);
    format!("event: {kind}\ndata: {data}\n\n")
}

/// The SSE body of a completed response `index` with `outputs`.
fn sse_body(index: usize, outputs: &[Output], usage: (u64, u64, u64)) -> String {
    let response_id = format!("resp_{index}");
    let mut body = event("response.created", json!({"response": {"id": response_id}}));
    for (position, output) in outputs.iter().enumerate() {
        let item_id = format!("item_{index}_{position}");
        match output {
            Output::Message(text) => {
                let added = json!({"type": "message", "role": "assistant", "id": item_id,
                    "content": []});
                body += &event(
                    "response.output_item.added",
                    json!({"output_index": position, "item": added}),
                );
                // Two deltas: the text arrives in pieces, as from a real model.
                let split = text.char_indices().nth(text.chars().count() / 2);
                let (head, tail) = text.split_at(split.map_or(0, |(at, _)| at));
                for delta in [head, tail].into_iter().filter(|d| !d.is_empty()) {
                    body += &event(
                        "response.output_text.delta",
                        json!({"item_id": item_id, "output_index": position,
                               "content_index": 0, "delta": delta}),
                    );
                }
                let done = json!({"type": "message", "role": "assistant", "id": item_id,
                    "content": [{"type": "output_text", "text": text, "annotations": []}]});
                body += &event(
                    "response.output_item.done",
                    json!({"output_index": position, "item": done}),
                );
            }
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
