//! Following and controlling a runner from another process (the server, `agent-host kill`).
//!
//! [`subscribe`] streams a turn's event records from a seq: over the control socket while the
//! runner lives, and from `events.jsonl` plus `exit.json` when it does not (or stops
//! mid-stream). It yields each seq once, in order, and ends after `turnEnded`; when the
//! runner died after writing `exit.json` but before the record, the record is synthesized
//! from `exit.json`. Requests ([`interrupt`], [`steer`], [`approve`]) go over the socket.

use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::events::{EventRecord, ExitRecord, InterruptReason, ProcessRecord, check_version};
use crate::process::identity;
use crate::runner::EXIT_FILE;
use crate::runner::control::{ControlReply, ControlRequest};
use crate::runner::launch::read_process_record;
use crate::runner::log::{self, EVENTS_FILE};

/// How often the file fallback looks for new records.
const TAIL_POLL: Duration = Duration::from_millis(25);
/// How long a request waits for the runner's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads `exit.json` if it exists.
pub fn read_exit_record(turn_dir: &Path) -> io::Result<Option<ExitRecord>> {
    let bytes = match std::fs::read(turn_dir.join(EXIT_FILE)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let record: ExitRecord = serde_json::from_slice(&bytes)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, format!("exit.json: {err}")))?;
    check_version(record.v, "exit.json")
        .map_err(|msg| io::Error::new(io::ErrorKind::InvalidData, msg))?;
    Ok(Some(record))
}

/// The control socket of a live runner, or `None` when the runner is gone (or serves no
/// socket: a runner placed by an engine reads its control inbox instead).
pub fn live_socket(turn_dir: &Path) -> Option<PathBuf> {
    let record = read_process_record(turn_dir)?;
    // A runner an engine placed serves its socket for `runner ctl` on its own node only:
    // whoever else controls it does so through its inbox, wherever it runs.
    if record.socket.is_empty() || record.engine.is_some() || !runner_alive(&record) {
        return None;
    }
    Some(PathBuf::from(record.socket))
}

/// A runner on another node counts as gone once its heartbeat is older than this.
const REMOTE_HEARTBEAT_LIMIT: Duration = Duration::from_secs(10);

/// Whether the runner of a process record lives: by identity on this machine (pid, start
/// time and boot id); for a runner an engine placed on another node (another boot id), by
/// its heartbeat in the shared turn directory. The engine itself is asked by those who end a
/// turn on a runner's behalf (`crate::launcher`).
pub fn runner_alive(record: &ProcessRecord) -> bool {
    let remote = record.engine.is_some()
        && identity::boot_id().is_ok_and(|boot| boot != record.runner.boot_id);
    if !remote {
        return identity::is_alive(&record.runner);
    }
    let age = crate::events::now_ms().saturating_sub(record.heartbeat_at_ms);
    Duration::from_millis(age) < REMOTE_HEARTBEAT_LIMIT
}

/// Streams the turn's records from `from_seq` (see the module doc). The stream ends after
/// `turnEnded`, or with an error item when the runner died without an exit record.
pub async fn subscribe(
    turn_dir: &Path,
    from_seq: u64,
) -> io::Result<mpsc::Receiver<io::Result<EventRecord>>> {
    let (tx, rx) = mpsc::channel(256);
    let turn_dir = turn_dir.to_path_buf();
    tokio::spawn(async move {
        let mut next = from_seq.max(1);
        if let Some(socket) = live_socket(&turn_dir) {
            match follow_socket(&socket, &mut next, &tx).await {
                Ok(Followed::ToTheEnd) => return,
                Ok(Followed::Interrupted) => {}
                Err(err) => tracing::debug!(%err, "socket subscription failed; tailing files"),
            }
        }
        tail_files(&turn_dir, &mut next, &tx).await;
    });
    Ok(rx)
}

/// Whether a stream reached `turnEnded`.
enum Followed {
    ToTheEnd,
    Interrupted,
}

