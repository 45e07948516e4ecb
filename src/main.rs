//! The `agent-host` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = agent_host::cli::Cli::parse();
    agent_host::cli::run(cli)
}
