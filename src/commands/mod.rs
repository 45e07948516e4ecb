//! The subcommands, one file each. A command turns its parsed options into calls of the
//! library (server, runner, store, `turn_control`) and returns its outcome to `main` as a
//! value: an exit code, or a [`CommandError`] that `main` reports on stderr. Nothing below
//! this module imports it or [`crate::cli`].

mod app_server;
mod client;
mod command_supervisor;
mod kill;
mod resume;
mod runner;
mod schema;
mod thread_command;
mod turns;
mod unarchive;

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{AppServerTool, Command};
use crate::turn_control::Listing;

pub use kill::{EXIT_ENDED, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_TIMEOUT, KillError};
pub use schema::SchemaError;
pub use thread_command::ThreadCommandError;
pub use turns::TurnsError;

/// Why a command failed; `main` prints it as `agent-host: <message>` (or
/// `agent-host kill: <message>`) and exits with [`CommandError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    AppServer(#[from] crate::server::StartError),
    #[error(transparent)]
    Kill(#[from] KillError),
    #[error(transparent)]
    Turns(#[from] TurnsError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Thread(#[from] ThreadCommandError),
    #[error("runner failed: {0}")]
    Runner(std::io::Error),
    #[error("command supervisor failed: {0}")]
    CommandSupervisor(std::io::Error),
}

impl CommandError {
    /// The name the message is reported under: `agent-host kill` for `kill`, whose messages
    /// have always named it, else `agent-host`.
    pub fn reporter(&self) -> &'static str {
        match self {
            CommandError::Kill(_) => "agent-host kill",
            CommandError::AppServer(_)
            | CommandError::Turns(_)
            | CommandError::Schema(_)
            | CommandError::Thread(_)
            | CommandError::Runner(_)
            | CommandError::CommandSupervisor(_) => "agent-host",
        }
    }

    /// The process exit code: 2 for a command that could not start, `kill`'s documented
    /// codes, 1 for a failure while working.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::AppServer(_) | CommandError::Turns(_) => ExitCode::from(2),
            CommandError::Kill(err) => err.exit_code(),
            CommandError::Thread(err) => err.exit_code(),
            CommandError::Schema(_)
            | CommandError::Runner(_)
            | CommandError::CommandSupervisor(_) => ExitCode::FAILURE,
        }
    }
}

/// Runs one parsed command.
pub fn run(command: Command) -> Result<ExitCode, CommandError> {
    match command {
        Command::AppServer {
            tool: None,
            common,
            max_line_bytes,
        } => Ok(app_server::run(common, max_line_bytes)?),
        Command::AppServer {
            tool: Some(tool), ..
        } => run_tool(tool),
        Command::Schema { out } => run_tool(AppServerTool::GenerateJsonSchema {
            out,
            experimental: false,
        }),
        Command::Resume {
            common,
            json,
            thread,
            prompt,
        } => {
            let format = if json {
                resume::Format::Json
            } else {
                resume::Format::Text
            };
            Ok(resume::run(common, &thread, prompt, format)?)
        }
        Command::Unarchive { common, thread } => Ok(unarchive::run(common, &thread)?),
        Command::Runner { turn_dir } => {
            runner::run(&turn_dir).map_err(CommandError::Runner)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CommandSupervisor { control_fd } => {
            command_supervisor::run(control_fd).map_err(CommandError::CommandSupervisor)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Turns { state_dir, all } => {
            let listing = if all { Listing::All } else { Listing::NotEnded };
            turns::run(state_dir, listing)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Kill {
            state_dir,
            timeout_ms,
            turn,
        } => Ok(kill::run(
            state_dir,
            &turn,
            Duration::from_millis(timeout_ms),
        )?),
    }
}

/// `app-server generate-json-schema` and `generate-ts`. Neither has an experimental subset:
/// `--experimental` is accepted for Codex's command line and changes nothing.
fn run_tool(tool: AppServerTool) -> Result<ExitCode, CommandError> {
    match tool {
        AppServerTool::GenerateJsonSchema { out, .. } => schema::run(&out, schema::Kind::Json)?,
        AppServerTool::GenerateTs { out, .. } => schema::run(&out, schema::Kind::TypeScript)?,
    }
    Ok(ExitCode::SUCCESS)
}
