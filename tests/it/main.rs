//! The one integration-test binary: every test drives real processes of the real binary.
#![allow(clippy::disallowed_methods)]
mod runner;
