//! The protocol server: one event loop owning all connection and thread state.
//!
//! [`run`] resolves the state directory and the configuration, opens the store (its index in
//! the background, waited for by the first request that needs it), and runs the loop on a
//! tokio runtime. The loop ([`state::Server`]) is fed by one closed [`Event`] enum:
//! input lines from the transport, and records from the turns it follows. Everything that
//! changes a thread happens there, in arrival order.

mod approvals;
mod convert;
pub mod recovery;
mod state;
mod threads;
mod turn;
mod usage;

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
    let state_dir = resolve_state_dir(options.state_dir.as_deref())?;
    let mut config =
        Config::load(options.config.as_deref(), &options.overrides).map_err(StartError::Config)?;
    if let Some(program) = options.on_complete {
        config.notify.program = Some(vec![program]);
    }
    // The directories are made now, so a state directory that cannot be made stops the
    // server here; the index is opened on a thread of its own, so `initialize` does not
    // wait for it (on a new state directory that is a new database and several fsyncs).
    let store = Store::open_deferred(&state_dir).map_err(|source| StartError::StateDir {
        dir: state_dir.clone(),
        source,
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    Ok(runtime.block_on(serve(state_dir, config, store, options.max_line_bytes)))
}

async fn serve(
    state_dir: PathBuf,
    config: Config,
    store: Store,
    max_line_bytes: usize,
) -> ExitCode {
    let (events_tx, mut events_rx) = mpsc::channel::<Event>(INPUT_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(OUTPUT_QUEUE);
    let writer = tokio::spawn(transport::write_messages(tokio::io::stdout(), out_rx));

    let (lines_tx, mut lines_rx) = mpsc::channel::<InputLine>(INPUT_QUEUE);
    let stdin = tokio::io::BufReader::with_capacity(256 * 1024, tokio::io::stdin());
    tokio::spawn(async move {
        if let Err(err) = transport::read_lines(stdin, max_line_bytes, lines_tx).await {
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
