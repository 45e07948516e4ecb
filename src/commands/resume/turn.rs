//! `agent-host resume THREAD PROMPT`: one turn, streamed. Ctrl-C asks the server to
//! interrupt the turn (`turn/interrupt`: the runner stops the backend and every process of
//! the turn) and the command waits for its end; a second Ctrl-C leaves at once, and the
//! in-process server going away stops the foreground turn through its lifeline.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use super::{EXIT_FAILED, EXIT_INTERRUPTED, Format, Resumed, render};
use crate::commands::client::{Client, ClientError, FromServer};
use crate::commands::thread_command::ThreadCommandError;
use crate::protocol::{
    ClientRequest, ServerNotification, ThreadItemKind, ThreadLoadedListParams, Turn,
    TurnInterruptParams, TurnStartParams, TurnStartResponse, TurnStatus, UserInput,
};

/// Resumes the thread, starts the turn and follows it to its end.
pub(super) async fn run(
    client: &mut Client,
    thread: &str,
    prompt: String,
    format: Format,
) -> Result<ExitCode, ThreadCommandError> {
    if let Resumed::Archived(_) = super::resume(client, thread).await? {
        return Err(ThreadCommandError::Refused(format!(
            "thread {thread} is archived; run `agent-host unarchive {thread}` to continue it"
        )));
    }
    // From here on Ctrl-C is ours: it interrupts the turn instead of ending the process.
    let mut interrupts = signal(SignalKind::interrupt())
        .map_err(|err| ClientError::Broken(format!("cannot take Ctrl-C: {err}")))?;
    // A round trip after the resume: whatever it sent (its status, the replayed token
    // usage) has arrived before the answer, and is not part of the turn shown.
    client
        .call(ClientRequest::ThreadLoadedList(
            ThreadLoadedListParams::default(),
        ))
        .await?;
    client.clear_pending();
    let started = client.call(turn_start(thread, prompt)).await?;
    let turn = serde_json::from_value::<TurnStartResponse>(started)
        .map_err(|err| ClientError::Broken(format!("answered turn/start with: {err}")))?
        .turn;
    let mut watch = Watch {
        thread: thread.to_owned(),
        turn: turn.id,
        format,
        streamed: HashSet::new(),
        interrupting: false,
    };
    loop {
        tokio::select! {
            message = client.next() => {
                let Some(message) = message? else {
                    return Err(ClientError::Broken("ended before the turn did".into()).into());
                };
                if let Some(end) = watch.on_message(client, message).await? {
                    return Ok(end);
                }
            }
            _ = interrupts.recv() => {
                if let Some(end) = watch.on_ctrl_c(client).await? {
                    return Ok(end);
                }
            }
        }
    }
}

fn turn_start(thread: &str, prompt: String) -> ClientRequest {
    ClientRequest::TurnStart(TurnStartParams {
        thread_id: thread.to_owned(),
        input: vec![UserInput::Text {
            text: prompt,
            text_elements: Vec::new(),
        }],
        cwd: None,
        approval_policy: None,
        approvals_reviewer: None,
        sandbox_policy: None,
        model: None,
        service_tier: None,
        effort: None,
        summary: None,
        personality: None,
        output_schema: None,
        client_user_message_id: None,
        background: None,
    })
}

/// What is known of the turn being followed.
struct Watch {
    thread: String,
    turn: String,
    format: Format,
    /// The agent messages whose text came as deltas (their completion adds only a line
    /// break).
    streamed: HashSet<String>,
    interrupting: bool,
}

impl Watch {
    /// Handles one message; the exit code once the turn has ended.
    async fn on_message(
        &mut self,
        client: &mut Client,
        message: FromServer,
    ) -> Result<Option<ExitCode>, ThreadCommandError> {
        match message {
            FromServer::Notification {
                method,
                params,
                raw,
            } => {
                if self.format == Format::Json {
                    out(&format!("{raw}\n"), Stream::Stdout)?;
                }
                let notification = serde_json::from_value::<ServerNotification>(
                    json!({"method": method, "params": params}),
                );
                match notification {
                    Ok(notification) => self.on_notification(notification),
                    // A notification this build cannot read is nothing to show.
                    Err(_) => Ok(None),
                }
            }
            FromServer::Request {
                id,
                method,
                params,
                raw,
            } => {
                if self.format == Format::Json {
                    out(&format!("{raw}\n"), Stream::Stdout)?;
                }
                // Nobody can be asked: the backend is told no, and the turn goes on.
                client.answer(&id, json!({"decision": "decline"})).await?;
                let what = match params["command"].as_str() {
                    Some(command) => format!("`{command}`"),
                    None => method,
                };
                out(
                    &format!("declined {what}: nobody to approve it in `agent-host resume`\n"),
                    Stream::Stderr,
                )?;
                Ok(None)
            }
            // The answer to `turn/interrupt`: the end comes with `turn/completed`.
            FromServer::Response { .. } => Ok(None),
        }
    }

