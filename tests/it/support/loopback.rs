//! The HTTP/1.1 side of the model-API mocks (`mock_responses`, `mock_anthropic`,
//! `mock_gemini`) and their shared script and event record ([`Script`], [`Events`]): a
//! `std::net::TcpListener` on `127.0.0.1:0` with a thread per connection, speaking just enough
//! HTTP for the real agent CLIs (keep-alive, `content-length` or chunked request bodies).
//!
//! A mock is a [`Service`]: it answers one parsed [`Request`] at a time on its
//! [`Connection`]. The server stops by itself: it accepts no connection once the service is
//! used up, and nothing at all after its deadline (every accept and every read is bounded by
//! it). Dropping the [`Loopback`] shuts every connection down and joins its threads.
//!
//! Also included by `benches/turn_vs_codex.rs` (with `mock_responses.rs`), so it uses nothing
//! of the test crate.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What a scripted mock saw.
#[derive(Debug)]
pub enum MockEvent {
    /// The `index`-th model request (from 0): its path and JSON body.
    Request {
        index: usize,
        path: String,
        body: Value,
    },
    /// The client closed the connection of the stalled request `index`.
    StallEnded { index: usize },
    /// A request the mock does not serve (its request line); it got a 404.
    Unexpected { request_line: String },
}

/// The script side of a mock: one reply per model request, in order, each request numbered
/// and recorded as a [`MockEvent`] for the test's [`Events`].
pub struct Script<R> {
    replies: Mutex<VecDeque<R>>,
    served: Mutex<usize>,
    events: Sender<MockEvent>,
}

impl<R> Script<R> {
    pub fn new(replies: Vec<R>) -> (Script<R>, Events) {
        let (events, rx) = channel();
        let script = Script {
            replies: Mutex::new(replies.into()),
            served: Mutex::new(0),
            events,
        };
        (script, Events { rx })
    }

    /// Whether every reply has been given ([`Service::exhausted`]).
    pub fn exhausted(&self) -> bool {
        self.replies.lock().expect("mock script").is_empty()
    }

    /// Numbers and records a model request; returns its number and its reply (`None` when
    /// the script is used up).
    pub fn take(&self, request: &Request, body: &Value) -> (usize, Option<R>) {
        let reply = self.replies.lock().expect("mock script").pop_front();
        let index = {
            let mut served = self.served.lock().expect("mock counter");
            *served += 1;
            *served - 1
        };
        self.record(MockEvent::Request {
            index,
            path: request.path.clone(),
            body: body.clone(),
        });
        (index, reply)
    }

    /// Records a request the mock does not serve.
    pub fn unexpected(&self, request: &Request) {
        self.record(MockEvent::Unexpected {
            request_line: request.line.clone(),
        });
    }

    pub fn record(&self, event: MockEvent) {
        let _ = self.events.send(event);
    }
}

/// The test's side of a mock: what it saw, in order.
pub struct Events {
    rx: Receiver<MockEvent>,
}

impl Events {
    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<MockEvent> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Waits (at most `timeout`) for the model request number `index`; returns its body.
    /// Panics on timeout or on a request the mock does not serve.
    pub fn wait_request(&self, index: usize, timeout: Duration) -> Value {
        self.wait_request_with_path(index, timeout).1
    }

    /// [`Events::wait_request`], with the request's path.
    pub fn wait_request_with_path(&self, index: usize, timeout: Duration) -> (String, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(MockEvent::Request {
                    index: i,
                    path,
                    body,
                }) if i == index => return (path, body),
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
        self.rx.try_iter().collect()
    }
}

/// What a mock does with the requests it gets.
pub trait Service: Send + Sync + 'static {
    /// Whether the mock wants no more connections (its script is used up).
    fn exhausted(&self) -> bool;
    /// Answers `request` on `connection`; `false` closes the connection afterwards.
    fn serve(&self, request: Request, connection: &mut Connection) -> bool;
}

/// One parsed HTTP request.
pub struct Request {
    /// The request line, e.g. `POST /v1/messages?beta=true HTTP/1.1`.
    pub line: String,
    pub method: String,
    /// The path without its query.
    pub path: String,
    /// The query (after `?`, still percent-encoded; empty when none).
    pub query: String,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, or as a JSON string when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()))
    }
}

