//! `agent-host resume THREAD PROMPT`: one turn, streamed, followed by `run`'s
//! [`Followed`](crate::commands::run::follow::Followed) (Ctrl-C interrupts, a second one
//! leaves) with a view of its own: the agent's messages on stdout, the rest on stderr.
//! Approvals are declined: there is nobody to ask.

use std::collections::HashSet;
use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::Value;

use super::{Format, Resumed, render};
use crate::commands::client::{Client, ClientError};
use crate::commands::run::follow::{self, Approval, Approvals, Decision, Followed, View};
use crate::commands::run::{Background, turn_start, view::Json};
use crate::commands::thread_command::ThreadCommandError;
use crate::protocol::{
    ClientRequest, ServerNotification, ThreadItemKind, ThreadLoadedListParams, Turn,
    TurnStartResponse, TurnStatus,
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
    let interrupts = follow::ctrl_c()?;
    // A round trip after the resume: whatever it sent (its status, the replayed token
    // usage) has arrived before the answer, and is not part of the turn shown.
    client
        .call(ClientRequest::ThreadLoadedList(
            ThreadLoadedListParams::default(),
        ))
        .await?;
    client.clear_pending();
    let started = client
        .call(turn_start(thread, prompt, None, Background::No))
        .await?;
    let turn = serde_json::from_value::<TurnStartResponse>(started)
        .map_err(|err| ClientError::Broken(format!("answered turn/start with: {err}")))?
        .turn;
    match format {
        Format::Json => {
            let view = Json { out: io::stdout() };
            follow(client, thread, turn.id, view, interrupts).await
        }
        Format::Text => {
            let view = Plain {
                turn: turn.id.clone(),
                streamed: HashSet::new(),
            };
            follow(client, thread, turn.id, view, interrupts).await
        }
    }
}

async fn follow<V: View>(
    client: &mut Client,
    thread: &str,
    turn: String,
    view: V,
    interrupts: tokio::signal::unix::Signal,
) -> Result<ExitCode, ThreadCommandError> {
    Followed {
        client,
        thread: thread.to_owned(),
        turn,
        view,
        approvals: Approvals::Decline,
    }
    .run(interrupts)
    .await
}

/// `resume`'s text: the agent's messages on stdout (one line break after each), commands,
/// file changes, errors and the end on stderr.
struct Plain {
    turn: String,
    /// The agent messages whose text came as deltas (their completion adds only a line
    /// break).
    streamed: HashSet<String>,
}

impl Plain {
    fn item_completed(&mut self, item: &crate::protocol::ThreadItem) -> io::Result<()> {
        match &item.kind {
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
}

impl View for Plain {
    fn raw(&mut self, _raw: &Value) -> io::Result<()> {
        Ok(())
    }

    fn notification(&mut self, notification: ServerNotification) -> io::Result<()> {
        match notification {
            ServerNotification::AgentMessageDelta(delta) if delta.turn_id == self.turn => {
                self.streamed.insert(delta.item_id);
                out(&delta.delta, Stream::Stdout)
            }
            ServerNotification::ItemStarted(started) if started.turn_id == self.turn => {
                match &started.item.kind {
                    ThreadItemKind::CommandExecution { command, .. } => {
                        out(&format!("$ {command}\n"), Stream::Stderr)
                    }
                    _ => Ok(()),
                }
            }
            ServerNotification::ItemCompleted(done) if done.turn_id == self.turn => {
                self.item_completed(&done.item)
            }
            // A final error is the turn's, shown with its end.
            ServerNotification::Error(error) if error.turn_id == self.turn && error.will_retry => {
                out(
                    &format!("retrying: {}\n", error.error.message),
                    Stream::Stderr,
                )
            }
            _ => Ok(()),
        }
    }

    fn asking(&mut self, _approval: &Approval) -> io::Result<()> {
        Ok(())
    }

    fn answered(&mut self, approval: &Approval, _decision: Decision) -> io::Result<()> {
        let what = match &approval.command {
            Some(command) => format!("`{command}`"),
            None => approval.method.clone(),
        };
        out(
            &format!("declined {what}: nobody to approve it in `agent-host resume`\n"),
            Stream::Stderr,
        )
    }

    fn tick(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn interrupting(&mut self, turn: &str) -> io::Result<()> {
        out(
            &format!("interrupting turn {turn} (Ctrl-C again to leave at once)\n"),
            Stream::Stderr,
        )
    }

    fn leaving(&mut self) -> io::Result<()> {
        out(
            "leaving; the turn is stopped because its client went away\n",
            Stream::Stderr,
        )
    }

    /// The turn's end status on stderr.
    fn ended(&mut self, turn: &Turn) -> io::Result<()> {
        let line = match (turn.status, &turn.error) {
            (TurnStatus::Failed, Some(error)) => format!(": {}", error.message),
            _ => String::new(),
        };
        out(
            &format!(
                "turn {} {}{line}\n",
                turn.id,
                render::turn_status(turn.status)
            ),
            Stream::Stderr,
        )
    }
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Writes and flushes, so that streamed text shows as it comes.
fn out(text: &str, stream: Stream) -> io::Result<()> {
    match stream {
        Stream::Stdout => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
        }
        Stream::Stderr => io::stderr().lock().write_all(text.as_bytes()),
    }
}
