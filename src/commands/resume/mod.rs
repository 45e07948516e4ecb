//! `agent-host resume THREAD [PROMPT]`: continue a thread from the terminal, as `codex
//! resume` does, through an in-process server spoken to with the protocol
//! ([`super::client`]): `thread/resume` loads the thread (re-attaching a running turn,
//! ending one whose runner died), `turn/start` runs the new turn with the server's own
//! launch, locks and lifeline, and the notifications are what gets printed. Nothing of a
//! turn's life is done here that a client could not do.
//!
//! Without a prompt the thread's summary and history are printed ([`render`]); with one, a
//! turn runs and streams ([`turn`]).

mod render;
mod turn;

use std::io::Write;
use std::process::ExitCode;

use serde_json::Value;

use super::client::{Client, ClientError};
use super::thread_command::{self, ThreadCommandError};
use crate::cli::CommonOptions;
use crate::protocol::{ClientRequest, Thread, ThreadReadParams, ThreadResumeParams};

/// How the command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// For people: text, messages on stdout, the rest on stderr.
    Text,
    /// For programs: JSON lines on stdout.
    Json,
}

/// Shows the thread, or runs one turn on it with `prompt`.
pub(super) fn run(
    common: CommonOptions,
    thread: &str,
    prompt: Option<String>,
    format: Format,
) -> Result<ExitCode, ThreadCommandError> {
    let opened = thread_command::open(common)?;
    thread_command::block_on(async move {
        let mut client = Client::start(opened).await?;
        let outcome = match prompt {
            Some(prompt) => turn::run(&mut client, thread, prompt, format).await,
            None => show(&mut client, thread, format).await,
        };
        client.close().await;
        outcome
    })?
}

/// A thread as `thread/resume` gave it, or, for an archived thread (which cannot be
/// resumed), as `thread/read` reads it.
pub(super) enum Resumed {
    Live(Thread),
    Archived(Thread),
}

/// Resumes the thread with its turns. A thread that cannot be resumed but can be read is
/// archived: the only stored thread `thread/resume` refuses.
pub(super) async fn resume(
    client: &mut Client,
    thread: &str,
) -> Result<Resumed, ThreadCommandError> {
    let request = ClientRequest::ThreadResume(ThreadResumeParams {
        thread_id: thread.to_owned(),
        model: None,
        model_provider: None,
        service_tier: None,
        cwd: None,
        approval_policy: None,
        approvals_reviewer: None,
        sandbox: None,
        config: None,
        base_instructions: None,
        developer_instructions: None,
        personality: None,
        exclude_turns: None,
        continue_session: None,
    });
    let refused = match client.call(request).await {
        Ok(result) => return Ok(Resumed::Live(thread_of(result)?)),
        Err(ClientError::Rejected(error)) => error,
        Err(err) => return Err(err.into()),
    };
    let read = ClientRequest::ThreadRead(ThreadReadParams {
        thread_id: thread.to_owned(),
        include_turns: Some(true),
    });
    match client.call(read).await {
        Ok(result) => Ok(Resumed::Archived(thread_of(result)?)),
        Err(ClientError::Rejected(_)) => Err(ClientError::Rejected(refused).into()),
        Err(err) => Err(err.into()),
    }
}

/// The `thread` member of a `thread/resume` or `thread/read` result.
fn thread_of(mut result: Value) -> Result<Thread, ThreadCommandError> {
    serde_json::from_value(result["thread"].take()).map_err(|err| {
        ClientError::Broken(format!("answered with a thread that cannot be read: {err}")).into()
    })
}

/// Without a prompt: the summary and the history, or the thread as JSON.
async fn show(
    client: &mut Client,
    thread: &str,
    format: Format,
) -> Result<ExitCode, ThreadCommandError> {
    let resumed = resume(client, thread).await?;
    let text = match (&resumed, format) {
        (Resumed::Live(thread) | Resumed::Archived(thread), Format::Json) => {
            let mut line = serde_json::to_string(thread)
                .map_err(|err| ThreadCommandError::Print(std::io::Error::other(err.to_string())))?;
            line.push('\n');
            line
        }
        (Resumed::Live(thread), Format::Text) => render::thread(thread, render::Archive::No),
        (Resumed::Archived(thread), Format::Text) => render::thread(thread, render::Archive::Yes),
    };
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(ThreadCommandError::Print)?;
    Ok(ExitCode::SUCCESS)
}
