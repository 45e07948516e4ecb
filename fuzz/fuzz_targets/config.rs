//! The configuration parser: the file's TOML, then `-c` overrides after NUL bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_host::fuzzing::config(data);
});
