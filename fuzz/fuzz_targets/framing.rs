//! The transport's line framing, the JSON-RPC reading of a line and the method table's
//! dispatch of a request.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_host::fuzzing::framing_and_dispatch(data);
});
