//! Fills an agent-host state directory with many listed threads through the store library.
//!
//! The rows go straight into the index (`Store::index_records_unchecked`, one transaction per
//! chunk) without thread files: `thread/list` is answered from the index alone, so the listing
//! does the same work as over real threads, and 100,000 threads take seconds, not minutes.

use std::path::Path;
use std::time::{Duration, Instant};

use agent_host::store::{ListQuery, Store, ThreadRecord, Timestamp};
use uuid::Uuid;

const CHUNK: usize = 10_000;

/// What was stored.
pub struct Populated {
    pub elapsed: Duration,
    /// The cursor after the newer half of the threads in the default listing (newest first).
    pub middle_cursor: String,
}

/// Stores `count` threads that have had a turn (so all are listed), one minute apart, and
/// finds the cursor of the page that starts after `count / 2` threads.
pub fn populate(state_dir: &Path, cwd: &str, count: usize) -> Result<Populated, String> {
    let started = Instant::now();
    let store = Store::open(state_dir).map_err(|e| format!("Store::open: {e}"))?;
    let newest_ms = Timestamp::now().unix_ms;
    let mut chunk = Vec::with_capacity(CHUNK);
    for i in 0..count {
        let age_ms = i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(60_000);
        let created = Timestamp {
            unix_ms: newest_ms.saturating_sub(age_ms),
        };
        let mut record = ThreadRecord::new(
            Uuid::now_v7(),
            cwd.to_owned(),
            "mock".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
            created,
        );
        record.has_turns = true;
        record.model = Some("mock-model".to_owned());
        record.originator = Some("agent_host_bench".to_owned());
        record.preview = format!("benchmark thread number {i}: list me");
        chunk.push(record);
        if chunk.len() == CHUNK || i + 1 == count {
            store
                .index_records_unchecked(&chunk)
                .map_err(|e| format!("index_records_unchecked: {e}"))?;
            chunk.clear();
        }
    }
    let offset = u32::try_from(count / 2).map_err(|_| "too many threads")?;
    let page = store
        .list_threads(&ListQuery {
            limit: Some(offset.max(1)),
            ..ListQuery::default()
        })
        .map_err(|e| format!("list_threads: {e}"))?;
    let middle_cursor = page
        .next_cursor
        .ok_or("the store listed fewer threads than it was given")?;
    Ok(Populated {
        elapsed: started.elapsed(),
        middle_cursor,
    })
}
