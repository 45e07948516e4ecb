//! Reading a backend's stdout one line at a time, as every adapter does: each line is a JSON
//! object with a `type`; a line that is not one becomes a `warning` naming its number and is
//! skipped, never fatal.

use serde_json::Value;

use crate::events::Event;

/// The most characters of a bad line quoted in its warning.
const QUOTE_LIMIT: usize = 200;

/// The lines read so far from one backend process, numbered from 1 for the warnings.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    number: u64,
}

impl Lines {
    /// The next line as its `type` and its object; `None` for a blank line, or for a line that
    /// is not a typed JSON object, whose warning goes to `out`.
    pub(crate) fn read(&mut self, line: &[u8], out: &mut Vec<Event>) -> Option<(String, Value)> {
        self.number += 1;
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match typed_object(text) {
            Ok(read) => Some(read),
            Err(why) => {
                out.push(bad_line(self.number, text, &why));
                None
            }
        }
    }

    /// The next line as a JSON object of any shape (JSON-RPC messages have no `type`);
    /// `None` for a blank line, or for a line that is not a JSON object, whose warning goes to
    /// `out`.
    pub(crate) fn read_object(&mut self, line: &[u8], out: &mut Vec<Event>) -> Option<Value> {
        self.number += 1;
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() => Some(value),
            Ok(_) => {
                out.push(bad_line(self.number, text, "not a JSON object"));
                None
            }
            Err(err) => {
                out.push(bad_line(self.number, text, &err.to_string()));
                None
            }
        }
    }

    /// The warning for the line just read, skipped because of `why`.
    pub(crate) fn skipped(&self, line: &[u8], why: &str) -> Event {
        bad_line(self.number, &String::from_utf8_lossy(line), why)
    }
}

/// `text` as a JSON object with a `type` string, or why it is not one.
fn typed_object(text: &str) -> Result<(String, Value), String> {
    let value: Value = serde_json::from_str(text).map_err(|err| err.to_string())?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or("no \"type\" member")?
        .to_owned();
    Ok((kind, value))
}

/// The warning recorded for a backend line that is skipped.
fn bad_line(line_number: u64, text: &str, why: &str) -> Event {
    let text = text.trim();
    let mut quoted: String = text.chars().take(QUOTE_LIMIT).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    Event::Warning {
        message: format!("skipped backend output line {line_number}: {why}: {quoted}"),
    }
}

/// The string member `name` of `value`; empty when it is missing or not a string.
pub(crate) fn str_field(value: &Value, name: &str) -> String {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
