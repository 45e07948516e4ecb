//! The one integration-test binary: every test drives real processes of the real binary.
#![allow(clippy::disallowed_methods)]

mod approvals;
mod backend_permissions;
mod chaos;
mod cli_commands;
#[cfg(feature = "kubernetes")]
mod cluster_kubernetes;
mod cluster_slurm;
mod codex_capture;
mod codex_capture_threads;
mod codex_pin;
mod command_exec;
mod compatibility;
mod conformance;
mod doctor;
mod info;
mod notification_table;
mod notify;
mod ops;
mod protocol;
mod real_acp;
mod real_claude;
mod real_codex;
mod real_codex_app_server;
mod real_gemini;
mod reliability;
mod reliability_soak;
mod review;
mod rm;
mod run_cmd;
mod run_tmux;
mod runner;
mod schema_drift;
mod security;
mod support;
mod thread_delete;
mod thread_goal;
mod token_usage;
mod transcript;
mod turns;
mod warm_spare;
