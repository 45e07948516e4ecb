//! Every parser agent-host fuzzes, in one binary (one build instead of one per parser): the
//! environment variable `AGENT_HOST_FUZZ_TARGET` names the parser a run feeds
//! (`agent_host::fuzzing::Target`: framing, config, codex_jsonl, claude, gemini,
//! codex_app_server, acp); `scripts/fuzz.sh` runs each with its own corpus.
#![no_main]

use std::sync::OnceLock;

use agent_host::fuzzing::Target;

/// The environment variable that names the parser.
const TARGET_ENV: &str = "AGENT_HOST_FUZZ_TARGET";

static TARGET: OnceLock<Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(
    init: {
        let name = std::env::var(TARGET_ENV).unwrap_or_default();
        let Some(target) = Target::from_name(&name) else {
            let names: Vec<&str> = Target::ALL.iter().map(|target| target.name()).collect();
            eprintln!("set {TARGET_ENV} to one of: {}", names.join(", "));
            std::process::exit(2);
        };
        let _ = TARGET.set(target);
    },
    |data: &[u8]| {
        if let Some(target) = TARGET.get() {
            target.run(data);
        }
    }
);
