//! Following one turn of an in-process server to its end, for `run` and `resume`: the
//! server's messages go to a [`View`] (which decides how they look), approvals are decided
//! by the command's [`Approvals`], and Ctrl-C asks the server to interrupt the turn
//! (`turn/interrupt`: the runner stops the backend and every process of the turn) and waits
//! for its `turn/completed`, which comes only once they are gone; a second Ctrl-C stops
//! waiting, and the in-process server going away then stops the foreground turn through
//! its lifeline.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::oneshot;

use crate::commands::client::{Client, ClientError, FromServer};
use crate::commands::thread_command::ThreadCommandError;
use crate::jsonrpc::RequestId;
use crate::protocol::{ClientRequest, ServerNotification, Turn, TurnInterruptParams, TurnStatus};

/// Exit code of a failed turn.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of an interrupted turn (as a shell reports an interrupted command).
pub const EXIT_INTERRUPTED: u8 = 130;

/// How often a view may redraw its status line.
const TICK: Duration = Duration::from_millis(100);

/// How the turn is shown. Every method writes; an error is a broken output.
pub trait View {
    /// Every message from the server, as it came (for the JSON view; others ignore it).
    fn raw(&mut self, raw: &Value) -> io::Result<()>;
    /// A notification of the thread (the view picks those of its turn).
    fn notification(&mut self, notification: ServerNotification) -> io::Result<()>;
    /// An approval about to be asked on the terminal: the question.
    fn asking(&mut self, approval: &Approval) -> io::Result<()>;
    /// An approval answered (asked, or decided by the command's options).
    fn answered(&mut self, approval: &Approval, decision: Decision) -> io::Result<()>;
    /// Time passes (every [`TICK`]): a status line may be redrawn.
    fn tick(&mut self) -> io::Result<()>;
    /// The first Ctrl-C: the turn is being interrupted.
    fn interrupting(&mut self, turn: &str) -> io::Result<()>;
    /// The second Ctrl-C: the command leaves without waiting.
    fn leaving(&mut self) -> io::Result<()>;
    /// The turn's end.
    fn ended(&mut self, turn: &Turn) -> io::Result<()>;
}

/// Who answers the approvals the backend asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approvals {
    /// The person at the terminal (stdin is one).
    Ask,
    /// Every one accepted (`--yes`).
    Accept,
    /// Every one declined (`--no`, or nobody to ask).
    Decline,
}

/// An answer to an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Decline,
}

impl Decision {
    fn result(self) -> Value {
        match self {
            Decision::Accept => json!({"decision": "accept"}),
            Decision::Decline => json!({"decision": "decline"}),
        }
    }
}

/// An approval the server asks the client for.
#[derive(Debug, Clone)]
pub struct Approval {
    pub id: RequestId,
    pub method: String,
    /// The command to run, for a command approval.
    pub command: Option<String>,
    pub reason: Option<String>,
}

impl Approval {
    /// What is to be approved, in a few words.
    pub fn what(&self) -> String {
        match &self.command {
            Some(command) => format!("run `{command}`"),
            None if self.method.contains("fileChange") => "apply the file changes".to_owned(),
            None => self.method.clone(),
        }
    }
}

/// The turn being followed.
pub struct Followed<'a, V: View> {
    pub client: &'a mut Client,
    pub thread: String,
    pub turn: String,
    pub view: V,
    pub approvals: Approvals,
}

/// Where following stands after one event.
enum Step {
    Going,
    Ended(ExitCode),
}

