//! Deliberate faults, for the mutation checks of the tests (`docs/testing.md`, "Mutation
//! checks"): a server or runner started with `AGENT_HOST_FAULT` set behaves as a broken build
//! would, so a test can prove that the checks meant to catch it do. Read once per process;
//! never set in normal use (an unknown value is logged and ignored).

/// The faults `AGENT_HOST_FAULT` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `second-turn-completed` (server): every `turn/completed` is sent twice.
    SecondTurnCompleted,
    /// `item-after-turn-completed` (server): an `item/completed` of the turn follows its
    /// completion.
    ItemAfterTurnCompleted,
    /// `interrupt-never-wins` (runner): an interrupt is acknowledged and ignored, so a turn
    /// always ends on its own.
    InterruptNeverWins,
}

/// The fault this process was started with, if any.
pub(crate) fn fault() -> Option<Fault> {
    static FAULT: std::sync::OnceLock<Option<Fault>> = std::sync::OnceLock::new();
    *FAULT.get_or_init(|| match std::env::var("AGENT_HOST_FAULT").ok().as_deref() {
        Some("second-turn-completed") => Some(Fault::SecondTurnCompleted),
        Some("item-after-turn-completed") => Some(Fault::ItemAfterTurnCompleted),
        Some("interrupt-never-wins") => Some(Fault::InterruptNeverWins),
        Some(other) => {
            tracing::warn!("unknown AGENT_HOST_FAULT {other:?}; ignored");
            None
        }
        None => None,
    })
}
