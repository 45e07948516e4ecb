//! Warm spares (`warm_spare = true`, kind `codex`): a turn takes a `codex app-server` that a
//! spare started before the turn existed, and initialized (and, after a turn that started a
//! new thread, opened a thread with its settings) before the turn existed; a new spare
//! replaces it, a turn with other settings gets its own thread in the spare's process, a
//! continued thread still resumes its history, a spare for another working directory is
//! discarded (never used), and a server killed with SIGKILL leaves no spare behind. The real
//! Codex against the Responses mock, driven through the real binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::real_codex::{CodexHost, has_message};
use crate::support::mock_responses::{Output, Reply};
use crate::support::procs::{alive, assert_all_gone};
use crate::support::{Describe, wait_until};

/// How long a spare may take to start its backend and record it.
const SPARE_TIMEOUT: Duration = Duration::from_secs(30);

/// A host whose provider `app` (kind `codex`) keeps a warm spare; `replies` answers.
fn spare_host(replies: usize) -> CodexHost {
    spare_host_with(replies, json!({}))
}

/// As [`spare_host`], with `extra` in the host thread's `thread/start` params.
fn spare_host_with(replies: usize, extra: Value) -> CodexHost {
    let script = (0..replies)
        .map(|i| Reply::Complete {
            outputs: vec![Output::Message(format!("Answer {i}."))],
            usage: (20, 0, 5),
        })
        .collect();
    CodexHost::of_kind_with_keys(
        script,
        "app",
        "codex",
        extra,
        &BTreeMap::new(),
        "warm_spare = true",
    )
}

/// A spare as its `spare.json` shows it once its runner started the backend.
#[derive(Debug, Clone, PartialEq)]
struct SpareSeen {
    dir: PathBuf,
    id: String,
    cwd: String,
    runner: (i32, u64),
    backend: (i32, u64),
    started_at_ms: u64,
    /// When Codex answered the spare's `initialize`.
    initialized_at_ms: Option<u64>,
    /// The Codex thread the spare started ahead.
    thread: Option<String>,
}

fn identity(record: &Value, who: &str) -> Option<(i32, u64)> {
    Some((
        record[who]["pid"].as_i64()? as i32,
        record[who]["startTime"].as_u64()?,
    ))
}

/// The spares under the host's state directory whose backend is recorded.
fn spares(host: &CodexHost) -> Vec<SpareSeen> {
    let dir = host.sandbox.state_dir().join("spares");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("spare.json")) else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let (Some(runner), Some(backend), Some(started_at_ms)) = (
            identity(&record, "runner"),
            identity(&record, "backend"),
            record["startedAtMs"].as_u64(),
        ) else {
            continue;
        };
        found.push(SpareSeen {
            dir: entry.path(),
            id: record["id"].as_str().unwrap_or_default().to_owned(),
            cwd: record["cwd"].as_str().unwrap_or_default().to_owned(),
            runner,
            backend,
            started_at_ms,
            initialized_at_ms: record["initializedAtMs"].as_u64(),
            thread: record["thread"].as_str().map(str::to_owned),
        });
    }
    found
}

/// Waits until exactly one spare other than `not` runs (its backend recorded and alive).
fn wait_spare(host: &CodexHost, not: Option<&SpareSeen>) -> SpareSeen {
    wait_spare_where(host, not, |_| true)
}

/// Waits until exactly one spare other than `not` runs and `ready` holds for it.
fn wait_spare_where(
    host: &CodexHost,
    not: Option<&SpareSeen>,
    ready: impl Fn(&SpareSeen) -> bool,
) -> SpareSeen {
    wait_until(
        SPARE_TIMEOUT,
        Describe(|| format!("one new live warm spare; seen: {:#?}", spares(host))),
        || {
            let live: Vec<SpareSeen> = spares(host)
                .into_iter()
                .filter(|s| not.is_none_or(|not| not.id != s.id))
                .filter(|s| alive(s.runner.0, s.runner.1) && alive(s.backend.0, s.backend.1))
                .collect();
            (live.len() == 1 && ready(&live[0])).then(|| live[0].clone())
        },
    )
}

