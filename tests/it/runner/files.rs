//! Crash-shaped files read back without losing earlier records.

use std::io::Write;
use std::time::Duration;

use agent_host::atomic_file;
use agent_host::events::{Event, ExitRecord, TurnStatus};
use agent_host::runner::client::{self, read_exit_record};
use agent_host::runner::log::{self, Durability, EventLog};

use super::runtime;

#[test]
fn a_truncated_last_line_is_incomplete_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = EventLog::open(dir.path()).unwrap();
    for n in 0..3 {
        writer
            .append(
                Event::Warning {
                    message: format!("w{n}"),
                },
                Durability::Flushed,
            )
            .unwrap();
    }
    drop(writer);
    let path = dir.path().join(log::EVENTS_FILE);
    let whole_len = std::fs::metadata(&path).unwrap().len();
    // A writer that died mid-record.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(br#"{"v":1,"seq":4,"atMs":1,"event":{"type":"warn"#)
        .unwrap();
    drop(file);

    let read = log::read_all(&path).unwrap();
    assert_eq!(read.records.len(), 3);
    assert!(read.bad_lines.is_empty());
    assert_eq!(read.complete_len, whole_len);

    // A later writer cuts the torn tail and continues the seq without a gap.
    let mut writer = EventLog::open(dir.path()).unwrap();
    assert_eq!(writer.next_seq(), 4);
    writer
        .append(
            Event::Warning {
                message: "w3".into(),
            },
            Durability::Synced,
        )
        .unwrap();
    let read = log::read_all(&path).unwrap();
    let seqs: Vec<u64> = read.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);

    // A complete but bad line is reported and skipped; the records around it survive.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"garbage\n").unwrap();
    drop(file);
    let read = log::read_all(&path).unwrap();
    assert_eq!(read.records.len(), 4);
    assert_eq!(read.bad_lines.len(), 1);
}

#[test]
fn a_leftover_temp_file_from_a_crash_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exit = ExitRecord {
        v: 1,
        status: TurnStatus::Completed,
        reason: agent_host::events::EndReason::Completed,
        exit_code: Some(0),
        signal: None,
        error: None,
        last_seq: 4,
        ended_at_ms: 7,
    };
    atomic_file::write_json_atomic(&dir.path().join("exit.json"), &exit).unwrap();
    // A crash between the temp write and the rename of a second writer.
    std::fs::write(dir.path().join("exit.json.999.tmp"), b"{\"v\":1,\"sta").unwrap();
    assert_eq!(read_exit_record(dir.path()).unwrap(), Some(exit.clone()));

    // A crash before the first rename: only the temp file exists; no record, no error.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("exit.json.999.tmp"), b"{").unwrap();
    assert_eq!(read_exit_record(other.path()).unwrap(), None);

    // The file fallback of subscribe: three records, a torn line, exit.json, no runner.
    let mut writer = EventLog::open(dir.path()).unwrap();
    for n in 0..3 {
        writer
            .append(
                Event::Warning {
                    message: format!("w{n}"),
                },
                Durability::Flushed,
            )
            .unwrap();
    }
    let path = dir.path().join(log::EVENTS_FILE);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(br#"{"v":1,"seq":4,"atMs":1,"ev"#).unwrap();
    let got: Vec<_> = runtime().block_on(async {
        let mut rx = client::subscribe(dir.path(), 1).await.unwrap();
        let mut got = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            got.push(item.unwrap());
        }
        got
    });
    let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert!(
        got[3].is_turn_ended(),
        "synthesized from exit.json: {:?}",
        got[3]
    );
}
