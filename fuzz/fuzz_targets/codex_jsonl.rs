//! The codex `exec --json` event stream (kinds `jsonl` and `codex-exec`).
#![no_main]

use agent_host::fuzzing::{Stream, backend_stream};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    backend_stream(Stream::CodexJsonl, data);
});
