//! Helpers shared by the integration tests: processes with timeouts, sandboxes, fixture
//! patterns and the official Codex schema.
// A toolbox for every test: not each helper is used by the tests of this branch.
#![allow(dead_code, unused_imports)]

pub mod fixture;
pub mod loopback;
pub mod mock_anthropic;
pub mod mock_gemini;
pub mod mock_responses;
pub mod paths;
pub mod pattern;
pub mod process;
pub mod real_backend;
pub mod sandbox;
pub mod schema;

pub use process::{DEFAULT_TIMEOUT, Line, RecvError, ServerProcess, SpawnSpec};
pub use sandbox::Sandbox;