async fn follow_socket(
    socket: &Path,
    next: &mut u64,
    tx: &mpsc::Sender<io::Result<EventRecord>>,
) -> io::Result<Followed> {
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_vec(&ControlRequest::Subscribe { from_seq: *next })
        .map_err(io::Error::other)?;
    request.push(b'\n');
    write.write_all(&request).await?;
    let mut lines = tokio::io::BufReader::new(read).lines();
    let Some(first) = lines.next_line().await? else {
        return Ok(Followed::Interrupted);
    };
    let reply: ControlReply = serde_json::from_str(&first).map_err(io::Error::other)?;
    if !reply.ok {
        return Ok(Followed::Interrupted);
    }
    while let Some(line) = lines.next_line().await? {
        let record = match log::parse_line(line.as_bytes()) {
            Ok(record) => record,
            Err(problem) => {
                tracing::warn!(%problem, "bad record from the runner");
                continue;
            }
        };
        if record.seq < *next {
            continue;
        }
        *next = record.seq + 1;
        let ended = record.is_turn_ended();
        if tx.send(Ok(record)).await.is_err() || ended {
            return Ok(Followed::ToTheEnd);
        }
    }
    Ok(Followed::Interrupted)
}

async fn tail_files(turn_dir: &Path, next: &mut u64, tx: &mpsc::Sender<io::Result<EventRecord>>) {
    let events = turn_dir.join(EVENTS_FILE);
    let mut offset = 0;
    let mut attached_at: Option<std::time::Instant> = None;
    loop {
        renew_attach(turn_dir, &mut attached_at);
        // Whether the turn had ended before this read: then the read sees everything.
        let exit_before = read_exit_record(turn_dir).ok().flatten();
        let runner_gone_before =
            !read_process_record(turn_dir).is_some_and(|record| runner_alive(&record));
        let read = match log::read_from(&events, offset) {
            Ok(read) => read,
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        offset = read.complete_len;
        for record in read.records {
            if record.seq < *next {
                continue;
            }
            *next = record.seq + 1;
            let ended = record.is_turn_ended();
            if tx.send(Ok(record)).await.is_err() || ended {
                return;
            }
        }
        if let Some(exit) = exit_before {
            if exit.last_seq >= *next {
                let _ = tx.send(Ok(exit.turn_ended_record())).await;
            }
            return;
        }
        if runner_gone_before && turn_dir.join(PROCESS_FILE_NAME).exists() {
            let _ = tx
                .send(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the runner is gone and left no exit record",
                )))
                .await;
            return;
        }
        tokio::time::sleep(TAIL_POLL).await;
    }
}

const PROCESS_FILE_NAME: &str = crate::runner::PROCESS_FILE;

/// How often a follower of a runner that reads its control inbox renews its attachment.
const ATTACH_RENEW: Duration = Duration::from_secs(2);

/// Following a runner that serves no socket (an engine placed it) is attaching to it: an
/// `attach` in its control inbox every [`ATTACH_RENEW`], so that it counts a client as
/// attached for approvals, as an open subscription does on the socket.
fn renew_attach(turn_dir: &Path, attached_at: &mut Option<std::time::Instant>) {
    if attached_at.is_some_and(|at| at.elapsed() < ATTACH_RENEW) {
        return;
    }
    *attached_at = Some(std::time::Instant::now());
    if !uses_inbox(turn_dir) {
        return;
    }
    let line = crate::runner::inbox::InboxLine {
        id: uuid::Uuid::now_v7().to_string(),
        request: ControlRequest::Attach {},
    };
    if let Err(err) = crate::runner::inbox::append(turn_dir, &line) {
        tracing::debug!(%err, "cannot attach through the control inbox");
    }
}

/// Sends one request to the runner of `turn_dir` and waits for its answer (blocking).
pub fn request_blocking(turn_dir: &Path, request: &ControlRequest) -> io::Result<()> {
    if uses_inbox(turn_dir) {
        return inbox_request(turn_dir, request);
    }
    let socket = live_socket(turn_dir)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the runner is not running"))?;
    let answer = socket_exchange(&socket, request)?;
    reply_to_result(&answer)
}

/// `runner ctl`: sends one request to the runner of `turn_dir` over its control socket, on
/// the node where the runner runs (an engine's runner too: on Kubernetes this runs in the
/// runner's pod, through `pods/exec`), and returns its answer.
pub fn ctl(turn_dir: &Path, request: &ControlRequest) -> io::Result<ControlReply> {
    let record = read_process_record(turn_dir)
        .filter(|record| !record.socket.is_empty() && identity::is_alive(&record.runner))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                "no runner of this turn runs here",
            )
        })?;
    let answer = socket_exchange(Path::new(&record.socket), request)?;
    if answer.trim().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the runner closed the connection without answering",
        ));
    }
    serde_json::from_str(answer.trim()).map_err(io::Error::other)
}

