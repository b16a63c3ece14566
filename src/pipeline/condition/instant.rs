//! The tolerant instant parser: every date and time form the providers send, as UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};

/// Reads an instant in any of the formats the providers send (see the condition module
/// docs, *Instants*); the one
/// tolerant date parser of the crate, shared with the mapper's `date` filter.
///
/// Naive date-times and bare dates are taken as UTC.
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // Every accepted format starts with a four-digit year and a dash; checking that first
    // keeps ordinary strings from going through several failed parses on every comparison.
    let bytes = s.as_bytes();
    if bytes.len() < 10 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    // chrono's relaxed RFC 3339 reading takes `T` or a space, `Z`, `UTC`, `+hh:mm`, `+hhmm`,
    // and a space before the offset.
    if let Ok(at) = s.parse::<DateTime<FixedOffset>>() {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}
