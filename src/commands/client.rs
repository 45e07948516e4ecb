//! A protocol client of an in-process server ([`crate::server::InProcess`]): what the
//! commands that act on threads (`resume`, `unarchive`) use, so that they go through the
//! server's own code paths (turn launching, locks, recovery, archive rules) instead of
//! reimplementing them. Requests are our protocol types; what comes back is read as the
//! protocol's notifications and server requests.

use std::collections::VecDeque;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::jsonrpc::{self, ErrorObject, Incoming, Line, RequestId};
use crate::protocol::{ClientInfo, ClientRequest, InitializeParams};
use crate::server::{InProcess, Opened};

/// The name the commands give in `initialize` (recorded as the originator of what they do).
const CLIENT_NAME: &str = "agent-host-cli";

/// Why talking to the in-process server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered a request with an error.
    #[error("{}", .0.message)]
    Rejected(ErrorObject),
    /// The server ended or wrote something that is not the protocol.
    #[error("the in-process server {0}")]
    Broken(String),
}

/// One message from the server that is not the answer to a request being waited for.
#[derive(Debug, Clone)]
pub enum FromServer {
    Notification {
        method: String,
        params: Value,
        /// The line as the server wrote it.
        raw: Value,
    },
    Request {
        id: RequestId,
        method: String,
        params: Value,
        raw: Value,
    },
    /// The answer to a request sent with [`Client::send`].
    Response {
        id: RequestId,
        result: Result<Value, ErrorObject>,
    },
}

/// An initialized session with an in-process server.
pub struct Client {
    input: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    /// The server's messages, read by a task of their own (so that waiting for the next one
    /// can be cancelled, in a `select!`, without losing part of a line).
    messages: mpsc::Receiver<Result<FromServer, ClientError>>,
    thread: std::thread::JoinHandle<std::process::ExitCode>,
    next_id: i64,
    /// Messages read while waiting for a response, handed out by [`Client::next`] first.
    pending: VecDeque<FromServer>,
}

impl Client {
    /// Starts the server and initializes a session.
    pub async fn start(opened: Opened) -> Result<Client, ClientError> {
        let InProcess {
            input,
            output,
            thread,
        } = InProcess::start(opened)
            .map_err(|err| ClientError::Broken(format!("cannot start: {err}")))?;
        let (sender, messages) = mpsc::channel(64);
        tokio::spawn(read_messages(output, sender));
        let mut client = Client {
            input,
            messages,
            thread,
            next_id: 0,
            pending: VecDeque::new(),
        };
        let params = InitializeParams {
            client_info: ClientInfo {
                name: CLIENT_NAME.to_owned(),
                title: None,
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            capabilities: None,
        };
        client.call(ClientRequest::Initialize(params)).await?;
        client.write(&json!({"method": "initialized"})).await?;
        Ok(client)
    }

    /// Sends a request and waits for its answer; other messages that arrive meanwhile are
    /// kept for [`Client::next`].
    pub async fn call(&mut self, request: ClientRequest) -> Result<Value, ClientError> {
        let id = self.send(request).await?;
        loop {
            match self.read().await? {
                FromServer::Response { id: got, result } if got == id => {
                    return result.map_err(ClientError::Rejected);
                }
                other => self.pending.push_back(other),
            }
        }
    }

    /// Sends a request without waiting; its answer comes from [`Client::next`].
    pub async fn send(&mut self, request: ClientRequest) -> Result<RequestId, ClientError> {
        let id = RequestId::Int(self.next_id);
        self.next_id += 1;
        let mut message = serde_json::to_value(&request)
            .map_err(|err| ClientError::Broken(format!("cannot encode a request: {err}")))?;
        message["id"] = json!(id);
        self.write(&message).await?;
        Ok(id)
    }

    /// Forgets the messages kept while waiting for responses (what came before the part
    /// the command shows).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// Answers a server request.
    pub async fn answer(&mut self, id: &RequestId, result: Value) -> Result<(), ClientError> {
        self.write(&json!({"id": id, "result": result})).await
    }

    /// The next message from the server; `None` when it has ended. Cancel-safe.
    pub async fn next(&mut self) -> Result<Option<FromServer>, ClientError> {
        if let Some(message) = self.pending.pop_front() {
            return Ok(Some(message));
        }
        self.messages.recv().await.transpose()
    }

    /// Ends the session: closes the server's input and waits for it to finish.
    pub async fn close(self) {
        let Client {
            mut input, thread, ..
        } = self;
        if let Err(err) = input.shutdown().await {
            tracing::warn!("cannot close the in-process server's input: {err}");
        }
        drop(input);
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => tracing::warn!("the in-process server panicked"),
            Err(err) => tracing::warn!("cannot wait for the in-process server: {err}"),
        }
    }

    async fn write(&mut self, message: &Value) -> Result<(), ClientError> {
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        self.input
            .write_all(&line)
            .await
            .map_err(|err| ClientError::Broken(format!("stopped reading: {err}")))
    }

    async fn read(&mut self) -> Result<FromServer, ClientError> {
        match self.messages.recv().await {
            Some(message) => message,
            None => Err(ClientError::Broken("ended".to_owned())),
        }
    }
}

/// Reads the server's output, one message per line, until it ends or the client is gone.
async fn read_messages<R>(mut output: R, messages: mpsc::Sender<Result<FromServer, ClientError>>)
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut line = Vec::new();
    loop {
        line.clear();
        let message = match output.read_until(b'\n', &mut line).await {
            Ok(0) => return,
            Ok(_) => parse(&line),
            Err(err) => Err(ClientError::Broken(format!("cannot be read: {err}"))),
        };
        let stop = message.is_err();
        if messages.send(message).await.is_err() || stop {
            return;
        }
    }
}

/// One line of the server's output as a message.
fn parse(line: &[u8]) -> Result<FromServer, ClientError> {
    let raw: Value = serde_json::from_slice(line)
        .map_err(|err| ClientError::Broken(format!("wrote a line that is not JSON: {err}")))?;
    match jsonrpc::classify(line) {
        Line::Message(Incoming::Notification { method, params }) => Ok(FromServer::Notification {
            method,
            params: params.unwrap_or(Value::Null),
            raw,
        }),
        Line::Message(Incoming::Request { id, method, params }) => Ok(FromServer::Request {
            id,
            method,
            params: params.unwrap_or(Value::Null),
            raw,
        }),
        Line::Message(Incoming::Response { id, result }) => Ok(FromServer::Response { id, result }),
        Line::Blank | Line::Invalid(_) => Err(ClientError::Broken(format!(
            "wrote a line that is no message: {}",
            jsonrpc::quote(&raw.to_string())
        ))),
    }
}
