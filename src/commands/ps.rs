//! `agent-host ps [--all]`: the turns as a table, newest first, from the state directory alone
//! (no server needed): [`turn_control::summary`] for the state, [`turn_control::processes`]
//! for the runner and the backend, each checked by identity. A turn shown `running` has a
//! live runner; one whose runner is gone is `runnerLost`.

use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use super::print;
use super::select::{self, OpsError};
use crate::cli::StateOptions;
use crate::events::{EndReason, now_ms};
use crate::store::turn_dir;
use crate::turn_control::{self, Listing, RecordedProcess, TurnState};

/// One turn as `ps` shows it (`--json` prints an array of these).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    thread_id: String,
    turn_id: String,
    ephemeral: bool,
    provider: Option<String>,
    mode: Option<String>,
    status: TurnState,
    reason: Option<EndReason>,
    started_at_ms: Option<u64>,
    ended_at_ms: Option<u64>,
    runner: Option<RecordedProcess>,
    backend: Option<RecordedProcess>,
    dir: String,
}

/// Prints the turns of the state directory (those that have not ended, or all).
pub(super) fn run(options: StateOptions, listing: Listing) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let state = select::state_dir(options.state_dir)?;
    let turns = turn_dir::all(&state).map_err(OpsError::Read)?;
    let rows: Vec<Row> = turns
        .iter()
        .rev()
        .filter_map(|turn| {
            // The processes first: a runner found dead stays dead, so the state read after
            // it cannot be `running` with the runner shown gone.
            let mut processes = turn_control::processes(&turn.path);
            let summary = turn_control::summary(&turn.path, listing)?;
            if processes.runner.is_none() {
                processes = turn_control::processes(&turn.path); // written meanwhile
            }
            let text = |value: Option<Value>| value.and_then(|v| v.as_str().map(str::to_owned));
            Some(Row {
                thread_id: turn.thread_id.to_string(),
                turn_id: turn.turn_id.to_string(),
                ephemeral: turn.ephemeral,
                provider: text(summary.provider),
                mode: text(summary.mode),
                status: summary.state,
                reason: summary.reason,
                started_at_ms: summary.started_at_ms.and_then(|v| v.as_u64()),
                ended_at_ms: summary.ended_at_ms,
                runner: processes.runner,
                backend: processes.backend,
                dir: summary.dir,
            })
        })
        .collect();
    if options.json {
        print::json(&rows);
    } else {
        print_table(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[Row]) {
    let now = now_ms();
    let process = |p: &Option<RecordedProcess>| match p {
        Some(RecordedProcess { pid, alive: true }) => format!("{pid} live"),
        Some(RecordedProcess { pid, alive: false }) => format!("{pid} gone"),
        None => "-".to_owned(),
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.thread_id.clone(),
                row.turn_id.clone(),
                row.provider.clone().unwrap_or_else(|| "-".to_owned()),
                row.mode.clone().unwrap_or_else(|| "-".to_owned()),
                state_name(row.status),
                row.started_at_ms
                    .map_or_else(|| "-".to_owned(), |at| select::age(now, at)),
                process(&row.runner),
                process(&row.backend),
            ]
        })
        .collect();
    print::table(
        &[
            "THREAD", "TURN", "PROVIDER", "MODE", "STATUS", "AGE", "RUNNER", "BACKEND",
        ],
        &cells,
    );
}

/// The state as the records and `--json` name it (`running`, `runnerLost`, `completed`, …).
pub(super) fn state_name(state: TurnState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
