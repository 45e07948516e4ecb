//! Soak: thousands of short fake-agent turns on one server, several at a time, its resident
//! memory and open file descriptors sampled as they go; both must be flat after the warm-up.
//! Bounded by count (the turns) and by each batch's timeout; it asserts growth, never time.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::support::host::Host;
use crate::support::wait_until;

/// Turns before the baseline is taken (caches, the allocator's arenas, the SQLite page cache
/// and the threads' first records settle).
const WARM_UP: usize = 400;
/// Turns after the baseline.
const SOAK: usize = 1_600;
/// Threads the turns rotate over; one turn of each runs at a time (a batch), so runners,
/// followers and records of several turns overlap as they do for a real client.
const THREADS: usize = 8;
/// A sample every this many turns after the warm-up.
const SAMPLE_EVERY: usize = 400;
/// How long one batch may take.
const BATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Growth allowed over the soak: a leak of a kibibyte per turn would be 1.6 MiB.
const RSS_GROWTH_LIMIT_KIB: u64 = 1024;
/// A leaked descriptor per turn would be thousands; a few may come and go (a log rotated, a
/// blocking-pool thread's file).
const FD_GROWTH_LIMIT: usize = 4;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// One sample: (turns so far, VmRSS KiB, open descriptors).
type Sample = (usize, u64, usize);

#[test]
fn memory_and_descriptors_stay_flat_over_thousands_of_turns() {
    let mut host = Host::fake(&[("short", "start\nmessage hi\ncomplete\n")]);
    let mut threads = vec![host.thread_id.clone()];
    for _ in 1..THREADS {
        let cwd = crate::support::host::path_str(&host.sandbox.work_dir());
        let started = host.request("thread/start", json!({"cwd": cwd, "modelProvider": "fake"}));
        threads.push(
            started["result"]["thread"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let pid = host.server.pid();
    let mut ended = BTreeSet::new();
    let mut samples: Vec<Sample> = Vec::new();
    for batch in 0..(WARM_UP + SOAK) / THREADS {
        run_batch(&mut host, &threads, batch, &mut ended);
        let turns = (batch + 1) * THREADS;
        if turns >= WARM_UP && (turns - WARM_UP).is_multiple_of(SAMPLE_EVERY) {
            samples.push(settled_sample(pid, turns));
        }
    }
    assert_eq!(ended.len(), WARM_UP + SOAK, "every turn ended once");
    eprintln!("soak samples (turns, VmRSS KiB, fds): {samples:?}");
    let (_, base_rss, base_fds) = samples[0];
    let (_, last_rss, last_fds) = *samples.last().unwrap();
    let peak_rss = samples.iter().map(|s| s.1).max().unwrap();
    assert!(
        last_rss.saturating_sub(base_rss) <= RSS_GROWTH_LIMIT_KIB
            && peak_rss.saturating_sub(base_rss) <= RSS_GROWTH_LIMIT_KIB,
        "resident memory grew over {SOAK} turns: {samples:?}"
    );
    assert!(
        last_fds <= base_fds + FD_GROWTH_LIMIT,
        "open descriptors grew over {SOAK} turns: {samples:?}"
    );
}

/// One turn on each thread at once; waits for every `turn/completed`, each `completed` and
/// each the first of its turn (`ended` holds every turn ended so far, so a second
/// `turn/completed`, even one that arrives in a later batch, fails the test).
fn run_batch(host: &mut Host, threads: &[String], batch: usize, ended: &mut BTreeSet<String>) {
    for (t, thread) in threads.iter().enumerate() {
        host.server.send_json(&json!({
            "id": format!("soak-{batch}-{t}"),
            "method": "turn/start",
            "params": {"threadId": thread, "input": [{"type": "text", "text": "script:short"}]},
        }));
    }
    let mut done = 0;
    while done < threads.len() {
        let (message, _) = host
            .server
            .wait_for(BATCH_TIMEOUT, |m| {
                m["method"] == "turn/completed" || m.get("error").is_some()
            })
            .unwrap_or_else(|(err, before)| panic!("batch {batch}: {err}; got {before:#?}"));
        assert!(message.get("error").is_none(), "batch {batch}: {message}");
        let turn = &message["params"]["turn"];
        assert_eq!(turn["status"], "completed", "batch {batch}: {message}");
        let id = turn["id"].as_str().unwrap().to_owned();
        assert!(ended.insert(id), "a second turn/completed: {message}");
        done += 1;
    }
}

/// A sample once the server is between turns: its descriptor count has come back to what it
/// holds at rest (a finished turn's socket and files are closed as its follower ends, which
/// may be just after `turn/completed`), within a bound.
fn settled_sample(pid: u32, turns: usize) -> Sample {
    let mut last = open_fds(pid);
    // Settled: two reads in a row agree (the follower's close is not awaited by the wire).
    wait_until(
        Duration::from_secs(5),
        "the descriptor count to settle",
        || {
            let now = open_fds(pid);
            let same = now == last;
            last = now;
            same.then_some(())
        },
    );
    (turns, status_kib(pid, "VmRSS:"), last)
}
