//! The protocol server: one event loop owning all connection and thread state.
//!
//! [`run`] resolves the state directory and the configuration, opens the store (its index in
//! the background, waited for by the first request that needs it), and runs the loop on a
//! tokio runtime. The loop ([`state::Server`]) is fed by one closed [`Event`] enum:
//! input lines from the transport, records from the turns it follows, and the output and end
//! of its standalone commands. Everything that
//! changes a thread happens there, in arrival order.

mod approvals;
mod command_exec;
mod convert;
mod import;
mod info;
pub mod recovery;
mod review;
mod spares;
mod state;
mod thread_delete;
mod thread_fork;
mod thread_goal;
mod thread_memory;
mod threads;
mod turn;
mod unavailable;
mod usage;

/// The answer to a request the method table cannot read, for the fuzz targets
/// ([`crate::fuzzing`]), which run the loop's reading of a line without a loop.
pub(crate) use state::parse_error_object;
/// The provider as a turn's spec holds it (for `agent-host doctor`).
pub(crate) use turn::spec_provider;
pub(crate) use unavailable::ExperimentalApi;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::sync::mpsc;

use crate::config::{Config, ConfigError};
use crate::store::{self, Store, StoreError};
use crate::transport::{self, InputLine};

/// Everything the loop reacts to.
#[derive(Debug)]
pub(crate) enum Event {
    /// One line from the client.
    Input(InputLine),
    /// The client closed stdin.
    InputClosed,
    /// One record of a turn this server follows.
    TurnRecord {
        thread: uuid::Uuid,
        turn: uuid::Uuid,
        record: crate::events::EventRecord,
    },
    /// Output or the end of a standalone command (`command/exec`).
    Command(command_exec::CommandEvent),
    /// A followed turn's stream broke before its last record.
    TurnLost {
        thread: uuid::Uuid,
        turn: uuid::Uuid,
        error: String,
    },
}

/// How many input lines may wait for the loop before reading pauses.
const INPUT_QUEUE: usize = 256;
/// How many messages may wait for stdout before the loop pauses.
const OUTPUT_QUEUE: usize = 4096;

/// The longest request line a server accepts unless told otherwise (`--max-line-bytes`).
pub const DEFAULT_MAX_LINE_BYTES: usize = 256 * 1024 * 1024;

