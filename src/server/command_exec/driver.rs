//! The task beside the loop that runs one command: it launches the supervisor, hands it the
//! spec, reads stdout and stderr (a task each), writes stdin (a task), relays the loop's
//! controls, and ends with one [`CommandEvent`] `Ended` after every output event.
//!
//! The command's output never passes through the supervisor: the pipes (or the terminal's
//! master) are read here directly. Each stream is cut at the command's cap (Codex's rule: the
//! delta that reaches it says `capReached`) and read to its end anyway, so that the command is
//! not blocked by a full pipe. Once the supervisor reported the end, the streams are at their
//! end too (it killed everything that could hold them), or at the latest after [`DRAIN`].

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustix::io::Errno;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, watch};

use super::plan::Plan;
use super::{CommandEvent, Control, Key};
use crate::jsonrpc::ErrorObject;
use crate::process::command::{self, Launched, Report, TERMINATE};
use crate::process::pty;
use crate::protocol::{
    CommandExecOutputDeltaNotification, CommandExecOutputStream, CommandExecResponse,
};
use crate::server::Event;

/// How long the output may still flow after the supervisor reported the end (Codex's
/// `IO_DRAIN_TIMEOUT_MS`).
const DRAIN: Duration = Duration::from_secs(2);
/// The most one read takes, hence the most one delta carries (Codex's chunk size).
const READ_CHUNK: usize = 64 * 1024;
/// The byte a terminal reads as end of input (`VEOF`, Ctrl-D).
const END_OF_INPUT: u8 = 0x04;

/// One command, from the loop's `command/exec` to its answer.
pub(super) struct Driver {
    pub key: Key,
    pub exe: PathBuf,
    pub plan: Plan,
    pub events: mpsc::Sender<Event>,
    pub control: mpsc::UnboundedReceiver<Control>,
    pub stdin_queued: Arc<AtomicUsize>,
}

/// Runs the command and reports its end to the loop.
pub(super) async fn run(mut driver: Driver) {
    let result = drive(&mut driver).await;
    let _ = driver
        .events
        .send(CommandEvent::ended(driver.key.clone(), result))
        .await;
}

fn spawn_failed(err: impl std::fmt::Display) -> ErrorObject {
    ErrorObject::internal(format!("failed to spawn command: {err}"))
}

async fn drive(driver: &mut Driver) -> Result<CommandExecResponse, ErrorObject> {
    let Launched {
        supervisor,
        control,
        stdin,
        stdout,
        stderr,
        terminal,
    } = command::launch(&driver.exe, driver.plan.input).map_err(spawn_failed)?;
    let (drain, drained) = watch::channel(false);
    let readers = [
        Some((stdout, CommandExecOutputStream::Stdout)),
        stderr.map(|fd| (fd, CommandExecOutputStream::Stderr)),
    ]
    .map(|reader| {
        reader.map(|(fd, stream)| {
            tokio::spawn(read_output(fd, sink(driver, stream), drained.clone()))
        })
    });
    let mut stdin = stdin.map(|fd| {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::clone(&driver.stdin_queued);
        tokio::spawn(write_stdin(fd, rx, queued, terminal.is_some()));
        tx
    });
    let report = supervise(driver, control, &mut stdin, terminal.as_ref()).await;
    drop(stdin);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(DRAIN).await;
        let _ = drain.send(true);
    });
    let mut output = [Vec::new(), Vec::new()];
    for (kept, reader) in output.iter_mut().zip(readers) {
        if let Some(reader) = reader {
            *kept = reader.await.unwrap_or_default();
        }
    }
    timer.abort();
    tokio::spawn(reap(supervisor));
    // The supervisor died without its report (killed from outside): the command's processes
    // may be left to init, as a turn's are when its runner is killed.
    let report =
        report.map_err(|err| ErrorObject::internal(format!("command/exec failed: {err}")))?;
    match report {
        Report::SpawnFailed { message } => Err(spawn_failed(message)),
        Report::Exited { exit_code } => {
            let [stdout, stderr] = output;
            Ok(CommandExecResponse {
                exit_code,
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            })
        }
    }
}

/// Where one stream's output goes.
struct Sink {
    key: Key,
    /// The client's process id when output is streamed; `None`: kept for the result.
    streamed_as: Option<String>,
    stream: CommandExecOutputStream,
    cap: Option<usize>,
    events: mpsc::Sender<Event>,
}

fn sink(driver: &Driver, stream: CommandExecOutputStream) -> Sink {
    Sink {
        key: driver.key.clone(),
        streamed_as: driver
            .plan
            .process_id
            .clone()
            .filter(|_| driver.plan.stream_output),
        stream,
        cap: driver.plan.output_cap,
        events: driver.events.clone(),
    }
}

