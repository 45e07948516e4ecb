//! The measuring machinery of `protocol_front`: processes, statistics, sandboxes, population.

pub mod figures;
pub mod populate;
pub mod server;
pub mod setup;
pub mod stats;
