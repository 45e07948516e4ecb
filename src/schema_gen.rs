//! `agent-host schema --out DIR`: writes the JSON Schema generated from our protocol types.

use std::path::Path;
use std::process::ExitCode;

/// Entry point of the `schema` command.
pub fn main(_out: &Path) -> ExitCode {
    ExitCode::FAILURE
}
