//! The canonical event log `events.jsonl`: the runner's appender and everyone's reader.
//!
//! The writer appends one record per `write(2)` (no user-space buffer, so a record is in the
//! kernel as soon as `append` returns) and fsyncs at terminal records. The reader takes
//! complete lines only: a last line without its newline is incomplete (the writer may be
//! mid-write or dead) and is left for later; a complete line that does not parse is reported
//! and skipped.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::events::{Event, EventRecord, RECORD_VERSION, check_version, now_ms};

/// The file name of the event log inside a turn directory.
pub use crate::store::turn_dir::EVENTS_FILE;

/// Whether an appended record must reach the disk before `append` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// In the kernel (survives our crash).
    Flushed,
    /// On the disk (survives a power loss).
    Synced,
}

/// The runner's appender.
#[derive(Debug)]
pub struct EventLog {
    file: File,
    next_seq: u64,
}

impl EventLog {
    /// Opens (creating) the log of `turn_dir` for appending, continuing after its last record.
    pub fn open(turn_dir: &Path) -> io::Result<EventLog> {
        let path = turn_dir.join(EVENTS_FILE);
        let existing = read_all(&path)?;
        let next_seq = existing.records.last().map_or(1, |r| r.seq + 1);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .mode(crate::atomic_file::PRIVATE_FILE_MODE)
            .open(&path)?;
        // Cut an incomplete last line left by a crash, so that the next record starts clean.
        if existing.complete_len < file.metadata()?.len() {
            file.set_len(existing.complete_len)?;
            file.seek(SeekFrom::End(0))?;
        }
        Ok(EventLog { file, next_seq })
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends one record and returns it with its line.
    pub fn append(
        &mut self,
        event: Event,
        durability: Durability,
    ) -> io::Result<(EventRecord, String)> {
        self.append_at(event, now_ms(), durability)
    }

    /// Appends one record stamped `at_ms` (the `turnEnded` record carries the exit record's
    /// time, so that a reader synthesizing it from `exit.json` gets the same record).
    pub fn append_at(
        &mut self,
        event: Event,
        at_ms: u64,
        durability: Durability,
    ) -> io::Result<(EventRecord, String)> {
        let record = EventRecord {
            v: RECORD_VERSION,
            seq: self.next_seq,
            at_ms,
            event,
        };
        let mut line = serde_json::to_string(&record).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        match durability {
            Durability::Flushed => {}
            Durability::Synced => self.file.sync_data()?,
        }
        self.next_seq += 1;
        line.pop();
        Ok((record, line))
    }
}

/// What a read of the log found.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub records: Vec<EventRecord>,
    /// Complete lines that did not parse (or had an unknown version), with their problem.
    pub bad_lines: Vec<String>,
    /// The byte length of the complete lines read (where the next read starts).
    pub complete_len: u64,
}

/// Reads every complete record of the log at `path` (a missing file reads as empty).
pub fn read_all(path: &Path) -> io::Result<ReadResult> {
    read_from(path, 0)
}

/// Reads the complete records that start at byte `offset` or later.
pub fn read_from(path: &Path, offset: u64) -> io::Result<ReadResult> {
    let mut result = ReadResult {
        complete_len: offset,
        ..ReadResult::default()
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(result),
        Err(err) => return Err(err),
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut start = 0;
    while let Some(newline) = bytes[start..].iter().position(|&b| b == b'\n') {
        let line = &bytes[start..start + newline];
        start += newline + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line) {
            Ok(record) => result.records.push(record),
            Err(problem) => {
                tracing::warn!(path = %path.display(), %problem, "skipping a bad event log line");
                result.bad_lines.push(problem);
            }
        }
    }
    result.complete_len = offset + start as u64;
    Ok(result)
}

/// Parses one complete line of the log.
pub fn parse_line(line: &[u8]) -> Result<EventRecord, String> {
    #[derive(serde::Deserialize)]
    struct Version {
        v: u32,
    }
    // One full parse on the hot path; only a line that does not read is probed for its
    // version, so that a record of a newer version is reported as such.
    match serde_json::from_slice::<EventRecord>(line) {
        Ok(record) => {
            check_version(record.v, "an event record")?;
            Ok(record)
        }
        Err(err) => {
            if let Ok(version) = serde_json::from_slice::<Version>(line) {
                check_version(version.v, "an event record")?;
            }
            Err(format!("not an event record: {err}"))
        }
    }
}