/// Hands the spec to the supervisor, relays controls, and returns its report.
async fn supervise(
    driver: &mut Driver,
    control: OwnedFd,
    stdin: &mut Option<mpsc::UnboundedSender<StdinMessage>>,
    terminal: Option<&OwnedFd>,
) -> io::Result<Report> {
    let socket = async_fd(control)?;
    let mut spec = serde_json::to_vec(&driver.plan.spec).map_err(io::Error::other)?;
    spec.push(b'\n');
    write_all(&socket, &spec).await?;
    let terminate = format!("{TERMINATE}\n");
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    let mut connected = true;
    loop {
        tokio::select! {
            read = read_some(&socket, &mut buf) => {
                let n = read?;
                if n == 0 {
                    return Err(io::Error::other("its supervisor ended without a result"));
                }
                line.extend_from_slice(&buf[..n]);
                if let Some(end) = line.iter().position(|byte| *byte == b'\n') {
                    return serde_json::from_slice(&line[..end]).map_err(io::Error::other);
                }
            }
            control = driver.control.recv(), if connected => match control {
                Some(Control::Stdin(bytes)) => {
                    if let Some(stdin) = stdin {
                        let _ = stdin.send(StdinMessage::Bytes(bytes));
                    }
                }
                Some(Control::CloseStdin) => {
                    if let Some(stdin) = stdin.take() {
                        let _ = stdin.send(StdinMessage::Close);
                    }
                }
                Some(Control::Resize(size)) => {
                    if let Some(master) = terminal
                        && let Err(err) = pty::resize(master, size)
                    {
                        tracing::debug!("resizing a command's terminal failed: {err}");
                    }
                }
                Some(Control::Terminate) => write_all(&socket, terminate.as_bytes()).await?,
                None => {
                    // The loop is gone (the client left): the command goes too.
                    connected = false;
                    write_all(&socket, terminate.as_bytes()).await?;
                }
            },
        }
    }
}

/// Reads one stream to its end (or the drain signal): streamed as deltas, or kept for the
/// result, up to the cap either way.
async fn read_output(fd: OwnedFd, sink: Sink, mut drained: watch::Receiver<bool>) -> Vec<u8> {
    let Ok(fd) = async_fd(fd) else {
        return Vec::new();
    };
    let mut buf = vec![0u8; READ_CHUNK];
    let mut kept = Vec::new();
    let mut observed = 0usize;
    let mut capped = false;
    loop {
        let n = tokio::select! {
            biased;
            read = read_some(&fd, &mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = drained.wait_for(|drained| *drained) => break,
        };
        if capped {
            continue;
        }
        let take = sink
            .cap
            .map_or(n, |cap| cap.saturating_sub(observed).min(n));
        observed += take;
        capped = sink.cap == Some(observed);
        let Some(process_id) = &sink.streamed_as else {
            kept.extend_from_slice(&buf[..take]);
            continue;
        };
        let delta = CommandExecOutputDeltaNotification {
            process_id: process_id.clone(),
            stream: sink.stream,
            delta_base64: STANDARD.encode(&buf[..take]),
            cap_reached: capped,
        };
        if sink
            .events
            .send(CommandEvent::output(&sink.key, delta))
            .await
            .is_err()
        {
            break;
        }
    }
    kept
}

/// What the stdin task is told.
#[derive(Debug)]
enum StdinMessage {
    Bytes(Vec<u8>),
    Close,
}

/// Writes stdin in order; at `Close` (or when the driver lets go) stdin is closed: the pipe's
/// write end dropped, or, on a terminal, Ctrl-D written (the master stays open for output).
async fn write_stdin(
    fd: OwnedFd,
    mut messages: mpsc::UnboundedReceiver<StdinMessage>,
    queued: Arc<AtomicUsize>,
    terminal: bool,
) {
    let mut fd = async_fd(fd).ok();
    while let Some(message) = messages.recv().await {
        match message {
            StdinMessage::Bytes(bytes) => {
                if let Some(open) = &fd
                    && write_all(open, &bytes).await.is_err()
                {
                    // The process closed its stdin; later bytes are dropped likewise.
                    fd = None;
                }
                queued.fetch_sub(bytes.len(), Ordering::SeqCst);
            }
            StdinMessage::Close => {
                if terminal && let Some(open) = &fd {
                    let _ = write_all(open, &[END_OF_INPUT]).await;
                }
                return;
            }
        }
    }
}

/// Waits for the supervisor's exit (it follows its report at once) and reaps it.
async fn reap(mut supervisor: std::process::Child) {
    let pid = rustix::process::Pid::from_raw(supervisor.id() as i32);
    let pidfd = pid.and_then(|pid| {
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK).ok()
    });
    if let Some(pidfd) = pidfd
        // SAFETY: the pidfd is owned by the `AsyncFd` and neither replaced nor closed under it.
        && let Ok(exited) = unsafe { AsyncFd::register(pidfd) }
    {
        let _ = exited.readable().await;
    }
    let _ = supervisor.try_wait();
}

/// Our end of a pipe, terminal or socket, non-blocking, on the runtime's reactor.
fn async_fd(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    rustix::io::ioctl_fionbio(&fd, true)?;
    // SAFETY: the descriptor is owned by the `AsyncFd` and neither replaced nor closed under it.
    unsafe { AsyncFd::register(fd) }.map_err(|err| err.into_parts().1)
}

/// One read; a terminal whose other side is closed (`EIO`) is at its end.
async fn read_some(fd: &AsyncFd<OwnedFd>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = fd.readable().await?;
        match ready.try_io(
            |inner| match rustix::io::read(inner.get_ref().as_fd(), &mut *buf) {
                Ok(n) => Ok(n),
                Err(Errno::IO) => Ok(0),
                Err(err) => Err(err.into()),
            },
        ) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

async fn write_all(fd: &AsyncFd<OwnedFd>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let mut ready = fd.writable().await?;
        match ready.try_io(|inner| {
            rustix::io::write(inner.get_ref().as_fd(), bytes).map_err(io::Error::from)
        }) {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(err)) => return Err(err),
            Err(_would_block) => continue,
        }
    }
    Ok(())
}
