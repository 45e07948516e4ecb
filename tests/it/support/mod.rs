//! Helpers shared by the integration tests: processes with timeouts, sandboxes, fixture
//! patterns and the official Codex schema.
// A toolbox for every test: not each helper is used by the tests of this branch.
#![allow(dead_code, unused_imports)]

pub mod fixture;
pub mod git_repo;
pub mod host;
pub mod loopback;
pub mod mock_anthropic;
pub mod mock_gemini;
#[cfg(feature = "kubernetes")]
pub mod mock_kube;
pub mod mock_responses;
pub mod ops;
pub mod paths;
pub mod pattern;
pub mod process;
pub mod procs;
pub mod sandbox;
pub mod schema;

pub use process::{DEFAULT_TIMEOUT, Line, RecvError, ServerProcess, SpawnSpec};
pub use sandbox::Sandbox;

use std::time::{Duration, Instant};

/// The one polling wait of the tests: calls `check` every few milliseconds until it returns
/// something, and panics naming `what` once `within` has passed. Polling with a deadline is
/// how a test waits for another process's files; it is never a sleep that hopes.
pub fn wait_until<T>(
    within: Duration,
    what: impl std::fmt::Display,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A description computed only when a wait fails (for `wait_until`'s `what`), so that it can
/// show the state at that moment.
pub struct Describe<F: Fn() -> String>(pub F);

impl<F: Fn() -> String> std::fmt::Display for Describe<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&(self.0)())
    }
}
