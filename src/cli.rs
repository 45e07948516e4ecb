//! The command line: one binary, several roles. Parsing only (clap derive types); the
//! commands themselves are in [`crate::commands`].

use std::path::PathBuf;
use std::time::Duration;

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

/// Options of the commands that read the state directory for a person or a script.
#[derive(Debug, Clone, clap::Args)]
pub struct StateOptions {
    /// The state directory. Default: $XDG_STATE_HOME/agent-host, else
    /// ~/.local/state/agent-host.
    #[arg(long, env = "AGENT_HOST_HOME", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Codex app-server protocol on stdin/stdout (newline-delimited JSON-RPC), or,
    /// with a subcommand, generate its schema or TypeScript types.
    AppServer {
        /// Omit to serve; a subcommand for the protocol's tooling.
        #[command(subcommand)]
        tool: Option<AppServerTool>,
        #[command(flatten)]
        common: CommonOptions,
        /// The longest request line accepted, in bytes; a longer line gets a JSON-RPC error.
        #[arg(long, default_value_t = crate::server::DEFAULT_MAX_LINE_BYTES, value_name = "BYTES")]
        max_line_bytes: usize,
        /// Run PROGRAM once for every finished background turn (the configuration's
        /// `notify`, which it replaces): its last argument is a JSON object describing the
        /// turn, as Codex's `notify` gets.
        #[arg(long, value_name = "PROGRAM", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        on_complete: Option<String>,
    },
    /// Run one turn from the terminal and show it as it happens.
    ///
    /// The turn goes through the same server code as `app-server` (an in-process client of
    /// it): a new thread on the provider (or, with `--continue`, the thread named), one turn
    /// with PROMPT (read from stdin when absent or `-`). On a terminal a status line shows
    /// the elapsed time while the backend works; the agent's text streams, its reasoning
    /// dimmed; commands show with their output folded to a few lines, file changes as
    /// coloured diffs; a summary line ends it: status, duration, tokens, and the thread id to
    /// continue with. Colour and the status line only when stdout is a terminal and NO_COLOR
    /// is not set.
    ///
    /// Approvals the backend asks for are asked on the terminal (y/N); with `--yes` every one
    /// is accepted, with `--no` every one declined; without either and without a terminal to
    /// ask on, declined. Ctrl-C interrupts the turn (its processes are stopped, as
    /// `turn/interrupt` stops them) and waits for its end; a second Ctrl-C stops waiting.
    ///
    /// Try it with the built-in demo backend: `agent-host run --provider demo "hello"`.
    ///
    /// Exit codes: 0 the turn completed (or, with `--background`, started); 1 it failed; 2 a
    /// usage or configuration error (an unknown provider, a bad thread id, an empty prompt);
    /// 130 it was interrupted.
    Run(RunArgs),
    /// Continue a thread from the terminal.
    ///
    /// With a PROMPT: resumes the thread and runs one turn on it with the prompt, on the
    /// thread's provider, exactly as a client's `thread/resume` and `turn/start` would. The
    /// agent's messages are printed on stdout as they stream (one line break after each);
    /// commands it runs, files it changes, errors and the turn's end status go to stderr.
    /// Ctrl-C interrupts the turn (its processes are stopped, as `turn/interrupt` stops them);
    /// a second Ctrl-C exits at once, and the turn is then stopped because its client went
    /// away. An approval the backend asks for is declined (there is nobody to ask).
    ///
    /// Without a PROMPT: prints the thread's summary (name, provider, model, working
    /// directory, times, status) and its whole history, turn by turn: the user's input, the
    /// agent's messages, the commands and file changes, each turn's status and error. An
    /// archived thread is shown too, marked as such.
    ///
    /// Exit codes: 0 the turn completed (or the thread was shown); 1 the turn failed, or
    /// something went wrong while working; 2 no such thread, a bad id, an archived thread
    /// given a prompt (run `agent-host unarchive` first), a turn already running, or a bad
    /// configuration; 130 the turn was interrupted.
    Resume {
        #[command(flatten)]
        common: CommonOptions,
        /// Print JSON instead of text: with a PROMPT, every message the server sends during
        /// the turn, one per line (as a client would see them); without, the thread with its
        /// turns as one JSON object (`thread/resume`'s `thread`).
        #[arg(long)]
        json: bool,
        /// The thread id.
        #[arg(value_name = "THREAD")]
        thread: String,
        /// The user input of a new turn.
        #[arg(value_name = "PROMPT")]
        prompt: Option<String>,
    },
    /// Unarchive an archived thread (`thread/unarchive`), so that it is listed and can be
    /// resumed again. Prints `unarchived thread <id>`.
    ///
    /// Exit codes: 0 done; 2 no such archived thread, a bad id, or a bad configuration;
    /// 1 another error.
    Unarchive {
        #[command(flatten)]
        common: CommonOptions,
        /// The thread id.
        #[arg(value_name = "THREAD")]
        thread: String,
    },
    /// Write the JSON Schema of our protocol types into DIR (the same as
    /// `app-server generate-json-schema`).
    #[command(hide = true)]
    Schema {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print a shell completion script for agent-host on stdout (e.g.
    /// `agent-host completions bash > ~/.local/share/bash-completion/completions/agent-host`).
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print agent-host's man page (roff) on stdout (e.g. `agent-host man | man -l -`).
    Man,
    /// The built-in `demo` provider's backend (internal: a scripted turn in the `jsonl`
    /// event format, run by a turn's runner).
    #[command(hide = true)]
    DemoAgent {
        /// The user's prompt.
        #[arg(value_name = "PROMPT", default_value = "")]
        prompt: String,
    },
    /// Run one turn's supervisor (internal: started by the server, detached).
    #[command(hide = true)]
    Runner(RunnerArgs),
    /// Run one `command/exec` command under its supervisor (internal: started by the server
    /// for each command; the spec comes over the control socket).
    #[command(hide = true)]
    CommandSupervisor {
        /// The descriptor of the control socket inherited from the server.
        #[arg(long, value_name = "FD")]
        control_fd: i32,
    },
    /// Run a finished turn's completion notice (internal: started by the runner, or for a
    /// turn whose runner died, detached).
    #[command(hide = true)]
    Notify {
        /// The turn directory holding `notify.json`.
        #[arg(long, value_name = "DIR")]
        turn_dir: PathBuf,
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
        /// A turn id (found under <state>/threads/*/turns/) or a turn directory (one holding
        /// its spec.json or process.json).
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
    /// A table of the turns that have not ended (with `--all`, every turn), newest first:
    /// thread, turn, provider, mode, status, age, and the runner and backend pids, each
    /// `live` or `gone`. `running` always means a live runner; a turn whose runner is gone is
    /// `runnerLost`.
    Ps {
        #[command(flatten)]
        state: StateOptions,
        /// Also list the turns that have ended.
        #[arg(long)]
        all: bool,
    },
    /// What a turn did, readable: its input, the agent's text, commands with their output,
    /// file changes, and how it ended. A thread stands for its latest turn. `--json` prints
    /// the canonical event records.
    ///
    /// Exit codes: 0 printed (with `-f`: the turn completed); 1 an error while reading; 2 no
    /// such thread or turn, or no state directory; with `-f`, 3 the turn failed and 4 it was
    /// interrupted.
    Logs {
        #[command(flatten)]
        state: StateOptions,
        /// Follow a running turn to its end, printing as it goes.
        #[arg(short = 'f', long)]
        follow: bool,
        /// A thread or turn id, or the start of exactly one.
        #[arg(value_name = "THREAD|TURN")]
        target: String,
    },
    /// The stored threads, newest first, with their last turn's status.
    Threads {
        #[command(flatten)]
        state: StateOptions,
    },
    /// Delete stored threads: stop what still runs of each (as `kill` does), wait for its
    /// turns' completion notices to end, then delete its record, index row and directory,
    /// as `thread/delete` does. A thread that a running server has loaded is refused
    /// (that server may write it at any moment), unless `--force`. Prints one line per
    /// deleted thread.
    ///
    /// Exit codes: 0 every thread was deleted; 1 a thread was refused (loaded by a running
    /// server, a turn that did not stop or a notice that did not end within the timeout) or
    /// an error while working; 2 no such thread, an ambiguous prefix, a turn id, or no state
    /// directory (then nothing is deleted).
    Rm(RmOptions),
    /// Check that each configured provider (the built-in ones and the configuration's) can
    /// run a turn here: its kind, the program found (path and version), the command line of
    /// a new turn, and what is missing.
    ///
    /// Exit codes: 0 the default provider can run a turn; 1 it cannot; 2 a bad
    /// configuration.
    Doctor(DoctorOptions),
    /// Delete what ended turns no longer need: the backends' raw output and the turns'
    /// scratch files, of turns that ended longer ago than `--older-than`. Never a running
    /// turn, never the records `thread/read` and `logs` read. Prints what it freed.
    Gc {
        #[command(flatten)]
        state: StateOptions,
        /// How long ago a turn must have ended: a number and a unit, `s`, `m`, `h` or `d`
        /// (`90s`, `30m`, `12h`, `7d`).
        #[arg(long, default_value = "7d", value_name = "DURATION", value_parser = parse_duration)]
        older_than: Duration,
        /// Print what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// The options of `agent-host run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonOptions,
    /// The provider of the new thread (a configured or built-in one: `codex`, `claude`,
    /// `gemini`, `demo`). Default: the configuration's `default_provider`.
    #[arg(long, value_name = "NAME", conflicts_with = "continue_thread")]
    pub provider: Option<String>,
    /// The model (default: the provider's).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// The working directory of the new thread. Default: the current directory.
    #[arg(long, value_name = "DIR", conflicts_with = "continue_thread")]
    pub cwd: Option<PathBuf>,
    /// Continue this thread (its provider, model and working directory) instead of starting
    /// a new one.
    #[arg(long = "continue", value_name = "THREAD")]
    pub continue_thread: Option<String>,
    /// Start the turn in the background and return at once, printing the thread and turn
    /// ids (with `--json`, as one object `{"threadId", "turnId"}`): the turn runs on without
    /// this command (`agent-host ps`, `logs -f`, `kill`).
    #[arg(long)]
    pub background: bool,
    /// Print every message the server sends during the turn as JSON lines on stdout
    /// (Codex's notifications), and nothing else there.
    #[arg(long)]
    pub json: bool,
    /// Accept every approval the backend asks for.
    #[arg(long, conflicts_with = "no")]
    pub yes: bool,
    /// Decline every approval the backend asks for.
    #[arg(long)]
    pub no: bool,
    /// The user's input; absent or `-`: read from stdin.
    #[arg(value_name = "PROMPT")]
    pub prompt: Option<String>,
}

/// The options of `agent-host rm`.
#[derive(Debug, Clone, clap::Args)]
pub struct RmOptions {
    #[command(flatten)]
    pub state: StateOptions,
    /// Delete a thread even while a running server has it loaded.
    #[arg(long)]
    pub force: bool,
    /// How long to wait for each thread's turns to stop and for their notices to end, in
    /// milliseconds.
    #[arg(long, default_value_t = 15_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Thread ids, or the start of exactly one each.
    #[arg(value_name = "THREAD", required = true)]
    pub threads: Vec<String>,
}

/// The options of `agent-host doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorOptions {
    /// The configuration file (TOML). Default: $XDG_CONFIG_HOME/agent-host/config.toml,
    /// else ~/.config/agent-host/config.toml; a missing default file means defaults.
    #[arg(long, env = "AGENT_HOST_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one configuration value, as `key=value` with a TOML value. May be repeated.
    #[arg(short = 'c', long = "config-override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A duration as `--older-than` takes it: digits and a unit (`s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit: add s, m, h or d (as in 7d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number (as in 7d)"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h or d"
            ));
        }
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert!(parse_duration("7").unwrap_err().contains("no unit"));
        assert!(parse_duration("d").unwrap_err().contains("number"));
        assert!(parse_duration("7w").unwrap_err().contains("unknown unit"));
    }
}

