//! The `agent-host` binary: parses the command line, runs the command, and reports a failed
//! command on stderr.

use std::io::Write;
use std::process::ExitCode;

use agent_host::cli::Cli;
use agent_host::commands;
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            // A closed stderr leaves nothing better to do than exit with the code.
            let _ = writeln!(std::io::stderr().lock(), "{}: {err}", err.reporter());
            err.exit_code()
        }
    }
}