/// Waits until one spare runs whose Codex answered its `initialize` and opened its thread,
/// all before any turn took it.
fn wait_warmed_spare(host: &CodexHost) -> SpareSeen {
    wait_spare_where(host, None, |s| {
        s.initialized_at_ms.is_some() && s.thread.is_some()
    })
}

/// The Codex thread a turn's backend opened: its one `backendSession` record (a thread the
/// spare opened and the turn did not take must not be named).
fn backend_session(host: &CodexHost, turn: &str) -> String {
    let events = std::fs::read_to_string(host.turn_dir(turn).join("events.jsonl")).unwrap();
    let sessions: Vec<String> = events
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["event"]["type"] == "backendSession")
        .map(|record| record["event"]["sessionId"].as_str().unwrap().to_owned())
        .collect();
    match sessions.as_slice() {
        [session] => session.clone(),
        _ => panic!("not one backendSession in turn {turn}:\n{events}"),
    }
}

#[test]
fn a_turn_takes_the_warm_spare_and_a_new_spare_replaces_it() {
    // The thread continues its Codex session: the warm turn must resume it.
    let mut host = spare_host_with(2, json!({"continueSession": true}));
    let (first, _) = host.completed_turn("first");
    // The first turn of the server had no spare: its backend was started for it.
    assert!(
        host.process_record(&first).get("spare").is_none(),
        "{}",
        host.process_record(&first)
    );
    let spare = wait_spare(&host, None);
    assert_eq!(
        spare.cwd,
        host.sandbox.work_dir().to_string_lossy(),
        "{spare:?}"
    );

    let (second, messages) = host.completed_turn("second");
    let record = host.process_record(&second);
    // The turn's backend is the spare's: same process, started before the turn existed, and
    // the record says whose it was.
    assert_eq!(record["spare"]["id"], spare.id, "{record}");
    assert_eq!(
        identity(&record, "backend"),
        Some(spare.backend),
        "{record}"
    );
    assert_eq!(identity(&record, "runner"), Some(spare.runner), "{record}");
    let turn_started_at = host.turn_file(&second, "turn.json")["startedAtMs"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}", host.turn_file(&second, "turn.json")));
    assert!(
        spare.started_at_ms <= turn_started_at,
        "spare started {} after the turn {turn_started_at}",
        spare.started_at_ms
    );
    // A turn like any other: the answer, the records, the logs moved into the turn.
    assert!(
        messages.iter().any(|m| m["method"] == "item/completed"
            && m["params"]["item"]["type"] == "agentMessage"
            && m["params"]["item"]["text"] == "Answer 1."),
        "{messages:#?}"
    );
    // The thread goes on: the spare's Codex resumed the first turn's thread and its history.
    assert_eq!(
        backend_session(&host, &second),
        backend_session(&host, &first)
    );
    let request = host.mock.wait_request(1, SPARE_TIMEOUT);
    assert!(has_message(&request, "user", "first"), "{request}");
    assert!(has_message(&request, "user", "second"), "{request}");
    let turn_dir = host.turn_dir(&second);
    for name in [
        "runner.log",
        "backend.stderr",
        "backend.stdout",
        "exit.json",
        "events.jsonl",
    ] {
        assert!(turn_dir.join(name).is_file(), "{name} missing in the turn");
    }
    assert!(!spare.dir.exists(), "the adopted spare's directory is left");
    // The turn's processes ended with it; a new spare, with processes of its own, waits.
    assert_all_gone(&[spare.runner, spare.backend], SPARE_TIMEOUT);
    let next = wait_spare(&host, Some(&spare));
    assert_ne!(next.backend, spare.backend);
}

