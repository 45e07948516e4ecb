//! The protocol server: one event loop owning all connection and thread state.
//!
//! `main` resolves the state directory and the configuration, opens the store (its index in
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

use crate::cli::{CommonOptions, fail};
use crate::config::Config;
use crate::store::Store;
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

/// Entry point of the `app-server` command.
pub fn main(common: CommonOptions, max_line_bytes: usize) -> ExitCode {
    crate::logging::init();
    let state_dir = match resolve_state_dir(common.state_dir.as_deref()) {
        Ok(dir) => dir,
        Err(message) => return fail(&message),
    };
    let config = match Config::load(common.config.as_deref(), &common.overrides) {
        Ok(config) => config,
        Err(err) => return fail(&format!("configuration: {err}")),
    };
    // The directories are made now, so a state directory that cannot be made stops the
    // server here; the index is opened on a thread of its own, so `initialize` does not
    // wait for it (on a new state directory that is a new database and several fsyncs).
    let store = match Store::open_deferred(&state_dir) {
        Ok(store) => store,
        Err(err) => {
            return fail(&format!(
                "cannot open the state directory {}: {err}",
                state_dir.display()
            ));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(serve(state_dir, config, store, max_line_bytes))
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

/// The state directory: the flag or `AGENT_HOST_HOME`, else `$XDG_STATE_HOME/agent-host`,
/// else `~/.local/state/agent-host`. Made absolute against the current directory.
pub fn resolve_state_dir(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
            Some(base) => PathBuf::from(base).join("agent-host"),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/state/agent-host"),
                None => {
                    return Err(
                        "no state directory: pass --state-dir or set AGENT_HOST_HOME".to_string(),
                    );
                }
            },
        },
    };
    if dir.is_absolute() {
        Ok(dir)
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .map_err(|err| format!("cannot read the current directory: {err}"))
    }
}