impl<V: View> Followed<'_, V> {
    /// Follows the turn to its end (or the second Ctrl-C); the exit code it means.
    /// `interrupts` is Ctrl-C as [`ctrl_c`] took it before the turn started, so that one
    /// pressed while it started is not lost: it interrupts the turn once it is followed.
    pub async fn run(mut self, mut interrupts: Signal) -> Result<ExitCode, ThreadCommandError> {
        let mut interrupting = false;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let step = tokio::select! {
                message = self.client.next() => {
                    let Some(message) = message? else {
                        return Err(ClientError::Broken("ended before the turn did".into()).into());
                    };
                    self.on_message(message, &mut interrupts, &mut interrupting).await?
                }
                _ = interrupts.recv() => self.on_ctrl_c(&mut interrupting).await?,
                _ = ticks.tick() => {
                    self.view.tick().map_err(ThreadCommandError::Print)?;
                    Step::Going
                }
            };
            if let Step::Ended(code) = step {
                return Ok(code);
            }
        }
    }

    async fn on_message(
        &mut self,
        message: FromServer,
        interrupts: &mut Signal,
        interrupting: &mut bool,
    ) -> Result<Step, ThreadCommandError> {
        match message {
            FromServer::Notification {
                method,
                params,
                raw,
            } => {
                self.view.raw(&raw).map_err(ThreadCommandError::Print)?;
                let notification = serde_json::from_value::<ServerNotification>(
                    json!({"method": method, "params": params}),
                );
                match notification {
                    Ok(ServerNotification::TurnCompleted(done)) if done.turn.id == self.turn => {
                        self.view
                            .ended(&done.turn)
                            .map_err(ThreadCommandError::Print)?;
                        Ok(Step::Ended(exit_code(&done.turn)))
                    }
                    Ok(notification) => {
                        self.view
                            .notification(notification)
                            .map_err(ThreadCommandError::Print)?;
                        Ok(Step::Going)
                    }
                    // A notification this build cannot read is nothing to show.
                    Err(_) => Ok(Step::Going),
                }
            }
            FromServer::Request {
                id,
                method,
                params,
                raw,
            } => {
                self.view.raw(&raw).map_err(ThreadCommandError::Print)?;
                let approval = Approval {
                    id,
                    method,
                    command: params["command"].as_str().map(str::to_owned),
                    reason: params["reason"].as_str().map(str::to_owned),
                };
                self.on_approval(approval, interrupts, interrupting).await
            }
            // The answer to `turn/interrupt`: the end comes with `turn/completed`.
            FromServer::Response { .. } => Ok(Step::Going),
        }
    }

    /// Decides an approval (asking at the terminal, where that is the rule) and answers it.
    /// A Ctrl-C while asking declines it and interrupts the turn.
    async fn on_approval(
        &mut self,
        approval: Approval,
        interrupts: &mut Signal,
        interrupting: &mut bool,
    ) -> Result<Step, ThreadCommandError> {
        let (decision, ctrl_c) = match self.approvals {
            Approvals::Accept => (Decision::Accept, false),
            Approvals::Decline => (Decision::Decline, false),
            Approvals::Ask => {
                self.view
                    .asking(&approval)
                    .map_err(ThreadCommandError::Print)?;
                tokio::select! {
                    answer = ask_terminal() => (answer, false),
                    _ = interrupts.recv() => (Decision::Decline, true),
                }
            }
        };
        self.client.answer(&approval.id, decision.result()).await?;
        self.view
            .answered(&approval, decision)
            .map_err(ThreadCommandError::Print)?;
        if ctrl_c {
            return self.on_ctrl_c(interrupting).await;
        }
        Ok(Step::Going)
    }

    /// The first Ctrl-C interrupts the turn; the second leaves at once.
    async fn on_ctrl_c(&mut self, interrupting: &mut bool) -> Result<Step, ThreadCommandError> {
        if *interrupting {
            self.view.leaving().map_err(ThreadCommandError::Print)?;
            return Ok(Step::Ended(ExitCode::from(EXIT_INTERRUPTED)));
        }
        *interrupting = true;
        self.client
            .send(ClientRequest::TurnInterrupt(TurnInterruptParams {
                thread_id: self.thread.clone(),
                turn_id: self.turn.clone(),
            }))
            .await?;
        self.view
            .interrupting(&self.turn)
            .map_err(ThreadCommandError::Print)?;
        Ok(Step::Going)
    }
}

/// Ctrl-C from here on is the command's: it interrupts the turn instead of ending the process.
pub fn ctrl_c() -> Result<Signal, ThreadCommandError> {
    signal(SignalKind::interrupt())
        .map_err(|err| ClientError::Broken(format!("cannot take Ctrl-C: {err}")).into())
}

/// The exit code a turn's end means.
pub fn exit_code(turn: &Turn) -> ExitCode {
    match turn.status {
        TurnStatus::Completed => ExitCode::SUCCESS,
        TurnStatus::Failed | TurnStatus::InProgress => ExitCode::from(EXIT_FAILED),
        TurnStatus::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
    }
}

/// One answer typed at the terminal: `y` or `yes` accepts, anything else (an empty line, end
/// of input) declines. The line is read on a thread of its own, which a Ctrl-C leaves
/// behind (it ends with the process).
async fn ask_terminal() -> Decision {
    let (sender, answer) = oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = io::stdin().read_line(&mut line);
        let _ = sender.send(read.map(|_| line));
    });
    match answer.await {
        Ok(Ok(line)) if matches!(line.trim().to_lowercase().as_str(), "y" | "yes") => {
            Decision::Accept
        }
        Ok(_) | Err(_) => Decision::Decline,
    }
}
