//! Claude Code's stream-json output; the first byte chooses one-shot or stream-json input.
#![no_main]

use agent_host::fuzzing::{Stream, backend_stream};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let stream = match mode % 2 {
        0 => Stream::Claude,
        _ => Stream::ClaudeStreamJsonInput,
    };
    backend_stream(stream, rest);
});