#[test]
fn a_spare_initializes_its_codex_and_opens_a_thread_before_a_new_threads_turn_takes_it() {
    let mut host = spare_host(2);
    let (first, _) = host.completed_turn("first");
    // The first turn started a new Codex thread: the spare, before any turn exists, has
    // Codex initialized and a thread like that one opened.
    let spare = wait_warmed_spare(&host);
    assert!(
        spare.initialized_at_ms >= Some(spare.started_at_ms),
        "{spare:?}"
    );
    assert_ne!(
        spare.thread.as_deref(),
        Some(backend_session(&host, &first).as_str())
    );

    // A new thread with the same settings: its turn runs on the spare's thread, which has
    // seen no prompt before it.
    host.switch_thread("app", json!({}));
    let (second, messages) = host.completed_turn("second");
    let record = host.process_record(&second);
    assert_eq!(record["spare"]["id"], spare.id, "{record}");
    let turn_started_at = host.turn_file(&second, "turn.json")["startedAtMs"]
        .as_u64()
        .unwrap();
    let initialized_at = record["spare"]["initializedAtMs"]
        .as_u64()
        .unwrap_or_else(|| panic!("{record}"));
    assert!(initialized_at <= turn_started_at, "{record}");
    assert_eq!(Some(backend_session(&host, &second)), spare.thread);
    let request = host.mock.wait_request(1, SPARE_TIMEOUT);
    assert!(has_message(&request, "user", "second"), "{request}");
    assert!(!has_message(&request, "user", "first"), "{request}");
    assert!(
        messages
            .iter()
            .any(|m| m["method"] == "item/completed" && m["params"]["item"]["text"] == "Answer 1."),
        "{messages:#?}"
    );
}

#[test]
fn a_turn_with_other_settings_than_the_spares_thread_gets_them_on_its_own_thread() {
    let mut host = spare_host(2);
    host.completed_turn("first");
    let spare = wait_warmed_spare(&host);
    host.switch_thread("app", json!({"model": "other-model"}));
    let (second, _) = host.completed_turn("second");
    let record = host.process_record(&second);
    // The spare's process, with a thread of the turn's own.
    assert_eq!(record["spare"]["id"], spare.id, "{record}");
    assert_ne!(Some(backend_session(&host, &second)), spare.thread);
    let request = host.mock.wait_request(1, SPARE_TIMEOUT);
    assert_eq!(request["model"], "other-model", "{request}");
    assert!(has_message(&request, "user", "second"), "{request}");
}

#[test]
fn a_spare_for_another_working_directory_is_discarded_not_used() {
    let mut host = spare_host(2);
    host.completed_turn("first");
    let spare = wait_spare(&host, None);
    let other = host.sandbox.root().join("other-cwd");
    std::fs::create_dir_all(&other).unwrap();
    let turn = host.start_turn_params(json!({
        "input": [{"type": "text", "text": "elsewhere"}],
        "cwd": other.to_string_lossy(),
    }));
    let messages = host.until_completed(&turn);
    assert_eq!(
        messages.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{messages:#?}"
    );
    let record = host.process_record(&turn);
    assert!(record.get("spare").is_none(), "{record}");
    assert_ne!(identity(&record, "backend"), Some(spare.backend));
    // The spare of the first directory is gone, processes and directory; the next one is
    // for the new directory.
    assert_all_gone(&[spare.runner, spare.backend], SPARE_TIMEOUT);
    wait_until(
        SPARE_TIMEOUT,
        "the discarded spare's directory removed",
        || (!spare.dir.exists()).then_some(()),
    );
    let next = wait_spare(&host, Some(&spare));
    assert_eq!(next.cwd, other.to_string_lossy());
}

#[test]
fn a_server_killed_with_sigkill_leaves_no_spare_behind() {
    let mut host = spare_host(1);
    host.completed_turn("first");
    let spare = wait_spare(&host, None);
    host.server.kill();
    // The kernel closes the server's pipes: the spare stops its backend and itself.
    assert_all_gone(&[spare.runner, spare.backend], SPARE_TIMEOUT);
    wait_until(SPARE_TIMEOUT, "the spare's directory removed", || {
        (!spare.dir.exists()).then_some(())
    });
}

#[test]
fn a_server_that_exits_leaves_no_spare_behind() {
    let mut host = spare_host(1);
    host.completed_turn("first");
    let spare = wait_spare(&host, None);
    host.server.close_stdin();
    assert!(
        host.server.wait_exit(SPARE_TIMEOUT).is_some(),
        "the server did not exit on stdin EOF"
    );
    assert_all_gone(&[spare.runner, spare.backend], SPARE_TIMEOUT);
}
