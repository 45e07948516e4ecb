//! The protocol: pure data (serde types and the method table). No IO happens here.
//!
//! Types mirror the Codex 0.169.0 app-server wire: `*Params` / `*Response` for requests,
//! `*Notification` for notifications. See `docs/arch/protocol.md`.

pub mod approval;
pub mod codex_methods;
pub mod command_exec;
pub mod common;
pub mod external_agent;
pub mod info;
pub mod initialize;
pub mod item;
pub mod methods;
pub mod notification;
pub mod review;
pub mod schema;
pub mod thread;
pub mod thread_delete;
pub mod thread_goal;
pub mod thread_methods;
pub mod turn;
pub mod typescript;

pub use approval::*;
pub use codex_methods::{Stability, codex_method};
pub use command_exec::*;
pub use common::*;
pub use external_agent::*;
pub use info::*;
pub use initialize::*;
pub use item::*;
pub use methods::*;
pub use notification::*;
pub use review::*;
pub use thread::*;
pub use thread_delete::*;
pub use thread_goal::*;
pub use thread_methods::*;
pub use turn::*;

#[cfg(test)]
mod tests;
