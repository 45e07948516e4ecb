//! `command/exec` and its companions, on the loop.
//!
//! A command is a pure [`plan`], an entry in [`Commands`] under its process id, and a
//! [`driver`] task that launches its supervisor (`process::command`), streams its output and
//! reports its end. Output and the end come back to the loop as [`Event::Command`] records,
//! like a turn's records, so the loop never waits for a command: `command/exec` is answered
//! when the command's `Ended` event arrives, after every output delta of it (the driver sends
//! them in that order). `write`, `resize` and `terminate` queue a [`Control`] to the driver and
//! answer at once, so their `{}` precedes whatever the process does next.
//!
//! Process ids belong to the connection; when the client goes away the loop ends, every
//! driver's control channel closes, and each supervisor, on the end of its control socket,
//! kills its command's whole tree (also when the server itself is killed).

mod driver;
mod plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::mpsc;

use super::Event;
use super::state::{Reply, Server, to_value};
use crate::jsonrpc::{ErrorObject, Outgoing, RequestId};
use crate::process::pty::Size;
use crate::protocol::{
    CommandExecOutputDeltaNotification, CommandExecParams, CommandExecResizeParams,
    CommandExecResizeResponse, CommandExecResponse, CommandExecTerminateParams,
    CommandExecTerminateResponse, CommandExecWriteParams, CommandExecWriteResponse,
    ServerNotification,
};

/// At most this many bytes of `command/exec/write` may wait for a process that does not read
/// its stdin; more is refused (memory stays bounded).
const MAX_QUEUED_STDIN: usize = 16 * 1024 * 1024;

/// A command's key: the client's process id, or one of ours for a buffered command without
/// one (never shown to the client).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Client(String),
    Internal(u64),
}

/// What a command's driver reports to the loop.
#[derive(Debug)]
pub(crate) struct CommandEvent {
    key: Key,
    kind: CommandEventKind,
}

#[derive(Debug)]
enum CommandEventKind {
    /// Streamed output.
    Output(CommandExecOutputDeltaNotification),
    /// The command ended (or could not start): the answer to its `command/exec`.
    Ended(Result<CommandExecResponse, ErrorObject>),
}

/// What the loop asks of a running command's driver.
#[derive(Debug)]
enum Control {
    Stdin(Vec<u8>),
    CloseStdin,
    Resize(Size),
    Terminate,
}

/// The state of a command's stdin, as `command/exec/write` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stdin {
    NotStreamed,
    Open,
    Closed,
}

/// A command between its `command/exec` and its answer.
#[derive(Debug)]
struct Running {
    request: RequestId,
    control: mpsc::UnboundedSender<Control>,
    stdin: Stdin,
    /// Bytes written by the client that the process has not read yet.
    stdin_queued: Arc<AtomicUsize>,
    terminal: bool,
}

/// Every running command of this connection.
#[derive(Debug, Default)]
pub(crate) struct Commands {
    running: HashMap<Key, Running>,
    next_internal: u64,
}

/// Codex's error for a process id that names no running command.
fn no_active(process_id: &str) -> ErrorObject {
    ErrorObject::request_failed(format!(
        "no active command/exec for process id {}",
        quoted(process_id)
    ))
}

/// A process id as Codex's errors show it: a JSON string (shortened when long).
fn quoted(process_id: &str) -> String {
    serde_json::to_string(&crate::jsonrpc::quote(process_id)).unwrap_or_default()
}

impl Server {
    /// `command/exec`: answered later, by the command's `Ended` event (`None` here), or now
    /// with the error.
    pub(crate) fn command_exec(
        &mut self,
        id: &RequestId,
        params: CommandExecParams,
    ) -> Option<Reply> {
        match self.start_command(id, params) {
            Ok(()) => None,
            Err(err) => Some(Err(err)),
        }
    }

    fn start_command(
        &mut self,
        id: &RequestId,
        params: CommandExecParams,
    ) -> Result<(), ErrorObject> {
        let server_cwd = std::env::current_dir().map_err(ErrorObject::internal)?;
        let confiners = plan::Confiners {
            landlock: crate::process::sandbox::landlock_abi().is_some(),
            seccomp: crate::process::sandbox::seccomp_available(),
        };
        let plan = plan::plan(params, &server_cwd, confiners)?;
        let commands = &mut self.commands;
        let key = match &plan.process_id {
            Some(process_id) => Key::Client(process_id.clone()),
            None => {
                commands.next_internal += 1;
                Key::Internal(commands.next_internal)
            }
        };
        if let (Key::Client(process_id), true) = (&key, commands.running.contains_key(&key)) {
            return Err(ErrorObject::request_failed(format!(
                "duplicate active command/exec process id: {}",
                quoted(process_id)
            )));
        }
        let exe = std::env::current_exe()
            .map_err(|err| ErrorObject::internal(format!("failed to spawn command: {err}")))?;
        let (control, control_rx) = mpsc::unbounded_channel();
        let stdin_queued = Arc::new(AtomicUsize::new(0));
        commands.running.insert(
            key.clone(),
            Running {
                request: id.clone(),
                control,
                stdin: if plan.stream_stdin {
                    Stdin::Open
                } else {
                    Stdin::NotStreamed
                },
                stdin_queued: Arc::clone(&stdin_queued),
                terminal: plan.spec.terminal,
            },
        );
        tokio::spawn(driver::run(driver::Driver {
            key,
            exe,
            plan,
            events: self.events.clone(),
            control: control_rx,
            stdin_queued,
        }));
        Ok(())
    }

