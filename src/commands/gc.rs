//! `agent-host gc [--older-than DURATION] [--dry-run]`: deletes what ended turns no longer
//! need ([`turn_dir::DISPOSABLE_FILES`]: the backends' raw output and the turns' scratch
//! files, and the notice's lock once the notice has ended) from turns that ended longer ago
//! than the retention. A turn without an exit record, or whose runner still lives, is never
//! touched; the records `thread/read`, `logs` and `ps` read are never deleted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::print;
use super::select::{self, OpsError};
use crate::cli::StateOptions;
use crate::events::now_ms;
use crate::notify::{self, NoticeState};
use crate::runner::client::read_exit_record;
use crate::store::turn_dir;
use crate::turn_control;

/// What `gc` deleted (or, with `--dry-run`, would delete); `--json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    dry_run: bool,
    older_than_secs: u64,
    /// The turns that had something to delete.
    turns: usize,
    files: Vec<Freed>,
    freed_bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Freed {
    path: String,
    bytes: u64,
}

/// Whether `gc` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deleting {
    Yes,
    DryRun,
}

/// Deletes (or lists) the disposable files of the turns that ended before `older_than`.
pub(super) fn run(
    options: StateOptions,
    older_than: Duration,
    deleting: Deleting,
) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let state = select::state_dir(options.state_dir)?;
    let cutoff = now_ms().saturating_sub(u64::try_from(older_than.as_millis()).unwrap_or(u64::MAX));
    let mut report = Report {
        dry_run: deleting == Deleting::DryRun,
        older_than_secs: older_than.as_secs(),
        turns: 0,
        files: Vec::new(),
        freed_bytes: 0,
    };
    for turn in turn_dir::all(&state).map_err(OpsError::Read)? {
        if !ended_before(&turn.path, cutoff) {
            continue;
        }
        let before = report.files.len();
        for path in disposable(&turn.path) {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            if deleting == Deleting::Yes
                && let Err(err) = std::fs::remove_file(&path)
            {
                tracing::warn!("cannot delete {}: {err}", path.display());
                continue;
            }
            report.freed_bytes += meta.len();
            report.files.push(Freed {
                path: path.display().to_string(),
                bytes: meta.len(),
            });
        }
        report.turns += usize::from(report.files.len() > before);
    }
    if options.json {
        print::json(&report);
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the turn ended before `cutoff_ms` and its runner is gone (a runner that wrote the
/// end a moment ago may still hold its files).
fn ended_before(dir: &Path, cutoff_ms: u64) -> bool {
    let ended = matches!(read_exit_record(dir), Ok(Some(exit)) if exit.ended_at_ms <= cutoff_ms);
    ended
        && !turn_control::processes(dir)
            .runner
            .is_some_and(|runner| runner.alive)
}

/// The files of an ended turn that may go: the disposable ones, and the notice's lock when
/// no notice is owed or it has ended (until then the lock keeps it exactly once).
fn disposable(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = turn_dir::DISPOSABLE_FILES
        .iter()
        .map(|name| dir.join(name))
        .collect();
    let notice_done = match notify::record::read(dir) {
        Ok(None) => true,
        Ok(Some(record)) => matches!(record.state, NoticeState::Ended { .. }),
        Err(_) => false,
    };
    if notice_done {
        paths.push(dir.join(turn_dir::NOTICE_LOCK_FILE));
    }
    paths
}

fn print_text(report: &Report) {
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for file in &report.files {
        print::line(&format!("{verb} {} ({})", file.path, size(file.bytes)));
    }
    let summary = if report.dry_run {
        "would free"
    } else {
        "freed"
    };
    print::line(&format!(
        "{summary} {} in {} files of {} turns",
        size(report.freed_bytes),
        report.files.len(),
        report.turns
    ));
}

/// Bytes for a person: `512 B`, `12.3 KiB`, `4.0 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
