//! The subcommands, one file each. A command turns its parsed options into calls of the
//! library (server, runner, store, `turn_control`) and returns its outcome to `main` as a
//! value: an exit code, or a [`CommandError`] that `main` reports on stderr. Nothing below
//! this module imports it or [`crate::cli`].

mod app_server;
mod client;
mod command_supervisor;
mod completions;
mod demo_agent;
mod doctor;
mod gc;
mod kill;
mod logs;
mod notify;
mod print;
mod ps;
mod resume;
mod rm;
mod run;
mod runner;
mod schema;
mod select;
mod thread_command;
mod threads;
mod turns;
mod unarchive;

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{AppServerTool, Command};
use crate::turn_control::Listing;

pub use kill::{EXIT_ENDED, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_TIMEOUT, KillError};
pub use logs::{EXIT_FAILED, EXIT_INTERRUPTED};
pub use schema::SchemaError;
pub use select::OpsError;
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
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error("runner failed: {0}")]
    Runner(std::io::Error),
    #[error("command supervisor failed: {0}")]
    CommandSupervisor(std::io::Error),
    #[error("notifier failed: {0}")]
    Notifier(std::io::Error),
    #[error("cannot write the output: {0}")]
    Print(std::io::Error),
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
            | CommandError::Ops(_)
            | CommandError::Runner(_)
            | CommandError::CommandSupervisor(_)
            | CommandError::Notifier(_)
            | CommandError::Print(_) => "agent-host",
        }
    }

    /// The process exit code: 2 for a command that could not start, `kill`'s documented
    /// codes, 1 for a failure while working.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::AppServer(_) | CommandError::Turns(_) => ExitCode::from(2),
            CommandError::Kill(err) => err.exit_code(),
            CommandError::Thread(err) => err.exit_code(),
            CommandError::Ops(err) => err.exit_code(),
            CommandError::Schema(_)
            | CommandError::Runner(_)
            | CommandError::CommandSupervisor(_)
            | CommandError::Notifier(_)
            | CommandError::Print(_) => ExitCode::FAILURE,
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
            on_complete,
        } => Ok(app_server::run(common, max_line_bytes, on_complete)?),
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
        } => Ok(resume::run(common, &thread, prompt, resume_format(json))?),
        Command::Run(args) => Ok(run::run(args)?),
        Command::Completions { shell } => internal(completions::shell(shell), CommandError::Print),
        Command::Man => internal(completions::man(), CommandError::Print),
        Command::DemoAgent { prompt } => internal(demo_agent::run(&prompt), CommandError::Print),
        Command::Unarchive { common, thread } => Ok(unarchive::run(common, &thread)?),
        Command::Runner(args) => internal(runner::run(args), CommandError::Runner),
        Command::CommandSupervisor { control_fd } => internal(
            command_supervisor::run(control_fd),
            CommandError::CommandSupervisor,
        ),
        Command::Notify { turn_dir } => internal(notify::run(&turn_dir), CommandError::Notifier),
        Command::Ps { state, all } => Ok(ps::run(state, listing(all))?),
        Command::Logs {
            state,
            follow,
            target,
        } => {
            let follow = if follow {
                logs::Follow::Yes
            } else {
                logs::Follow::No
            };
            Ok(logs::run(state, follow, &target)?)
        }
        Command::Threads { state } => Ok(threads::run(state)?),
        Command::Rm(options) => Ok(rm::run(options)?),
        Command::Doctor(options) => Ok(doctor::run(options)?),
        Command::Gc {
            state,
            older_than,
            dry_run,
        } => Ok(gc::run(state, older_than, gc_deleting(dry_run))?),
        Command::Turns { state_dir, all } => {
            turns::run(state_dir, listing(all))?;
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

/// `--json` of `resume`.
fn resume_format(json: bool) -> resume::Format {
    if json {
        resume::Format::Json
    } else {
        resume::Format::Text
    }
}

/// `--dry-run` of `gc`.
fn gc_deleting(dry_run: bool) -> gc::Deleting {
    if dry_run {
        gc::Deleting::DryRun
    } else {
        gc::Deleting::Yes
    }
}

/// `--all` of `ps` and `turns`.
fn listing(all: bool) -> Listing {
    if all { Listing::All } else { Listing::NotEnded }
}

/// The end of a hidden command that the server or a runner started: it prints nothing, and
/// its error is `main`'s to print.
fn internal(
    result: std::io::Result<()>,
    error: fn(std::io::Error) -> CommandError,
) -> Result<ExitCode, CommandError> {
    result.map_err(error)?;
    Ok(ExitCode::SUCCESS)
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