    /// `command/exec/write`: bytes for stdin and/or its end.
    pub(crate) fn command_exec_write(&mut self, params: CommandExecWriteParams) -> Reply {
        let close = params.close_stdin.unwrap_or(false);
        let bytes = match (&params.delta_base64, close) {
            (None, false) => {
                return Err(ErrorObject::invalid_params_verbatim(
                    "command/exec/write requires deltaBase64 or closeStdin",
                ));
            }
            (None, true) => Vec::new(),
            (Some(delta), _) => STANDARD.decode(delta).map_err(|err| {
                ErrorObject::invalid_params_verbatim(format!("invalid deltaBase64: {err}"))
            })?,
        };
        let process_id = &params.process_id;
        let running = self
            .commands
            .running
            .get_mut(&Key::Client(process_id.clone()))
            .ok_or_else(|| no_active(process_id))?;
        match running.stdin {
            Stdin::NotStreamed => {
                return Err(ErrorObject::request_failed(
                    "stdin streaming is not enabled for this command/exec",
                ));
            }
            Stdin::Closed if !bytes.is_empty() => {
                return Err(ErrorObject::request_failed("stdin is already closed"));
            }
            Stdin::Open | Stdin::Closed => {}
        }
        if !bytes.is_empty() {
            let queued = running.stdin_queued.load(Ordering::SeqCst);
            if queued + bytes.len() > MAX_QUEUED_STDIN {
                return Err(ErrorObject::request_failed(format!(
                    "stdin of command/exec {} is full: {queued} bytes are waiting for the \
                     process to read them",
                    quoted(process_id)
                )));
            }
            running
                .stdin_queued
                .fetch_add(bytes.len(), Ordering::SeqCst);
            let _ = running.control.send(Control::Stdin(bytes));
        }
        if close && running.stdin == Stdin::Open {
            running.stdin = Stdin::Closed;
            let _ = running.control.send(Control::CloseStdin);
        }
        to_value(&CommandExecWriteResponse {})
    }

    /// `command/exec/terminate`: the whole tree is killed; the command's own answer follows
    /// (exit code 137).
    pub(crate) fn command_exec_terminate(&mut self, params: CommandExecTerminateParams) -> Reply {
        let running = self
            .commands
            .running
            .get(&Key::Client(params.process_id.clone()))
            .ok_or_else(|| no_active(&params.process_id))?;
        let _ = running.control.send(Control::Terminate);
        to_value(&CommandExecTerminateResponse {})
    }

    /// `command/exec/resize`: the new size of a `tty` command's terminal.
    pub(crate) fn command_exec_resize(&mut self, params: CommandExecResizeParams) -> Reply {
        let size = plan::checked_size(params.size)?;
        let running = self
            .commands
            .running
            .get(&Key::Client(params.process_id.clone()))
            .ok_or_else(|| no_active(&params.process_id))?;
        if !running.terminal {
            return Err(ErrorObject::request_failed(
                "failed to resize PTY: process is not attached to a PTY",
            ));
        }
        let _ = running.control.send(Control::Resize(size));
        to_value(&CommandExecResizeResponse {})
    }

    /// Output or the end of a command.
    pub(crate) async fn on_command_event(&mut self, event: CommandEvent) {
        match event.kind {
            CommandEventKind::Output(delta) => {
                self.notify(ServerNotification::CommandExecOutputDelta(delta))
                    .await;
            }
            CommandEventKind::Ended(result) => {
                let Some(running) = self.commands.running.remove(&event.key) else {
                    return;
                };
                let reply = result.and_then(|response| to_value(&response));
                self.send(Outgoing::Response {
                    id: running.request,
                    result: reply,
                })
                .await;
            }
        }
    }
}

impl CommandEvent {
    fn output(key: &Key, delta: CommandExecOutputDeltaNotification) -> Event {
        Event::Command(CommandEvent {
            key: key.clone(),
            kind: CommandEventKind::Output(delta),
        })
    }

    fn ended(key: Key, result: Result<CommandExecResponse, ErrorObject>) -> Event {
        Event::Command(CommandEvent {
            key,
            kind: CommandEventKind::Ended(result),
        })
    }
}
