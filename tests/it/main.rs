//! The one integration-test binary: every test drives real processes of the real binary.
#![allow(clippy::disallowed_methods)]

mod approvals;
mod chaos;
mod codex_capture;
mod conformance;
mod notification_table;
mod notify;
mod ops;
mod protocol;
mod real_claude;
mod real_codex;
mod real_gemini;
mod runner;
mod schema_drift;
mod support;
mod token_usage;
mod transcript;
mod turns;
