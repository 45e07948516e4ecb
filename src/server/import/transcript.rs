//! Reading a Claude Code session transcript: `<config dir>/projects/<project>/<session>.jsonl`,
//! one JSON record per line, as Claude Code 2.1.330 writes it (`fixtures/claude-sessions/`).
//!
//! What is kept: the session id (every conversation record carries `sessionId`), the
//! working directory (`cwd`), a title (the last `custom-title` record, else the first line
//! of the first prompt, as Codex labels sessions), and the conversation as turns: each user
//! record whose content is the user's own text opens a turn, and each assistant text block
//! answers in it. Tool calls, tool results, thinking, meta, sidechain (subagent) and
//! compaction records and Claude's synthetic API error messages are not shown; Claude keeps
//! them in the session it resumes. A line that is not a JSON object is skipped.

use std::io::BufRead;

use serde_json::Value;

/// The longest title kept, in characters (Codex's limit).
const TITLE_MAX_CHARS: usize = 120;

/// A transcript as the import needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Transcript {
    pub session_id: String,
    pub cwd: String,
    pub title: Option<String>,
    /// The newest message time, unix milliseconds.
    pub latest_ms: Option<i64>,
    pub turns: Vec<TranscriptTurn>,
}

/// A prompt and the agent's answers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TranscriptTurn {
    pub prompt: Message,
    pub answers: Vec<Message>,
}

/// One message: its record's `uuid`, its text and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub uuid: Option<String>,
    pub text: String,
    pub at_ms: Option<i64>,
}

/// Why a file is not a Claude Code session transcript.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum NotATranscript {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("no record names a `sessionId`")]
    NoSession,
    #[error("no record names the session's `cwd`")]
    NoCwd,
    #[error("it holds no prompt of the user")]
    NoPrompt,
}

/// What one record is, for the conversation.
enum Record {
    Prompt(Message),
    Answer(Message),
    Title(String),
    Other,
}

/// Reads a transcript from `reader`.
pub(super) fn read(reader: impl BufRead) -> Result<Transcript, NotATranscript> {
    let mut session_id = None;
    let mut cwd = None;
    let mut custom_title = None;
    let mut turns: Vec<TranscriptTurn> = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|err| NotATranscript::Unreadable(err.to_string()))?;
        let Ok(Value::Object(record)) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let record = Value::Object(record);
        if session_id.is_none() {
            session_id = text_member(&record, "sessionId");
        }
        if cwd.is_none() {
            cwd = text_member(&record, "cwd");
        }
        match classify(&record) {
            Record::Prompt(prompt) => turns.push(TranscriptTurn {
                prompt,
                answers: Vec::new(),
            }),
            Record::Answer(answer) => {
                if let Some(turn) = turns.last_mut() {
                    turn.answers.push(answer);
                }
            }
            Record::Title(title) => custom_title = Some(title),
            Record::Other => {}
        }
    }
    let session_id = session_id.ok_or(NotATranscript::NoSession)?;
    let cwd = cwd.ok_or(NotATranscript::NoCwd)?;
    let first = turns.first().ok_or(NotATranscript::NoPrompt)?;
    let title = custom_title.or_else(|| Some(label(&first.prompt.text)));
    let latest_ms = turns
        .iter()
        .flat_map(|turn| std::iter::once(&turn.prompt).chain(&turn.answers))
        .filter_map(|message| message.at_ms)
        .max();
    Ok(Transcript {
        session_id,
        cwd,
        title,
        latest_ms,
        turns,
    })
}

fn text_member(record: &Value, key: &str) -> Option<String> {
    record[key]
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn flag(record: &Value, key: &str) -> bool {
    record[key].as_bool() == Some(true)
}

fn classify(record: &Value) -> Record {
    let kind = record["type"].as_str().unwrap_or_default();
    if kind == "custom-title" {
        return match text_member(record, "customTitle") {
            Some(title) if !title.trim().is_empty() => Record::Title(title.trim().to_owned()),
            _ => Record::Other,
        };
    }
    let hidden = [
        "isMeta",
        "isSidechain",
        "isCompactSummary",
        "isApiErrorMessage",
    ]
    .iter()
    .any(|key| flag(record, key));
    if hidden {
        return Record::Other;
    }
    let content = &record["message"]["content"];
    let text = match kind {
        "user"
            if content
                .as_array()
                .is_some_and(|blocks| has_tool_result(blocks)) =>
        {
            None
        }
        "user" | "assistant" => content_text(content),
        _ => None,
    };
    let Some(text) = text else {
        return Record::Other;
    };
    let message = Message {
        uuid: text_member(record, "uuid"),
        text,
        at_ms: record["timestamp"].as_str().and_then(parse_rfc3339_ms),
    };
    if kind == "user" {
        Record::Prompt(message)
    } else {
        Record::Answer(message)
    }
}

fn has_tool_result(blocks: &[Value]) -> bool {
    blocks.iter().any(|block| block["type"] == "tool_result")
}

/// The text of a message content: a string, or its text blocks joined by blank lines;
/// `None` when there is no text.
fn content_text(content: &Value) -> Option<String> {
    let text = match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|block| block["type"] == "text")
            .filter_map(|block| block["text"].as_str())
            .filter(|text| !text.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    };
    (!text.trim().is_empty()).then_some(text)
}

