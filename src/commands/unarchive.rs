//! `agent-host unarchive THREAD`: brings an archived thread back, as `codex unarchive` does,
//! through the server's own `thread/unarchive` (an in-process server, [`super::client`]).

use std::io::Write;
use std::process::ExitCode;

use super::client::Client;
use super::thread_command::{self, ThreadCommandError};
use crate::cli::CommonOptions;
use crate::protocol::{ClientRequest, ThreadUnarchiveParams};

/// Unarchives the thread and prints `unarchived thread <id>`.
pub(super) fn run(common: CommonOptions, thread: &str) -> Result<ExitCode, ThreadCommandError> {
    let opened = thread_command::open(common)?;
    thread_command::block_on(async {
        let mut client = Client::start(opened).await?;
        let request = ClientRequest::ThreadUnarchive(ThreadUnarchiveParams {
            thread_id: thread.to_owned(),
        });
        let answer = client.call(request).await;
        client.close().await;
        answer?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "unarchived thread {thread}").map_err(ThreadCommandError::Print)?;
        Ok(ExitCode::SUCCESS)
    })?
}