/// Writes one request line to the socket and reads the answer line (bounded).
fn socket_exchange(socket: &Path, request: &ControlRequest) -> io::Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    Ok(answer)
}

/// Sends one request to the runner of `turn_dir` and waits for its answer: over its socket,
/// or through its control inbox when an engine placed it.
pub async fn request(turn_dir: &Path, request: &ControlRequest) -> io::Result<()> {
    if uses_inbox(turn_dir) {
        let (dir, request) = (turn_dir.to_path_buf(), request.clone());
        return tokio::task::spawn_blocking(move || inbox_request(&dir, &request))
            .await
            .map_err(io::Error::other)?;
    }
    let socket = live_socket(turn_dir)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the runner is not running"))?;
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(&socket).await?;
        let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
        line.push(b'\n');
        stream.write_all(&line).await?;
        let mut answer = String::new();
        tokio::io::BufReader::new(stream)
            .read_line(&mut answer)
            .await?;
        reply_to_result(&answer)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the runner did not answer"))?
}

/// True when the turn's runner takes requests through its control inbox (it was placed by
/// an engine) rather than a socket.
fn uses_inbox(turn_dir: &Path) -> bool {
    read_process_record(turn_dir).is_some_and(|record| record.engine.is_some())
}

/// How often a request through the inbox looks for its acknowledgement.
const INBOX_POLL: Duration = Duration::from_millis(20);

/// Sends one request through the turn's control inbox and waits (bounded) for the runner's
/// acknowledgement in the event log: its answer, as the socket would have given it.
fn inbox_request(turn_dir: &Path, request: &ControlRequest) -> io::Result<()> {
    let record = read_process_record(turn_dir)
        .filter(runner_alive)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the runner is not running"))?;
    let id = uuid::Uuid::now_v7().to_string();
    let line = crate::runner::inbox::InboxLine {
        id: id.clone(),
        request: request.clone(),
    };
    crate::runner::inbox::append(turn_dir, &line)?;
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    let events = turn_dir.join(EVENTS_FILE);
    let mut offset = 0;
    loop {
        let read = log::read_from(&events, offset)?;
        offset = read.complete_len;
        for record in read.records {
            if let crate::events::Event::ControlAcknowledged {
                id: acked,
                ok,
                error,
            } = record.event
                && acked == id
            {
                return match ok {
                    true => Ok(()),
                    false => Err(io::Error::other(
                        error.unwrap_or_else(|| "the runner refused".to_owned()),
                    )),
                };
            }
        }
        if read_exit_record(turn_dir)?.is_some() {
            return Err(io::Error::other(
                "the turn ended before the runner took the request",
            ));
        }
        if std::time::Instant::now() >= deadline || !runner_alive(&record) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the runner did not acknowledge the request in its control inbox",
            ));
        }
        std::thread::sleep(INBOX_POLL);
    }
}

fn reply_to_result(answer: &str) -> io::Result<()> {
    if answer.trim().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the runner closed the connection without answering",
        ));
    }
    let reply: ControlReply = serde_json::from_str(answer.trim()).map_err(io::Error::other)?;
    match reply.ok {
        true => Ok(()),
        false => Err(io::Error::other(
            reply
                .error
                .unwrap_or_else(|| "the runner refused".to_owned()),
        )),
    }
}

/// Asks the runner to interrupt the turn.
pub async fn interrupt(turn_dir: &Path, reason: InterruptReason) -> io::Result<()> {
    request(turn_dir, &ControlRequest::Interrupt { reason }).await
}

/// Extra user input for the running turn (see [`ControlRequest::Steer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SteerInput {
    pub input: Value,
    pub prompt: String,
    pub user_message_id: String,
    pub client_user_message_id: Option<String>,
}

/// Sends extra user input to the running turn; the runner refuses it when the backend
/// cannot take it now.
pub async fn steer(turn_dir: &Path, steer: SteerInput) -> io::Result<()> {
    let SteerInput {
        input,
        prompt,
        user_message_id,
        client_user_message_id,
    } = steer;
    request(
        turn_dir,
        &ControlRequest::Steer {
            input,
            prompt,
            user_message_id,
            client_user_message_id,
        },
    )
    .await
}

/// Answers an approval request of the backend.
pub async fn approve(turn_dir: &Path, request_id: &str, decision: Value) -> io::Result<()> {
    request(
        turn_dir,
        &ControlRequest::Approve {
            request_id: request_id.to_owned(),
            decision,
        },
    )
    .await
}
