//! The stdio transport: the only code that touches stdin and stdout.
//!
//! The reader splits input into lines of any length up to a configured maximum; a longer
//! line is skipped to its end and reported, never buffered whole. Lines go to the event loop
//! through a bounded channel, so a busy loop slows reading down instead of losing replies.
//! The writer owns stdout: it writes each message as one line and flushes whenever its
//! queue runs empty.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::jsonrpc::Outgoing;

/// What the reader saw.
#[derive(Debug, PartialEq, Eq)]
pub enum InputLine {
    /// A complete line, without its newline (a last line without one counts too).
    Line(Vec<u8>),
    /// A line longer than the maximum; its bytes were dropped.
    TooLong { bytes: usize },
}

/// Reads lines from `input` and sends them on `lines` until EOF or until the receiver is
/// gone. Returns the IO error that ended reading, if any.
pub async fn read_lines<R>(
    mut input: R,
    max_line_bytes: usize,
    lines: mpsc::Sender<InputLine>,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
{
    let mut current: Vec<u8> = Vec::new();
    // Bytes of the current line seen so far, counted also while discarding an overlong one.
    let mut seen: usize = 0;
    let mut discarding = false;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            if seen > 0 {
                let last = finish(&mut current, &mut seen, &mut discarding);
                let _ = lines.send(last).await;
            }
            return Ok(());
        }
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (&buf[..at], true),
            None => (buf, false),
        };
        seen += chunk.len();
        if !discarding {
            if seen > max_line_bytes {
                discarding = true;
                current = Vec::new();
            } else {
                current.extend_from_slice(chunk);
            }
        }
        let consumed = chunk.len() + usize::from(newline);
        input.consume(consumed);
        if newline {
            let line = finish(&mut current, &mut seen, &mut discarding);
            if lines.send(line).await.is_err() {
                return Ok(());
            }
        }
    }
}

fn finish(current: &mut Vec<u8>, seen: &mut usize, discarding: &mut bool) -> InputLine {
    let line = if *discarding {
        InputLine::TooLong { bytes: *seen }
    } else {
        let mut line = std::mem::take(current);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        InputLine::Line(line)
    };
    *seen = 0;
    *discarding = false;
    line
}

/// Writes every message from `messages` to `output`, one line each, flushing whenever the
/// queue is empty. Ends when every sender is gone (after a final flush) or on an IO error.
pub async fn write_messages<W>(
    output: W,
    mut messages: mpsc::Receiver<Outgoing>,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    // Every write to tokio's stdout is a hand-off to its blocking pool; a buffer that holds a
    // dozen 64 KiB output deltas of `command/exec` batches them into one hand-off (a 64 KiB
    // buffer halved the streaming throughput). It is flushed whenever the queue is empty, so
    // a lone message waits for nothing.
    let mut output = tokio::io::BufWriter::with_capacity(1024 * 1024, output);
    // One line buffer, reused: no allocation per message.
    let mut line = Vec::new();
    while let Some(message) = messages.recv().await {
        write_one(&mut output, &mut line, &message).await?;
        while let Ok(more) = messages.try_recv() {
            write_one(&mut output, &mut line, &more).await?;
        }
        output.flush().await?;
    }
    output.flush().await
}

async fn write_one<W: AsyncWrite + Unpin>(
    output: &mut W,
    line: &mut Vec<u8>,
    message: &Outgoing,
) -> std::io::Result<()> {
    line.clear();
    message.write_line(line);
    output.write_all(line).await?;
    // A 64 KiB output delta of `command/exec` is the largest usual line; a buffer grown past
    // that by a rare huge message is not kept.
    if line.capacity() > 256 * 1024 {
        *line = Vec::new();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8], max: usize) -> Vec<InputLine> {
        let (tx, mut rx) = mpsc::channel(16);
        let reader = tokio::io::BufReader::with_capacity(4, input);
        read_lines(reader, max, tx).await.unwrap();
        let mut out = Vec::new();
        while let Some(line) = rx.recv().await {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_across_small_buffers_and_flags_long_ones() {
        let got = lines_of(b"ab\r\n0123456789\nxyz", 5).await;
        assert_eq!(
            got,
            vec![
                InputLine::Line(b"ab".to_vec()),
                InputLine::TooLong { bytes: 10 },
                InputLine::Line(b"xyz".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn empty_lines_are_lines() {
        let got = lines_of(b"\n\n", 5).await;
        assert_eq!(got, vec![InputLine::Line(vec![]), InputLine::Line(vec![])]);
    }
}
