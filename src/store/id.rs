//! Thread and turn ids: UUIDs, validated before they touch any path.
//!
//! Codex rejects a malformed id with the `uuid` crate's parse error as it read in the 1.x
//! releases Codex builds with (``invalid character: expected an optional prefix of
//! `urn:uuid:` followed by [0-9a-fA-F-], found `n` at 1``). Newer `uuid` releases word their
//! errors differently, so the message is computed here, by the same rules, to stay
//! byte-identical on the wire.

use uuid::Uuid;

/// What an id names; it only changes the wording of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Thread,
    Turn,
}

/// A string that is not a UUID. Displays as Codex does: `invalid thread id: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} id: {reason}", match .kind { IdKind::Thread => "thread", IdKind::Turn => "turn" })]
pub struct IdError {
    pub kind: IdKind,
    /// The parse error, worded like the `uuid` crate's 1.x `Display`.
    pub reason: String,
}

/// Parses a thread id. The error text matches Codex's for non-UUIDs.
pub fn parse_id(s: &str) -> Result<Uuid, IdError> {
    parse_kind(s, IdKind::Thread)
}

/// Parses a turn id (same rules as [`parse_id`], worded `invalid turn id: …`).
pub fn parse_turn_id(s: &str) -> Result<Uuid, IdError> {
    parse_kind(s, IdKind::Turn)
}

/// Returns a fresh time-ordered id (UUIDv7) for a new thread or turn.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

fn parse_kind(s: &str, kind: IdKind) -> Result<Uuid, IdError> {
    Uuid::parse_str(s).map_err(|_| IdError {
        kind,
        reason: legacy_parse_error(s),
    })
}

/// The reason `uuid` 1.x (before its errors were reworded) gave for rejecting `input`.
fn legacy_parse_error(input: &str) -> String {
    let (body, offset, simple) = if let Some(inner) = input
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    {
        (inner, 1, false)
    } else if let Some(inner) = input.strip_prefix("urn:uuid:") {
        (inner, "urn:uuid:".len(), false)
    } else {
        (input, 0, true)
    };
    let mut hyphens = 0usize;
    let mut group_ends = [0usize; 4];
    for (index, character) in body.char_indices() {
        if character == '-' {
            if let Some(end) = group_ends.get_mut(hyphens) {
                *end = index;
            }
            hyphens += 1;
        } else if !character.is_ascii_hexdigit() {
            return format!(
                "invalid character: expected an optional prefix of `urn:uuid:` followed by \
                 [0-9a-fA-F-], found `{character}` at {}",
                index + offset + 1
            );
        }
    }
    if hyphens == 0 && simple {
        return format!(
            "invalid length: expected length 32 for simple format, found {}",
            input.len()
        );
    }
    if hyphens != 4 {
        return format!("invalid group count: expected 5, found {}", hyphens + 1);
    }
    const GROUP_STARTS: [usize; 5] = [0, 9, 14, 19, 24];
    const GROUP_LENGTHS: [usize; 5] = [8, 4, 4, 4, 12];
    for (group, end) in group_ends.iter().enumerate() {
        if *end != GROUP_STARTS[group + 1] - 1 {
            return format!(
                "invalid group length in group {group}: expected {}, found {}",
                GROUP_LENGTHS[group],
                end.saturating_sub(GROUP_STARTS[group])
            );
        }
    }
    // All four hyphens are in place, so the last group has the wrong length (the uuid crate
    // measured it against the whole input, prefix included; so do we).
    format!(
        "invalid group length in group 4: expected 12, found {}",
        input.len().saturating_sub(GROUP_STARTS[4])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_error(s: &str) -> String {
        parse_id(s).unwrap_err().to_string()
    }

    #[test]
    fn accepts_uuids_and_normalises_case() {
        let id = new_id();
        assert_eq!(parse_id(&id.to_string()).unwrap(), id);
        let upper = id.to_string().to_uppercase();
        assert_eq!(parse_id(&upper).unwrap().to_string(), id.to_string());
    }

    #[test]
    fn rejects_like_codex() {
        assert_eq!(
            thread_error("not-a-uuid"),
            "invalid thread id: invalid character: expected an optional prefix of `urn:uuid:` \
             followed by [0-9a-fA-F-], found `n` at 1"
        );
        assert_eq!(
            thread_error("abc"),
            "invalid thread id: invalid length: expected length 32 for simple format, found 3"
        );
        assert_eq!(
            thread_error(""),
            "invalid thread id: invalid length: expected length 32 for simple format, found 0"
        );
        assert_eq!(
            thread_error("0000-0000"),
            "invalid thread id: invalid group count: expected 5, found 2"
        );
        assert_eq!(
            thread_error("0190a-0000-0000-0000-000000000000"),
            "invalid thread id: invalid group length in group 0: expected 8, found 5"
        );
        assert_eq!(
            thread_error("00000000-0000-0000-0000-0000000000001"),
            "invalid thread id: invalid group length in group 4: expected 12, found 13"
        );
        assert_eq!(
            thread_error("../../etc"),
            "invalid thread id: invalid character: expected an optional prefix of `urn:uuid:` \
             followed by [0-9a-fA-F-], found `.` at 1"
        );
        assert_eq!(
            parse_turn_id("x").unwrap_err().to_string(),
            "invalid turn id: invalid character: expected an optional prefix of `urn:uuid:` \
             followed by [0-9a-fA-F-], found `x` at 1"
        );
    }
}
