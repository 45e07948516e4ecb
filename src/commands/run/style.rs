//! How `agent-host run` decorates its text: ANSI colours and the status line, only when
//! stdout is a terminal and `NO_COLOR` is not set (<https://no-color.org>); plain text
//! otherwise, so that piped output has no escape codes.

use std::io::IsTerminal;
use std::time::Duration;

/// Whether the output is decorated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styling {
    /// Plain text: no escape codes, no status line.
    Plain,
    /// Colours and a status line.
    Terminal,
}

impl Styling {
    /// Decorated when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Styling {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        if std::io::stdout().is_terminal() && !no_color {
            Styling::Terminal
        } else {
            Styling::Plain
        }
    }

    /// `text` in `paint` (or as it is, when plain). Each line is painted on its own, so a
    /// line cleared by the status line never leaves a colour open.
    pub fn paint(self, paint: Paint, text: &str) -> String {
        match self {
            Styling::Plain => text.to_owned(),
            Styling::Terminal => text
                .split_inclusive('\n')
                .map(|line| {
                    let (body, end) = match line.strip_suffix('\n') {
                        Some(body) => (body, "\n"),
                        None => (line, ""),
                    };
                    format!("\x1b[{}m{body}\x1b[0m{end}", paint.code())
                })
                .collect(),
        }
    }
}

/// The decorations used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Dim,
    Bold,
    Green,
    Red,
    Yellow,
    Cyan,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Dim => "2",
            Paint::Bold => "1",
            Paint::Green => "32",
            Paint::Red => "31",
            Paint::Yellow => "33",
            Paint::Cyan => "36",
        }
    }
}

/// Erases the current line and returns to its start.
pub const CLEAR_LINE: &str = "\r\x1b[2K";

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The status line: a spinner, what the turn is doing, and how long it has been going.
pub fn status_line(frame: usize, doing: &str, elapsed: Duration) -> String {
    let spinner = SPINNER[frame % SPINNER.len()];
    format!(
        "{CLEAR_LINE}\x1b[36m{spinner}\x1b[0m {doing} \x1b[2m· {}\x1b[0m",
        seconds(elapsed)
    )
}

/// A duration as people read it: `0.4s`, `12.0s`, `3m 05s`.
pub fn seconds(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 60 {
        format!("{:.1}s", elapsed.as_secs_f64())
    } else {
        format!("{}m {:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_escape_codes_and_painted_lines_close_their_colour() {
        assert_eq!(Styling::Plain.paint(Paint::Red, "a\nb\n"), "a\nb\n");
        assert_eq!(
            Styling::Terminal.paint(Paint::Red, "a\nb"),
            "\x1b[31ma\x1b[0m\n\x1b[31mb\x1b[0m"
        );
    }

    #[test]
    fn durations_read_as_seconds_then_minutes() {
        assert_eq!(seconds(Duration::from_millis(400)), "0.4s");
        assert_eq!(seconds(Duration::from_secs(185)), "3m 05s");
        let line = status_line(1, "working", Duration::from_secs(2));
        assert!(
            line.starts_with(CLEAR_LINE) && line.contains("⠙\x1b[0m working"),
            "{line:?}"
        );
    }
}