/// The protocol's tooling, under `app-server` as in Codex.
#[derive(Debug, Subcommand)]
pub enum AppServerTool {
    /// Generate the JSON Schema of the protocol into DIR: the bundles of what the server
    /// reads and writes, and the list of its methods (what `schema/` holds).
    GenerateJsonSchema {
        /// The directory to write into (created if missing).
        #[arg(short = 'o', long, value_name = "DIR")]
        out: PathBuf,
        /// Accepted for Codex's command line; agent-host has no experimental subset, so the
        /// output is the same with or without it.
        #[arg(long)]
        experimental: bool,
    },
    /// Generate TypeScript types of the protocol into DIR: one `<Type>.ts` per type, an
    /// `index.ts` exporting them all, and `v2/` re-exporting them under the paths Codex's
    /// `v2` uses.
    GenerateTs {
        /// The directory to write into (created if missing).
        #[arg(short = 'o', long, value_name = "DIR")]
        out: PathBuf,
        /// Accepted for Codex's command line; agent-host has no experimental subset, so the
        /// output is the same with or without it.
        #[arg(long)]
        experimental: bool,
    },
}

/// What a runner supervises: a turn, or (as a warm spare) the turn it will be given.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RunnerArgs {
    /// The turn directory holding `spec.json`.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "spare",
        conflicts_with = "spare"
    )]
    pub turn_dir: Option<PathBuf>,
    /// Start as a warm spare: the spare's directory holding `spare.json`; the turn comes
    /// later from the server.
    #[arg(long, value_name = "DIR")]
    pub spare: Option<PathBuf>,
    /// Run as the main process of a job of this engine (`slurm`, `kubernetes`): in the
    /// foreground, controlled through the turn's control inbox and the engine's signals.
    #[arg(long, value_name = "ENGINE", conflicts_with = "spare")]
    pub engine: Option<String>,
    #[command(subcommand)]
    pub command: Option<RunnerCommand>,
}

/// What `runner` does besides running a turn.
#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Send one control request to the turn's runner on this node, over its control socket,
    /// and print its answer as one JSON line (`{"ok":true}`); exits 1 when the runner refuses
    /// it or cannot be reached. On Kubernetes the server runs it in the runner's pod through
    /// `pods/exec`.
    Ctl {
        /// The turn directory.
        #[arg(long, value_name = "DIR")]
        turn_dir: PathBuf,
        /// The request, as on the control socket: `{"op":"interrupt","reason":"client"}`,
        /// `{"op":"steer",...}` or `{"op":"approve",...}`.
        #[arg(long, value_name = "JSON")]
        request: String,
    },
}