/// How a connection that waits for its client to go away ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The client closed it.
    ByClient,
    /// The mock's deadline passed, or the mock was dropped.
    ByMock,
}

/// One accepted connection.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    deadline: Instant,
    stop: Arc<AtomicBool>,
}

impl Connection {
    /// A complete response with `content-length`.
    pub fn respond(&mut self, status: u16, content_type: &str, body: &[u8]) -> std::io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            reason(status),
            body.len()
        );
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        self.writer.flush()
    }

    /// A plain-text response.
    pub fn respond_plain(&mut self, status: u16, text: &str) -> std::io::Result<()> {
        self.respond(status, "text/plain", text.as_bytes())
    }

    /// Raw bytes (the head and start of a response that never ends).
    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// The connection's stream, for a protocol the connection was upgraded to (after a `101`
    /// written with [`Connection::write_raw`]); its reads are bounded by the mock's deadline.
    pub fn upgraded(&mut self) -> std::io::Result<TcpStream> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let stream = self.writer.try_clone()?;
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        Ok(stream)
    }

    /// Waits until the client closes the connection (read returns EOF or an error), or until
    /// the mock's deadline or drop.
    pub fn wait_closed(&mut self) -> Closed {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || self.reader.get_ref().set_read_timeout(Some(left)).is_err() {
            return Closed::ByMock;
        }
        let mut sink = [0u8; 4096];
        loop {
            match self.reader.read(&mut sink) {
                Ok(0) => return Closed::ByClient,
                Ok(_) => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Closed::ByMock;
                }
                Err(_) if self.stop.load(Ordering::SeqCst) => return Closed::ByMock,
                Err(_) => return Closed::ByClient,
            }
        }
    }
}

/// A running loopback server; see the module documentation.
pub struct Loopback {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl Loopback {
    /// Serves `service` on `127.0.0.1:0` until it is used up or `lifetime` has passed.
    pub fn start(service: Arc<dyn Service>, lifetime: Duration) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock on 127.0.0.1");
        let addr = listener.local_addr().expect("mock address");
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let deadline = Instant::now() + lifetime;
            let (stop, streams) = (Arc::clone(&stop), Arc::clone(&streams));
            thread::spawn(move || accept_loop(&listener, &service, deadline, &stop, &streams))
        };
        Loopback {
            addr,
            stop,
            streams,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Loopback {
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

/// Accepts connections until the service is used up, the deadline passes or the server is
/// dropped; returns the connection threads.
fn accept_loop(
    listener: &TcpListener,
    service: &Arc<dyn Service>,
    deadline: Instant,
    stop: &Arc<AtomicBool>,
    streams: &Arc<Mutex<Vec<TcpStream>>>,
) -> Vec<JoinHandle<()>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut workers = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if service.exhausted() || left.is_zero() || stop.load(Ordering::SeqCst) {
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
            let mut streams = streams.lock().expect("mock streams");
            if stop.load(Ordering::SeqCst) {
                return workers;
            }
            if let Ok(clone) = stream.try_clone() {
                streams.push(clone);
            }
        }
        let Ok(read_half) = stream.try_clone() else {
            continue;
        };
        let mut connection = Connection {
            reader: BufReader::new(read_half),
            writer: stream,
            deadline,
            stop: Arc::clone(stop),
        };
        let service = Arc::clone(service);
        workers.push(thread::spawn(move || {
            serve_connection(&mut connection, service.as_ref())
        }));
    }
}

/// Serves the requests of one (keep-alive) connection until it closes or a reply closes it.
fn serve_connection(connection: &mut Connection, service: &dyn Service) {
    loop {
        let left = connection
            .deadline
            .saturating_duration_since(Instant::now());
        if left.is_zero()
            || connection
                .reader
                .get_ref()
                .set_read_timeout(Some(left))
                .is_err()
        {
            return;
        }
        let Some(request) = read_request(&mut connection.reader) else {
            return;
        };
        if !service.serve(request, connection) {
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
    let mut headers = Vec::new();
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
        headers.push((name.clone(), value.to_owned()));
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
    let line = line.trim_end().to_owned();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_owned(), query.to_owned());
    Some(Request {
        line,
        method,
        path,
        query,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        403 => "Forbidden",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Mock Status",
    }
}
