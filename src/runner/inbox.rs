//! The control inbox: `control.inbox` in the turn directory, the control channel of a runner
//! placed by an engine on another node, where the control socket cannot be reached.
//!
//! Whoever controls the turn appends one line per request,
//! `{"id":"…","request":{…a control socket request…}}`, written whole with one `write` in
//! append mode; the runner polls the file, hands each new complete line to its loop, and the
//! loop acknowledges it in the event log (`controlAcknowledged` with the same `id` and the
//! answer the socket would have given). A line without its newline is not read yet; a line
//! that does not parse is logged and skipped.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runner::control::ControlRequest;
use crate::runner::supervisor::Input;

/// The inbox's file name in the turn directory.
pub const INBOX_FILE: &str = "control.inbox";

/// How often the runner looks for new requests.
pub const POLL: Duration = Duration::from_millis(50);

/// One line of the inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxLine {
    pub id: String,
    pub request: ControlRequest,
}

/// Creates the (empty) inbox of a turn, owner-only; an existing one is kept.
pub fn create(turn_dir: &Path) -> io::Result<PathBuf> {
    let path = turn_dir.join(INBOX_FILE);
    crate::atomic_file::open_private_append(&path)?;
    Ok(path)
}

/// Appends one request to the inbox of `turn_dir` (one `write` of the whole line).
pub fn append(turn_dir: &Path, line: &InboxLine) -> io::Result<()> {
    use std::io::Write;
    let mut bytes = serde_json::to_vec(line).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(turn_dir.join(INBOX_FILE))?;
    file.write_all(&bytes)
}

/// Polls the inbox at `path` forever, sending each new request to the loop; returns when
/// the loop is gone.
pub fn poll(path: &Path, to_loop: &mpsc::Sender<Input>) {
    let mut offset = 0u64;
    let mut pending = Vec::new();
    loop {
        match read_from(path, offset, &mut pending) {
            Ok(read) => offset += read,
            Err(err) => tracing::warn!(%err, "cannot read the control inbox"),
        }
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<InboxLine>(&line) {
                Ok(InboxLine { id, request }) => {
                    if to_loop.send(Input::Inbox { id, request }).is_err() {
                        return;
                    }
                }
                Err(err) => tracing::warn!(%err, "skipped a bad control inbox line"),
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Reads what was appended after `offset` into `into`; returns how many bytes.
fn read_from(path: &Path, offset: u64, into: &mut Vec<u8>) -> io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let read = file.read_to_end(into)?;
    Ok(read as u64)
}
