//! `fake-agent`: a scriptable stand-in for an agent CLI, used by the tests.

fn main() {}
