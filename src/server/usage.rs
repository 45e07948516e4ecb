//! Token usage across a thread's turns, read back from their event logs.
//!
//! `thread/tokenUsage/updated.total` counts the whole thread, as in Codex. The runner writes
//! it into each `tokenUsage` record: the turn's `spec.json` carries the thread's total before
//! the turn (`previousTotalUsage`) and, when the turn resumes a backend session, that
//! session's own cumulative figure (`resumedSessionUsage`), from which a backend that reports
//! session totals (codex, across `exec resume`) is measured, so earlier turns of the session
//! are not counted twice.
//!
//! Both bases are derived at `turn/start` from the event logs of the thread's earlier turns,
//! which are the source of truth, rather than kept in a mutable counter: there is nothing to
//! keep in step, and every server on the state directory gets the same answer, after a
//! restart too. A running turn (also one re-attached after a restart) has its base in its
//! spec, so its records are already thread totals; `thread/resume` replays the newest
//! record; a fork copies the parent's logs and so starts from the parent's total.
//!
//! Cost: only the newest turn that reported usage is read (plus, for a resumed session, the
//! newest turn of that session, usually the same one), and its lines are told apart by the
//! record type at their start, so only `tokenUsage` and `backendSession` lines are parsed
//! (`docs/arch/usage.md` has the numbers).

use std::path::{Path, PathBuf};

use crate::events::{Event, TokenBreakdown};
use crate::runner;

/// One `tokenUsage` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub total: TokenBreakdown,
    pub last: TokenBreakdown,
    pub model_context_window: Option<u64>,
    pub session_total: Option<TokenBreakdown>,
}

/// What one turn's log says about usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TurnUsage {
    /// The backend session the turn ran in (its last `backendSession` record).
    pub session_id: Option<String>,
    /// The turn's last `tokenUsage` record.
    pub report: Option<Report>,
}

/// Where a new turn's counts start: the spec's `previousTotalUsage` and
/// `resumedSessionUsage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Base {
    pub thread_total: TokenBreakdown,
    /// `None` when the turn resumes no session, or no earlier turn of that session reported
    /// a session figure (it then counts from zero).
    pub session_total: Option<TokenBreakdown>,
}

/// The base of a turn that follows `turn_dirs` (the thread's earlier turns, newest first)
/// and resumes backend session `resume`, if any.
pub(crate) fn base<'a>(
    turn_dirs: impl IntoIterator<Item = &'a Path>,
    resume: Option<&str>,
) -> Base {
    let mut thread_total = None;
    let mut session_total = None;
    let mut session_found = resume.is_none();
    for dir in turn_dirs {
        if thread_total.is_some() && session_found {
            break;
        }
        let usage = read_turn_usage(dir);
        let Some(report) = usage.report else {
            continue;
        };
        if thread_total.is_none() {
            thread_total = Some(report.total);
        }
        if !session_found && usage.session_id.as_deref() == resume {
            session_total = report.session_total;
            session_found = true;
        }
    }
    Base {
        thread_total: thread_total.unwrap_or_default(),
        session_total,
    }
}

/// The newest `tokenUsage` record among `turn_dirs` (newest first), with the index of the
/// directory it was found in.
pub(crate) fn latest_report<'a>(
    turn_dirs: impl IntoIterator<Item = &'a Path>,
) -> Option<(usize, Report)> {
    turn_dirs
        .into_iter()
        .enumerate()
        .find_map(|(at, dir)| read_turn_usage(dir).report.map(|report| (at, report)))
}

/// Reads one turn's usage from its event log (a missing or unreadable log has none).
pub(crate) fn read_turn_usage(turn_dir: &Path) -> TurnUsage {
    let mut usage = TurnUsage::default();
    let path: PathBuf = turn_dir.join(runner::log::EVENTS_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return usage;
    };
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        // An incomplete last line is not a record yet.
        let Some(line) = line.strip_suffix(b"\n") else {
            break;
        };
        match event_type(line) {
            Some(b"tokenUsage" | b"backendSession") | None => {}
            Some(_) => continue,
        }
        let Ok(record) = runner::log::parse_line(line) else {
            continue;
        };
        match record.event {
            Event::BackendSession { session_id } => usage.session_id = Some(session_id),
            Event::TokenUsage {
                total,
                last,
                model_context_window,
                session_total,
            } => {
                usage.report = Some(Report {
                    total,
                    last,
                    model_context_window,
                    session_total,
                })
            }
            _ => {}
        }
    }
    usage
}

