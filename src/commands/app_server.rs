//! `agent-host app-server`: serves the Codex app-server protocol on stdin/stdout
//! ([`crate::server`]).

use std::process::ExitCode;

use crate::cli::CommonOptions;
use crate::server::{self, StartError};

/// Starts the server with the command line's options and serves until stdin closes.
pub(super) fn run(
    common: CommonOptions,
    max_line_bytes: usize,
    on_complete: Option<String>,
) -> Result<ExitCode, StartError> {
    server::run(server::Options {
        state_dir: common.state_dir,
        config: common.config,
        overrides: common.overrides,
        max_line_bytes,
        on_complete,
    })
}
