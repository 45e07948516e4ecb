//! An Agent Client Protocol agent's JSON-RPC output, read by its client (kind `acp`).
#![no_main]

use agent_host::fuzzing::{Stream, backend_stream};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    backend_stream(Stream::Acp, data);
});