/// The `event.type` of a log line, read from where the runner writes it
/// (`{"v":…,"seq":…,"atMs":…,"event":{"type":"…"`) without parsing the line; `None` when it
/// is not there, and the line is parsed in full.
fn event_type(line: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = br#""event":{"type":""#;
    let head = &line[..line.len().min(128)];
    let at = head.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &line[at..];
    let end = rest.iter().position(|&b| b == b'"')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventRecord, RECORD_VERSION};

    fn breakdown(input: u64, output: u64) -> TokenBreakdown {
        TokenBreakdown {
            total_tokens: input + output,
            input_tokens: input,
            output_tokens: output,
            ..TokenBreakdown::default()
        }
    }

    fn usage(total: u64, last: u64, session: Option<u64>) -> Event {
        Event::TokenUsage {
            total: breakdown(total, 0),
            last: breakdown(last, 0),
            model_context_window: None,
            session_total: session.map(|s| breakdown(s, 0)),
        }
    }

    fn session(id: &str) -> Event {
        Event::BackendSession {
            session_id: id.into(),
        }
    }

    /// A turn directory whose log holds `events` (plus an item, which is skipped).
    fn turn(root: &Path, name: &str, events: Vec<Event>) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        let item = Event::ItemCompleted {
            item: serde_json::json!({"type": "agentMessage", "id": "a", "text": "tokenUsage"}),
        };
        for (seq, event) in std::iter::once(item).chain(events).enumerate() {
            let record = EventRecord {
                v: RECORD_VERSION,
                seq: seq as u64 + 1,
                at_ms: 1,
                event,
            };
            text.push_str(&serde_json::to_string(&record).unwrap());
            text.push('\n');
        }
        std::fs::write(dir.join(runner::log::EVENTS_FILE), text).unwrap();
        dir
    }

    #[test]
    fn the_type_is_read_from_the_start_of_the_line() {
        let record = EventRecord {
            v: RECORD_VERSION,
            seq: 12345,
            at_ms: u64::MAX,
            event: usage(1, 1, None),
        };
        let line = serde_json::to_vec(&record).unwrap();
        assert_eq!(event_type(&line), Some(&b"tokenUsage"[..]));
        assert_eq!(event_type(br#"{"event":{"kind":"x"}}"#), None);
    }

    #[test]
    fn a_turn_s_last_report_and_session_are_read_and_other_lines_skipped() {
        let root = tempfile::tempdir().unwrap();
        let dir = turn(
            root.path(),
            "t",
            vec![
                session("s1"),
                usage(10, 10, Some(10)),
                usage(30, 20, Some(30)),
            ],
        );
        let mut log = std::fs::read(dir.join(runner::log::EVENTS_FILE)).unwrap();
        // A line of another layout is parsed in full; an incomplete last line is ignored.
        log.extend_from_slice(
            br#"{"event":{"type":"tokenUsage","total":{"totalTokens":99,"inputTokens":99,"cachedInputTokens":0,"cacheWriteInputTokens":0,"outputTokens":0,"reasoningOutputTokens":0},"last":{"totalTokens":1,"inputTokens":1,"cachedInputTokens":0,"cacheWriteInputTokens":0,"outputTokens":0,"reasoningOutputTokens":0},"modelContextWindow":null},"v":1,"seq":5,"atMs":1}"#,
        );
        log.extend_from_slice(b"\n{\"v\":1,\"seq\":6,\"atMs\":1,\"event\":{\"type\":\"tokenUs");
        std::fs::write(dir.join(runner::log::EVENTS_FILE), log).unwrap();
        let read = read_turn_usage(&dir);
        assert_eq!(read.session_id.as_deref(), Some("s1"));
        let report = read.report.unwrap();
        assert_eq!(report.total.total_tokens, 99);
        assert_eq!(report.last.total_tokens, 1);
        assert_eq!(
            read_turn_usage(&root.path().join("none")),
            TurnUsage::default()
        );
    }

    #[test]
    fn the_base_is_the_newest_report_and_the_newest_report_of_the_resumed_session() {
        let root = tempfile::tempdir().unwrap();
        let t1 = turn(
            root.path(),
            "1",
            vec![session("s1"), usage(15, 15, Some(15))],
        );
        let t2 = turn(
            root.path(),
            "2",
            vec![session("s2"), usage(40, 25, Some(25))],
        );
        let t3 = turn(root.path(), "3", vec![session("s1")]);
        let newest_first = [t3.as_path(), t2.as_path(), t1.as_path()];
        assert_eq!(
            base(newest_first, None),
            Base {
                thread_total: breakdown(40, 0),
                session_total: None,
            }
        );
        assert_eq!(
            base(newest_first, Some("s1")),
            Base {
                thread_total: breakdown(40, 0),
                session_total: Some(breakdown(15, 0)),
            }
        );
        assert_eq!(
            base(newest_first, Some("s9")).session_total,
            None,
            "a session no turn ran in counts from zero"
        );
        assert_eq!(base([], Some("s1")), Base::default());
        assert_eq!(
            latest_report(newest_first).map(|(at, r)| (at, r.total.total_tokens)),
            Some((1, 40))
        );
    }
}
