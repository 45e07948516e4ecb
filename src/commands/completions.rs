//! `agent-host completions SHELL` and `agent-host man`: the shell completions and the man
//! page, both generated from the command-line definition ([`crate::cli::Cli`]), so they
//! never drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script for `shell` on stdout.
pub(super) fn shell(shell: clap_complete::Shell) -> std::io::Result<()> {
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "agent-host", &mut stdout);
    stdout.flush()
}

/// Prints the man page (roff) on stdout.
pub(super) fn man() -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command()).render(&mut stdout)?;
    stdout.flush()
}
