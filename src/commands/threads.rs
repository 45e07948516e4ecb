//! `agent-host threads`: the stored threads, newest first, each with its last turn's status,
//! from the records alone (`thread.json`, the turn directories; no index, no server).

use std::process::ExitCode;

use serde::Serialize;

use super::print;
use super::ps::state_name;
use super::select::{self, OpsError};
use crate::cli::StateOptions;
use crate::events::now_ms;
use crate::store::{self, turn_dir};
use crate::turn_control::{self, Listing};

/// One thread as `threads` shows it (`--json` prints an array of these).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    thread_id: String,
    name: Option<String>,
    preview: String,
    model_provider: String,
    cwd: String,
    /// Unix seconds.
    created_at: i64,
    updated_at: i64,
    archived: bool,
    turns: usize,
    last_turn: Option<LastTurn>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LastTurn {
    turn_id: String,
    /// As `ps` names it: `running`, `starting`, `runnerLost`, `completed`, `failed`,
    /// `interrupted`.
    status: String,
}

/// Prints the stored threads of the state directory.
pub(super) fn run(options: StateOptions) -> Result<ExitCode, OpsError> {
    crate::logging::init();
    let state = select::state_dir(options.state_dir)?;
    let ids = turn_dir::stored_thread_ids(&state).map_err(OpsError::Read)?;
    let mut rows = Vec::new();
    for id in ids {
        let record = match store::read_thread_file(&state, id) {
            Ok(Some(record)) => record,
            Ok(None) => continue, // a thread being created or deleted right now
            Err(err) => {
                tracing::warn!("skipping thread {id}: {err}");
                continue;
            }
        };
        let turns_dir = turn_dir::durable_turns(&state, id);
        let turns = turn_dir::turn_ids(&turns_dir).map_err(OpsError::Read)?;
        let last_turn = turns.last().and_then(|turn| {
            let dir = turns_dir.join(turn.hyphenated().to_string());
            let summary = turn_control::summary(&dir, Listing::All)?;
            Some(LastTurn {
                turn_id: turn.to_string(),
                status: state_name(summary.state),
            })
        });
        rows.push(Row {
            thread_id: id.to_string(),
            name: record.name,
            preview: record.preview,
            model_provider: record.model_provider,
            cwd: record.cwd,
            created_at: record.created_at,
            updated_at: record.updated_at,
            archived: record.archived,
            turns: turns.len(),
            last_turn,
        });
    }
    // Newest first; ids are UUIDv7, so they break ties in creation order.
    rows.sort_by(|a, b| (b.created_at, &b.thread_id).cmp(&(a.created_at, &a.thread_id)));
    if options.json {
        print::json(&rows);
    } else {
        print_table(&rows);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[Row]) {
    let now = now_ms();
    let ago = |seconds: i64| select::age(now, u64::try_from(seconds).unwrap_or(0) * 1000);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let title = row.name.as_deref().unwrap_or(&row.preview);
            let title: String = title
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(50)
                .collect();
            vec![
                row.thread_id.clone(),
                ago(row.created_at),
                ago(row.updated_at),
                row.model_provider.clone(),
                row.turns.to_string(),
                row.last_turn
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |last| last.status.clone()),
                title,
            ]
        })
        .collect();
    print::table(
        &[
            "THREAD",
            "CREATED",
            "UPDATED",
            "PROVIDER",
            "TURNS",
            "LAST TURN",
            "NAME",
        ],
        &cells,
    );
}