/// What the server is started with (the `app-server` command line, as plain values).
#[derive(Debug, Clone)]
pub struct Options {
    /// The state directory; `None` for the default one ([`store::default_state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// The configuration file; `None` for the default one.
    pub config: Option<PathBuf>,
    /// `-c key=value` overrides of the configuration, in order.
    pub overrides: Vec<String>,
    /// The longest request line accepted, in bytes.
    pub max_line_bytes: usize,
    /// `--on-complete PROGRAM`: the completion notice's program, over the configuration's
    /// `notify`.
    pub on_complete: Option<String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no state directory: pass --state-dir or set AGENT_HOST_HOME")]
    NoStateDir,
    #[error("cannot read the current directory: {0}")]
    CurrentDir(std::io::Error),
    #[error("configuration: {0}")]
    Config(ConfigError),
    #[error("cannot open the state directory {}: {source}", dir.display())]
    StateDir { dir: PathBuf, source: StoreError },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Starts the server and serves stdin/stdout until the client closes stdin.
pub fn run(options: Options) -> Result<ExitCode, StartError> {
    crate::logging::init();
    let opened = Opened::open(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    Ok(runtime.block_on(opened.serve(tokio::io::stdin(), tokio::io::stdout())))
}

/// A server ready to serve: its state directory made, its configuration read, its store
/// opened (the index in the background).
pub struct Opened {
    state_dir: PathBuf,
    config: Config,
    store: Store,
    max_line_bytes: usize,
}

impl Opened {
    /// Resolves the state directory, reads the configuration and opens the store.
    pub fn open(options: &Options) -> Result<Opened, StartError> {
        let state_dir = resolve_state_dir(options.state_dir.as_deref())?;
        let mut config = Config::load(options.config.as_deref(), &options.overrides)
            .map_err(StartError::Config)?;
        if let Some(program) = &options.on_complete {
            config.notify.program = Some(vec![program.clone()]);
        }
        // The directories are made now, so a state directory that cannot be made stops the
        // server here; the index is opened on a thread of its own, so `initialize` does not
        // wait for it (on a new state directory that is a new database and several fsyncs).
        let store = Store::open_deferred(&state_dir).map_err(|source| StartError::StateDir {
            dir: state_dir.clone(),
            source,
        })?;
        Ok(Opened {
            state_dir,
            config,
            store,
            max_line_bytes: options.max_line_bytes,
        })
    }

    /// Serves one client over `input` and `output` until `input` ends: stdin and stdout for
    /// `app-server`, an in-memory pipe for the commands that drive a server of their own
    /// ([`InProcess`]).
    pub async fn serve<R, W>(self, input: R, output: W) -> ExitCode
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        serve(
            self.state_dir,
            self.config,
            self.store,
            self.max_line_bytes,
            (input, output),
        )
        .await
    }
}

/// A server running in this process, on a thread and runtime of its own (as `app-server`
/// runs it), spoken to over an in-memory pipe with the protocol itself: how `agent-host
/// resume` and `unarchive` use the server's own code paths.
pub struct InProcess {
    /// What the client writes (the server's input); shutting it down ends the server.
    pub input: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    /// What the server writes, one JSON message per line.
    pub output: tokio::io::BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
    /// The server's thread; it ends once `input` is shut down.
    pub thread: std::thread::JoinHandle<ExitCode>,
}

impl InProcess {
    /// Starts serving an opened server on a thread of its own.
    pub fn start(opened: Opened) -> Result<InProcess, StartError> {
        let (client, server) = tokio::io::duplex(256 * 1024);
        let (client_read, client_write) = tokio::io::split(client);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let thread = std::thread::Builder::new()
            .name("agent-host-server".to_owned())
            .spawn(move || {
                let (server_read, server_write) = tokio::io::split(server);
                runtime.block_on(opened.serve(server_read, server_write))
            })
            .map_err(StartError::Runtime)?;
        Ok(InProcess {
            input: client_write,
            output: tokio::io::BufReader::new(client_read),
            thread,
        })
    }
}

async fn serve<R, W>(
    state_dir: PathBuf,
    config: Config,
    store: Store,
    max_line_bytes: usize,
    (input, output): (R, W),
) -> ExitCode
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (events_tx, mut events_rx) = mpsc::channel::<Event>(INPUT_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
    let writer = tokio::spawn(transport::write_messages(output, out_rx));

    let (lines_tx, mut lines_rx) = mpsc::channel::<InputLine>(INPUT_QUEUE);
    let input = tokio::io::BufReader::with_capacity(256 * 1024, input);
    tokio::spawn(async move {
        if let Err(err) = transport::read_lines(input, max_line_bytes, lines_tx).await {
            tracing::warn!("reading stdin failed: {err}");
        }
    });
    let forward = events_tx.clone();
    tokio::spawn(async move {
        while let Some(line) = lines_rx.recv().await {
            if forward.send(Event::Input(line)).await.is_err() {
                return;
            }
        }
        let _ = forward.send(Event::InputClosed).await;
    });

    let recovery_dir = state_dir.clone();
    tokio::task::spawn_blocking(move || {
        let ended = recovery::recover(&recovery_dir);
        if !ended.is_empty() {
            tracing::info!(
                "recovery ended {} turn(s) whose runner had died",
                ended.len()
            );
        }
    });
    let mut server =
        state::Server::new(state_dir, max_line_bytes, config, store, out_tx, events_tx);
    while let Some(event) = events_rx.recv().await {
        if server.handle(event).await == state::Flow::Stop {
            break;
        }
    }
    drop(server);
    match writer.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(err)) => {
            tracing::warn!("writing stdout failed: {err}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            tracing::error!("writer task failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The state directory: the flag or `AGENT_HOST_HOME`, else the default one
/// ([`store::default_state_dir`]). Made absolute against the current directory.
fn resolve_state_dir(explicit: Option<&Path>) -> Result<PathBuf, StartError> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => store::default_state_dir().ok_or(StartError::NoStateDir)?,
    };
    if dir.is_absolute() {
        Ok(dir)
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .map_err(StartError::CurrentDir)
    }
}