    fn on_notification(
        &mut self,
        notification: ServerNotification,
    ) -> Result<Option<ExitCode>, ThreadCommandError> {
        match notification {
            ServerNotification::TurnCompleted(done) if done.turn.id == self.turn => {
                self.ended(&done.turn).map(Some)
            }
            _ if self.format == Format::Json => Ok(None),
            ServerNotification::AgentMessageDelta(delta) if delta.turn_id == self.turn => {
                self.streamed.insert(delta.item_id);
                out(&delta.delta, Stream::Stdout).map(|()| None)
            }
            ServerNotification::ItemStarted(started) if started.turn_id == self.turn => {
                match &started.item.kind {
                    ThreadItemKind::CommandExecution { command, .. } => {
                        out(&format!("$ {command}\n"), Stream::Stderr).map(|()| None)
                    }
                    _ => Ok(None),
                }
            }
            ServerNotification::ItemCompleted(done) if done.turn_id == self.turn => self
                .item_completed(&done.item.kind, &done.item)
                .map(|()| None),
            // A final error is the turn's, shown with its end.
            ServerNotification::Error(error) if error.turn_id == self.turn && error.will_retry => {
                out(
                    &format!("retrying: {}\n", error.error.message),
                    Stream::Stderr,
                )
                .map(|()| None)
            }
            _ => Ok(None),
        }
    }

    fn item_completed(
        &mut self,
        kind: &ThreadItemKind,
        item: &crate::protocol::ThreadItem,
    ) -> Result<(), ThreadCommandError> {
        match kind {
            ThreadItemKind::AgentMessage { id, text, .. } => {
                let shown = if self.streamed.remove(id) { "" } else { text };
                out(&format!("{shown}\n"), Stream::Stdout)
            }
            ThreadItemKind::CommandExecution { exit_code, .. } => {
                match render::command_line(item) {
                    Some(line) if *exit_code != Some(0) => {
                        out(&format!("{line}\n"), Stream::Stderr)
                    }
                    _ => Ok(()),
                }
            }
            ThreadItemKind::FileChange { .. } => match render::file_changes(item) {
                Some(lines) => out(&format!("{lines}\n"), Stream::Stderr),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The turn's end status on stderr, and the exit code it means.
    fn ended(&self, turn: &Turn) -> Result<ExitCode, ThreadCommandError> {
        let (line, code) = match (turn.status, &turn.error) {
            (TurnStatus::Completed, _) => (String::new(), ExitCode::SUCCESS),
            (TurnStatus::Failed, Some(error)) => {
                (format!(": {}", error.message), ExitCode::from(EXIT_FAILED))
            }
            (TurnStatus::Failed | TurnStatus::InProgress, _) => {
                (String::new(), ExitCode::from(EXIT_FAILED))
            }
            (TurnStatus::Interrupted, _) => (String::new(), ExitCode::from(EXIT_INTERRUPTED)),
        };
        out(
            &format!(
                "turn {} {}{line}\n",
                turn.id,
                render::turn_status(turn.status)
            ),
            Stream::Stderr,
        )?;
        Ok(code)
    }

    /// The first Ctrl-C interrupts the turn; the second leaves at once.
    async fn on_ctrl_c(
        &mut self,
        client: &mut Client,
    ) -> Result<Option<ExitCode>, ThreadCommandError> {
        if self.interrupting {
            out(
                "leaving; the turn is stopped because its client went away\n",
                Stream::Stderr,
            )?;
            return Ok(Some(ExitCode::from(EXIT_INTERRUPTED)));
        }
        self.interrupting = true;
        client
            .send(ClientRequest::TurnInterrupt(TurnInterruptParams {
                thread_id: self.thread.clone(),
                turn_id: self.turn.clone(),
            }))
            .await?;
        out(
            &format!(
                "interrupting turn {} (Ctrl-C again to leave at once)\n",
                self.turn
            ),
            Stream::Stderr,
        )?;
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Writes and flushes, so that streamed text shows as it comes.
fn out(text: &str, stream: Stream) -> Result<(), ThreadCommandError> {
    let written = match stream {
        Stream::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
        }
        Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
    };
    written.map_err(ThreadCommandError::Print)
}
