//! List cursors: opaque to clients, readable to people, stable across processes.
//!
//! A cursor names the last thread of a page by its sort value and id, the way Codex does:
//! `2026-11-23T07:55:45Z|<id>` when sorting by creation time (whole seconds) and
//! `2026-11-23T07:55:45.468Z|<id>` when sorting by update time (milliseconds). The next page
//! starts strictly after that key (keyset pagination, ties broken by id), so a page never
//! repeats or skips a thread even while others are added.

use uuid::Uuid;

use super::SortKey;

/// A decoded cursor: the sort key value and id of the last thread already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Unix seconds for [`SortKey::CreatedAt`], unix milliseconds for [`SortKey::UpdatedAt`].
    pub value: i64,
    pub id: Uuid,
}

/// Formats the cursor that follows a thread with sort `value` and `id`.
pub fn encode(sort_key: SortKey, value: i64, id: Uuid) -> String {
    let hyphenated = id.hyphenated();
    match sort_key {
        SortKey::CreatedAt => format!(
            "{}|{hyphenated}",
            format_rfc3339(value * 1000, Precision::Seconds)
        ),
        SortKey::UpdatedAt => format!("{}|{hyphenated}", format_rfc3339(value, Precision::Millis)),
    }
}

/// Parses a cursor for `sort_key`; `None` if it is malformed.
pub fn decode(sort_key: SortKey, cursor: &str) -> Option<Cursor> {
    let (time, id) = cursor.split_once('|')?;
    let unix_ms = parse_rfc3339(time)?;
    let id = Uuid::try_parse(id).ok()?;
    let value = match sort_key {
        SortKey::CreatedAt => unix_ms.div_euclid(1000),
        SortKey::UpdatedAt => unix_ms,
    };
    Some(Cursor { value, id })
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`, as cursors spell them.
pub fn rfc3339_seconds(unix_seconds: i64) -> String {
    format_rfc3339(unix_seconds.saturating_mul(1000), Precision::Seconds)
}

#[derive(Debug, Clone, Copy)]
enum Precision {
    Seconds,
    Millis,
}

fn format_rfc3339(unix_ms: i64, precision: Precision) -> String {
    let seconds = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    match precision {
        Precision::Seconds => {
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
        }
        Precision::Millis => {
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` into unix milliseconds (fraction truncated).
fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes.last() != Some(&b'Z') {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(at, byte)| bytes[at] != byte) {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    let hour = digits(&bytes[11..13])?;
    let minute = digits(&bytes[14..16])?;
    let second = digits(&bytes[17..19])?;
    let rest = &bytes[19..bytes.len() - 1];
    let millis = match rest {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let mut padded = [b'0'; 3];
            for (slot, byte) in padded.iter_mut().zip(fraction) {
                *slot = *byte;
            }
            digits(fraction)?;
            digits(&padded)?
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + i64::from(byte - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_codex() {
        let id = Uuid::parse_str("01a20770-1af9-7163-b5bb-a930e02b765d").unwrap();
        assert_eq!(
            encode(SortKey::CreatedAt, 1_795_421_117, id),
            "2026-11-23T08:05:17Z|01a20770-1af9-7163-b5bb-a930e02b765d"
        );
        assert_eq!(
            encode(SortKey::UpdatedAt, 1_795_421_115_850, id),
            "2026-11-23T08:05:15.850Z|01a20770-1af9-7163-b5bb-a930e02b765d"
        );
    }

    #[test]
    fn round_trips() {
        let id = Uuid::now_v7();
        for value in [0, 1, 951_782_400, 1_795_421_117, 4_102_444_799] {
            let text = encode(SortKey::CreatedAt, value, id);
            assert_eq!(
                decode(SortKey::CreatedAt, &text),
                Some(Cursor { value, id }),
                "{text}"
            );
        }
        for value in [0, 999, 1_795_421_115_850, 951_868_799_999] {
            let text = encode(SortKey::UpdatedAt, value, id);
            assert_eq!(
                decode(SortKey::UpdatedAt, &text),
                Some(Cursor { value, id }),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_malformed() {
        let id = "01a20770-1af9-7163-b5bb-a930e02b765d";
        for bad in [
            "not-a-valid-cursor".to_owned(),
            String::new(),
            "|".to_owned(),
            format!("2026-11-23T08:05:17Z|{id}x"),
            format!("2026-11-23T08:05:17|{id}"),
            format!("2026-13-23T08:05:17Z|{id}"),
            format!("2026-02-29T08:05:17Z|{id}"),
            format!("2026-11-23T24:05:17Z|{id}"),
            format!("2026-11-23T08:05:17.Z|{id}"),
            format!("2026-11-23T08:05:17.1234567890Z|{id}"),
            format!("+026-11-23T08:05:17Z|{id}"),
            "2026-11-23T08:05:17Z|".to_owned(),
        ] {
            assert_eq!(decode(SortKey::CreatedAt, &bad), None, "{bad}");
        }
    }
}
