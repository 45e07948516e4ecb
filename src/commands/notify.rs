//! `agent-host notify --turn-dir DIR` (hidden): the notifier of one finished turn
//! ([`crate::notify::run`]), started detached by the runner at the turn's end, or for a turn
//! whose runner died by whoever ended it. Its log goes to the turn's `runner.log`.

use std::io;
use std::path::Path;

/// Runs the turn's completion notice if it is owed and nobody else runs it.
pub(super) fn run(turn_dir: &Path) -> io::Result<()> {
    crate::logging::init();
    let ran = crate::notify::run(turn_dir)?;
    tracing::info!(?ran, "completion notice of {}", turn_dir.display());
    Ok(())
}
