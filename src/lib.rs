//! agent-host: a Codex app-server compatible JSON-RPC server whose turns run on any agent CLI.
//!
//! The crate is one binary with several roles (see `ARCHITECTURE.md`): the protocol server
//! (`app-server`), the per-turn supervisor (`runner`), and small tools (`kill`, `schema`).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod atomic_file;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod config;
pub mod events;
pub(crate) mod fault;
#[doc(hidden)]
pub mod fuzzing;
pub mod jsonrpc;
pub mod launcher;
pub mod logging;
pub mod notify;
pub mod process;
pub mod protocol;
pub mod runner;
pub mod server;
pub mod sha256;
pub mod spec;
pub mod store;
pub mod thread_delete;
pub mod transport;
pub mod turn_control;
