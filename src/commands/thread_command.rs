//! What the commands that drive an in-process server (`resume`, `unarchive`) share: opening
//! the server from the common options, the runtime, and their errors and exit codes.

use std::future::Future;
use std::process::ExitCode;

use super::client::ClientError;
use crate::cli::CommonOptions;
use crate::jsonrpc::code;
use crate::server::{self, Opened, StartError};

/// Exit code: the server refused the request (no such thread, a bad id, an archived thread).
pub const EXIT_REFUSED: u8 = 2;

/// Why a thread command failed.
#[derive(Debug, thiserror::Error)]
pub enum ThreadCommandError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A request the command refuses before asking the server, or with a hint of its own.
    #[error("{0}")]
    Refused(String),
    #[error("cannot write the output: {0}")]
    Print(std::io::Error),
}

impl ThreadCommandError {
    /// 2 for what could not start and for a refused request (the server's own errors
    /// included, except its internal ones), 1 for a failure while working.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ThreadCommandError::Start(_) | ThreadCommandError::Refused(_) => {
                ExitCode::from(EXIT_REFUSED)
            }
            ThreadCommandError::Client(ClientError::Rejected(error))
                if error.code != code::INTERNAL_ERROR =>
            {
                ExitCode::from(EXIT_REFUSED)
            }
            ThreadCommandError::Client(_) | ThreadCommandError::Print(_) => ExitCode::FAILURE,
        }
    }
}

/// Opens the server the command drives: the state directory and configuration of the
/// common options, as `app-server` would.
pub fn open(common: CommonOptions) -> Result<Opened, ThreadCommandError> {
    crate::logging::init();
    let options = server::Options {
        state_dir: common.state_dir,
        config: common.config,
        overrides: common.overrides,
        max_line_bytes: server::DEFAULT_MAX_LINE_BYTES,
        on_complete: None,
    };
    Ok(Opened::open(&options)?)
}

/// Runs the command's side of the conversation (the server has a runtime of its own).
pub fn block_on<T>(work: impl Future<Output = T>) -> Result<T, ThreadCommandError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    Ok(runtime.block_on(work))
}
