//! The control socket: newline-delimited JSON requests and answers (`docs/contracts.md`).
//!
//! Each connection gets a thread. Requests that change the turn go to the supervisor loop
//! as [`Input`]s and wait for its answer; a subscription gets a channel of live record lines
//! and the seq up to which it must replay from the file, so the loop never blocks on a slow
//! reader.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::InterruptReason;
use crate::runner::log;

/// How long a connection waits for the supervisor loop to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request line accepted.
const MAX_REQUEST_BYTES: u64 = 16 * 1024 * 1024;

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ControlRequest {
    /// Replay records from `from_seq`, then follow live until `turnEnded`.
    Subscribe {
        #[serde(default = "first_seq")]
        from_seq: u64,
    },
    Interrupt {
        reason: InterruptReason,
    },
    /// More user input for the running turn: `input` is the client's (`UserInput[]`, kept
    /// in the `steered` record), `prompt` the text the backend gets, `userMessageId` and
    /// `clientUserMessageId` name the user message item.
    Steer {
        input: Value,
        #[serde(default)]
        prompt: String,
        #[serde(default)]
        user_message_id: String,
        #[serde(default)]
        client_user_message_id: Option<String>,
    },
    Approve {
        request_id: String,
        decision: Value,
    },
    /// Through the control inbox only: the sender follows the turn and can answer approval
    /// requests for the next [`ATTACH_LEASE`]; renewed while it follows (the inbox's
    /// counterpart of an open subscription). Not acknowledged in the event log.
    Attach {},
}

/// How long one `attach` counts the sender as an attached client.
pub const ATTACH_LEASE: std::time::Duration = std::time::Duration::from_secs(6);

fn first_seq() -> u64 {
    1
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ControlReply {
    pub fn ok() -> ControlReply {
        ControlReply {
            ok: true,
            error: None,
        }
    }

    pub fn error(message: impl Into<String>) -> ControlReply {
        ControlReply {
            ok: false,
            error: Some(message.into()),
        }
    }
}

/// A subscription handed out by the supervisor loop.
#[derive(Debug)]
pub struct Subscription {
    /// Names the subscription in [`ControlInput::Unsubscribed`].
    pub id: u64,
    /// Records up to this seq are read from the file; later ones arrive on `live`.
    pub last_seq: u64,
    pub live: mpsc::Receiver<Arc<str>>,
    /// Dropped when the connection is done writing, which the loop waits for at the end.
    pub done: mpsc::Sender<()>,
}

/// What the connection threads send to the supervisor loop.
#[derive(Debug)]
pub enum ControlInput {
    Request {
        request: ControlRequest,
        reply: mpsc::Sender<ControlReply>,
    },
    Subscribe {
        reply: mpsc::Sender<Subscription>,
    },
    /// The subscriber of subscription `id` closed its connection (or could not be written
    /// to): it no longer follows the turn.
    Unsubscribed {
        id: u64,
    },
}

/// Accepts connections forever, forwarding to `to_loop` (wrapped by `wrap`).
pub fn serve<T: Send + 'static>(
    listener: UnixListener,
    events_path: PathBuf,
    to_loop: mpsc::Sender<T>,
    wrap: fn(ControlInput) -> T,
) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(%err, "control socket accept failed");
                continue;
            }
        };
        let to_loop = to_loop.clone();
        let events_path = events_path.clone();
        let spawned = std::thread::Builder::new()
            .name("control-conn".into())
            .spawn(move || {
                if let Err(err) = connection(stream, &events_path, &to_loop, wrap) {
                    tracing::debug!(%err, "control connection ended");
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "cannot start a control connection thread");
        }
    }
}

fn connection<T: Send + 'static>(
    stream: UnixStream,
    events_path: &Path,
    to_loop: &mpsc::Sender<T>,
    wrap: fn(ControlInput) -> T,
) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        let read = io::Read::take(&mut reader, MAX_REQUEST_BYTES).read_line(&mut line)?;
        if read == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        let request: ControlRequest = match serde_json::from_str(line.trim()) {
            Ok(request) => request,
            Err(err) => {
                write_json(
                    &mut writer,
                    &ControlReply::error(format!("bad request: {err}")),
                )?;
                continue;
            }
        };
        match request {
            ControlRequest::Subscribe { from_seq } => {
                return subscription(&mut writer, events_path, to_loop, wrap, from_seq);
            }
            ControlRequest::Interrupt { .. }
            | ControlRequest::Attach {}
            | ControlRequest::Steer { .. }
            | ControlRequest::Approve { .. } => {
                let (reply, answer) = mpsc::channel();
                let answer = match to_loop.send(wrap(ControlInput::Request { request, reply })) {
                    Ok(()) => answer
                        .recv_timeout(ANSWER_TIMEOUT)
                        .unwrap_or_else(|_| ControlReply::error("the turn has ended")),
                    Err(_) => ControlReply::error("the turn has ended"),
                };
                write_json(&mut writer, &answer)?;
            }
        }
    }
}

fn subscription<T: Send + 'static>(
    writer: &mut UnixStream,
    events_path: &Path,
    to_loop: &mpsc::Sender<T>,
    wrap: fn(ControlInput) -> T,
    from_seq: u64,
) -> io::Result<()> {
    let (reply, answer) = mpsc::channel();
    let subscription = to_loop
        .send(wrap(ControlInput::Subscribe { reply }))
        .ok()
        .and_then(|()| answer.recv_timeout(ANSWER_TIMEOUT).ok());
    let Some(subscription) = subscription else {
        return write_json(writer, &ControlReply::error("the turn has ended"));
    };
    let id = subscription.id;
    // The subscriber writes nothing more: end of input means it is gone (the client's
    // process died, or it stopped following).
    match writer.try_clone() {
        Ok(mut watched) => {
            let to_loop = to_loop.clone();
            let spawned = std::thread::Builder::new()
                .name("control-watch".into())
                .spawn(move || {
                    let mut buf = [0u8; 256];
                    loop {
                        match io::Read::read(&mut watched, &mut buf) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                    let _ = to_loop.send(wrap(ControlInput::Unsubscribed { id }));
                });
            if let Err(err) = spawned {
                tracing::warn!(%err, "cannot watch a subscriber");
            }
        }
        Err(err) => tracing::warn!(%err, "cannot watch a subscriber"),
    }
    let followed = follow(writer, events_path, from_seq, &subscription);
    if followed.is_err() {
        let _ = to_loop.send(wrap(ControlInput::Unsubscribed { id }));
    }
    drop(subscription.done);
    followed
}

/// Replays the file up to the subscription's seq, then writes live lines until the end.
fn follow(
    writer: &mut UnixStream,
    events_path: &Path,
    from_seq: u64,
    subscription: &Subscription,
) -> io::Result<()> {
    write_json(writer, &ControlReply::ok())?;
    let mut out = io::BufWriter::new(writer);
    for record in log::read_all(events_path)?.records {
        if record.seq >= from_seq && record.seq <= subscription.last_seq {
            serde_json::to_writer(&mut out, &record).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    for line in subscription.live.iter() {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        // Write what else is queued before flushing: one send per burst, not per record.
        while let Ok(more) = subscription.live.try_recv() {
            out.write_all(more.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    out.flush()
}

fn write_json<W: Write, V: Serialize>(writer: &mut W, value: &V) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line)
}
