//! The protocol server: one event loop owning all connection and thread state.

use std::process::ExitCode;

use crate::cli::CommonOptions;

/// Entry point of the `app-server` command.
pub fn main(_common: CommonOptions, _max_line_bytes: usize) -> ExitCode {
    ExitCode::FAILURE
}
