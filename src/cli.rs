//! The command line: one binary, several roles. Parsing only (clap derive types); the
//! commands themselves are in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A Codex app-server compatible JSON-RPC server whose turns run on any agent CLI.
#[derive(Debug, Parser)]
#[command(name = "agent-host", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command that touches the state directory or the configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonOptions {
    /// The state directory (threads, turns, index). Default: $XDG_STATE_HOME/agent-host,
    /// else ~/.local/state/agent-host.
    #[arg(long, env = "AGENT_HOST_HOME", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The configuration file (TOML). Default: $XDG_CONFIG_HOME/agent-host/config.toml,
    /// else ~/.config/agent-host/config.toml; a missing default file means defaults.
    #[arg(long, env = "AGENT_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one configuration value, as `key=value` with a TOML value
    /// (e.g. `-c default_provider="claude"`). May be repeated.
    #[arg(short = 'c', long = "config-override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Codex app-server protocol on stdin/stdout (newline-delimited JSON-RPC).
    AppServer {
        #[command(flatten)]
        common: CommonOptions,
        /// The longest request line accepted, in bytes; a longer line gets a JSON-RPC error.
        #[arg(long, default_value_t = 256 * 1024 * 1024, value_name = "BYTES")]
        max_line_bytes: usize,
    },
    /// Write the JSON Schema of our protocol types into DIR.
    Schema {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run one turn's supervisor (internal: started by the server, detached).
    #[command(hide = true)]
    Runner {
        /// The turn directory holding `spec.json`.
        #[arg(long, value_name = "DIR")]
        turn_dir: PathBuf,
    },
    /// Run one `command/exec` command under its supervisor (internal: started by the server
    /// for each command; the spec comes over the control socket).
    #[command(hide = true)]
    CommandSupervisor {
        /// The descriptor of the control socket inherited from the server.
        #[arg(long, value_name = "FD")]
        control_fd: i32,
    },
    /// Stop a turn: ask its runner to interrupt it (reason `kill`), or, when the runner is
    /// gone, kill the turn's recorded processes (each identity-verified) and write its exit
    /// record. Waits for the exit record and prints it as one JSON line.
    ///
    /// Exit codes: 0 the turn has ended; 1 it did not end within the timeout; 2 no such
    /// turn; 3 another error.
    Kill {
        /// The state directory to search for a turn id.
        #[arg(long, env = "AGENT_HOST_HOME", value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// How long to wait for the exit record, in milliseconds.
        #[arg(long, default_value_t = 15_000, value_name = "MS")]
        timeout_ms: u64,
        /// A turn id (found under <state>/threads/*/turns/) or a turn directory.
        #[arg(value_name = "TURN")]
        turn: String,
    },
    /// List the turns that have not ended, from the state directory, one JSON object per
    /// line (oldest first): `state` is `running` (its runner is alive, identity-checked),
    /// `starting` (no process record yet) or `runnerLost` (the runner is gone; `agent-host
    /// kill`, `thread/resume` or the next server start ends it). Works without a server.
    Turns {
        /// The state directory.
        #[arg(long, env = "AGENT_HOST_HOME", value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Also list ended turns, with their status (`completed`, `interrupted`, `failed`)
        /// and reason.
        #[arg(long)]
        all: bool,
    },
}
