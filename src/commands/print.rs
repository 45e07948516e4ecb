//! The operator commands' one way to stdout: JSON documents, JSON lines and aligned tables. A
//! closed stdout (`| head`) ends the output quietly.

use std::io::{self, Write};

use serde::Serialize;

/// Prints `value` as one pretty JSON document.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => line(&text),
        Err(err) => tracing::error!("cannot print JSON: {err}"),
    }
}

/// Prints one line.
pub fn line(text: &str) {
    // A closed stdout is not an error worth reporting: the reader has gone.
    let _ = writeln!(io::stdout().lock(), "{text}");
}

/// Prints a table: the header and the rows, columns aligned with two spaces between them.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let format_row = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            text.push_str(cell);
            if i < last {
                let pad = width - cell.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text
    };
    let mut out = io::stdout().lock();
    let lines = std::iter::once(format_row(header.to_vec())).chain(
        rows.iter()
            .map(|row| format_row(row.iter().map(String::as_str).collect())),
    );
    for text in lines {
        if writeln!(out, "{text}").is_err() {
            return; // the reader has gone
        }
    }
}