/// The first line of a prompt, at most [`TITLE_MAX_CHARS`] characters (cut with `...`).
fn label(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or_default().trim();
    if first_line.chars().count() <= TITLE_MAX_CHARS {
        return first_line.to_owned();
    }
    let kept: String = first_line.chars().take(TITLE_MAX_CHARS - 3).collect();
    format!("{kept}...")
}

/// An RFC 3339 time (`2026-12-05T13:05:55.132Z`, or with an offset) as unix milliseconds.
pub(super) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    let bytes = text.as_bytes();
    if separators
        .iter()
        .any(|&(at, want)| bytes.get(at).map(u8::to_ascii_uppercase) != Some(want))
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest.get(1..)?.split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded session: two prompts, the second answered around a Bash call.
    const RECORDED: &str = include_str!(
        "../../../fixtures/claude-sessions/41d68c6d-9f41-43bb-800c-37bf90366278.jsonl"
    );

    fn texts(turn: &TranscriptTurn) -> (String, Vec<String>) {
        let answers = turn.answers.iter().map(|m| m.text.clone()).collect();
        (turn.prompt.text.clone(), answers)
    }

    #[test]
    fn the_recorded_session_reads_as_its_two_prompts_and_their_text_answers() {
        let transcript = read(RECORDED.as_bytes()).unwrap();
        assert_eq!(
            transcript.session_id,
            "41d68c6d-9f41-43bb-800c-37bf90366278"
        );
        assert_eq!(transcript.cwd, "<work_dir>");
        assert_eq!(transcript.title.as_deref(), Some("remember the word kiwi"));
        let turns: Vec<_> = transcript.turns.iter().map(texts).collect();
        assert_eq!(
            turns,
            [
                (
                    "remember the word kiwi".to_owned(),
                    vec!["Noted: kiwi.".to_owned()]
                ),
                (
                    "run echo hello-from-claude".to_owned(),
                    vec![
                        "Running it.".to_owned(),
                        "It printed hello-from-claude.".to_owned()
                    ]
                ),
            ]
        );
        let first = &transcript.turns[0].prompt;
        assert_eq!(
            first.uuid.as_deref(),
            Some("01a2464f-a67d-7166-aa21-3a68861981fb")
        );
        assert_eq!(first.at_ms, parse_rfc3339_ms("2026-12-05T13:05:55.132Z"));
        assert_eq!(
            transcript.latest_ms,
            parse_rfc3339_ms("2026-12-05T13:05:55.747Z")
        );
    }

    #[test]
    fn hidden_records_and_a_custom_title_are_understood() {
        let lines = [
            r#"{"type":"assistant","sessionId":"s","cwd":"/p","message":{"content":"before any prompt"}}"#,
            r#"{"type":"user","message":{"content":"<meta>"},"isMeta":true}"#,
            r#"{"type":"user","message":{"content":[{"type":"text","text":"first"},{"type":"image"}]}}"#,
            r#"{"type":"assistant","isSidechain":true,"message":{"content":[{"type":"text","text":"subagent"}]}}"#,
            r#"{"type":"assistant","isApiErrorMessage":true,"message":{"content":[{"type":"text","text":"API Error"}]}}"#,
            r#"not json"#,
            r#"{"type":"custom-title","customTitle":" Named "}"#,
        ];
        let transcript = read(lines.join("\n").as_bytes()).unwrap();
        assert_eq!(transcript.title.as_deref(), Some("Named"));
        assert_eq!(
            transcript.turns.iter().map(texts).collect::<Vec<_>>(),
            [("first".to_owned(), Vec::new())]
        );
        assert_eq!(transcript.latest_ms, None);
    }

    #[test]
    fn a_file_without_session_cwd_or_prompt_is_not_a_transcript() {
        let read_text = |text: &str| read(text.as_bytes());
        assert_eq!(read_text(r#"{"hello":1}"#), Err(NotATranscript::NoSession));
        assert_eq!(
            read_text(r#"{"type":"user","sessionId":"s","message":{"content":"x"}}"#),
            Err(NotATranscript::NoCwd)
        );
        assert_eq!(
            read_text(r#"{"type":"summary","sessionId":"s","cwd":"/p"}"#),
            Err(NotATranscript::NoPrompt)
        );
    }

    #[test]
    fn a_long_first_line_is_cut_for_the_title() {
        let long = "x".repeat(130);
        assert_eq!(label(&format!("{long}\nsecond")).chars().count(), 120);
        assert!(label(&long).ends_with("..."));
        assert_eq!(label("  short  \nmore"), "short");
    }

    #[test]
    fn rfc3339_times_read_as_unix_milliseconds() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-12-05T13:05:55.132Z"),
            Some(1_796_475_955_132)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-12-05T14:05:55.1+01:00"),
            Some(1_796_475_955_100)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
        );
        for bad in [
            "",
            "2026-12-05",
            "2026-13-05T00:00:00Z",
            "2026-12-05T00:00:00",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
