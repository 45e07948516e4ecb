//! The figures a bench hands to `scripts/bench.sh`: one JSON line per figure, appended to the
//! file named by `BENCH_FIGURES` (nothing is written when it is unset, as under `cargo bench`
//! by hand). `scripts/bench-report.py` turns them into `BENCHMARKS.md`: the figure's row, its
//! target and the ratio of agent-host's value to Codex's.
//!
//! A side that was not measured carries the reason instead of a value (Codex not installed,
//! no comparable operation, …), so the report can say why a cell is empty.

use std::io::Write;

/// One side of a figure: a value, or why there is none.
pub type Side = Result<f64, String>;

/// Appends the figure `id` (a stable key the report knows) with agent-host's value `ours`
/// and the real `codex app-server`'s value `codex`. A value that is not finite counts as
/// missing.
pub fn record(id: &str, ours: Side, codex: Side) {
    let Some(path) = std::env::var_os("BENCH_FIGURES") else {
        return;
    };
    let side = |side: &Side| match side {
        Ok(value) if value.is_finite() => (serde_json::json!(value), serde_json::Value::Null),
        Ok(value) => (
            serde_json::Value::Null,
            serde_json::json!(format!("{value}")),
        ),
        Err(why) => (serde_json::Value::Null, serde_json::json!(why)),
    };
    let (ours_value, ours_note) = side(&ours);
    let (codex_value, codex_note) = side(&codex);
    let line = serde_json::json!({
        "id": id,
        "ours": ours_value,
        "ours_note": ours_note,
        "codex": codex_value,
        "codex_note": codex_note,
    });
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(err) = written {
        eprintln!(
            "cannot append figure {id} to {}: {err}",
            path.to_string_lossy()
        );
    }
}

/// A value that exists, or the reason it does not.
pub fn some(value: Option<f64>, why: &str) -> Side {
    value.ok_or_else(|| why.to_owned())
}

/// No comparable figure on this side, for the reason `why`.
pub fn none(why: &str) -> Side {
    Err(why.to_owned())
}
