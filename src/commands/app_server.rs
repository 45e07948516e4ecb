//! `agent-host app-server`: serves the Codex app-server protocol on stdin/stdout
//! ([`crate::server`]).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::CommonOptions;
use crate::server::{self, StartError};

/// What a person who started the server on a terminal is told (on stderr: stdout is the
/// protocol's).
pub const TERMINAL_NOTE: &str = "agent-host app-server speaks JSON-RPC (the Codex app-server \
    protocol) on stdin and stdout, for an editor or a program; to run a turn yourself, try: \
    agent-host run --provider demo \"hello\"";

/// Starts the server with the command line's options and serves until stdin closes.
pub(super) fn run(
    common: CommonOptions,
    max_line_bytes: usize,
    on_complete: Option<String>,
) -> Result<ExitCode, StartError> {
    if std::io::stdin().is_terminal() {
        // A closed stderr is no reason not to serve.
        let _ = writeln!(std::io::stderr().lock(), "{TERMINAL_NOTE}");
    }
    server::run(server::Options {
        state_dir: common.state_dir,
        config: common.config,
        overrides: common.overrides,
        max_line_bytes,
        on_complete,
    })
}
