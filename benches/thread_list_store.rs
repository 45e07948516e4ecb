//! Benchmark: one `thread/list` page from the store over 100,000 indexed threads.
//!
//! Run with `cargo bench --bench thread_list_store`. Prints p50/p99 per query shape.

use std::time::{Duration, Instant};

use agent_host::store::{
    ListQuery, SortDirection, SortKey, Store, ThreadRecord, Timestamp, new_id,
};

const THREADS: i64 = 100_000;
const ROUNDS: usize = 300;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let records = records();
    let started = Instant::now();
    store.index_records_unchecked(&records)?;
    let indexing = started.elapsed();
    let shapes = query_shapes(&store)?;
    println!("thread/list over {THREADS} threads (indexed in {indexing:.2?}), {ROUNDS} rounds");
    println!("{:<32} {:>6} {:>10} {:>10}", "query", "rows", "p50", "p99");
    for (name, query) in shapes {
        time_query(&store, name, &query)?;
    }
    Ok(())
}

/// `THREADS` thread records in 20 projects, one in three of Claude, one in ten archived.
fn records() -> Vec<ThreadRecord> {
    let base = 1_700_000_000_000i64;
    (0..THREADS)
        .map(|n| {
            let mut record = ThreadRecord::new(
                new_id(),
                format!("/projects/project-{}", n % 20),
                if n % 3 == 0 { "claude" } else { "codex" }.to_owned(),
                "0.1.0".to_owned(),
                Timestamp {
                    unix_ms: base + n * 100,
                },
            );
            record.preview = format!("prompt number {n}: please fix the failing test");
            record.has_turns = true;
            record.archived = n % 10 == 0;
            record
        })
        .collect()
}

/// The queries timed, by name.
fn query_shapes(
    store: &Store,
) -> Result<Vec<(&'static str, ListQuery)>, Box<dyn std::error::Error>> {
    // A cursor in the middle of the listing, for the "deep page" shapes.
    let mut middle = ListQuery {
        limit: Some(45_000),
        ..ListQuery::default()
    };
    let middle_cursor = store.list_threads(&middle)?.next_cursor;
    middle.limit = None;
    middle.cursor = middle_cursor;

    Ok(vec![
        ("first page, created_at desc", ListQuery::default()),
        ("deep page, created_at desc", middle.clone()),
        (
            "first page, updated_at asc",
            ListQuery {
                sort_key: SortKey::UpdatedAt,
                direction: SortDirection::Asc,
                ..ListQuery::default()
            },
        ),
        (
            "archived only",
            ListQuery {
                archived: true,
                ..ListQuery::default()
            },
        ),
        (
            "cwd filter (1 in 20)",
            ListQuery {
                cwd: vec!["/projects/project-7".to_owned()],
                ..ListQuery::default()
            },
        ),
        (
            "search, common term",
            ListQuery {
                search_term: Some("Failing".to_owned()),
                ..ListQuery::default()
            },
        ),
        (
            "search, rare term (scan)",
            ListQuery {
                search_term: Some("number 12345:".to_owned()),
                ..ListQuery::default()
            },
        ),
        (
            "limit 1000",
            ListQuery {
                limit: Some(1000),
                ..ListQuery::default()
            },
        ),
    ])
}

/// Runs `query` `ROUNDS` times and prints its row: the rows it returns, p50 and p99.
fn time_query(
    store: &Store,
    name: &str,
    query: &ListQuery,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(ROUNDS);
    let mut rows = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let page = store.list_threads(query)?;
        times.push(started.elapsed());
        rows = page.threads.len();
    }
    times.sort();
    println!(
        "{name:<32} {rows:>6} {:>10.2?} {:>10.2?}",
        percentile(&times, 50),
        percentile(&times, 99)
    );
    Ok(())
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = (sorted.len() * percent / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}
