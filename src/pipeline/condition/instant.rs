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
    strict_rfc3339(bytes).or_else(|| relaxed(s))
}

/// Every accepted form, through chrono's parsers.
pub(super) fn relaxed(s: &str) -> Option<DateTime<Utc>> {
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

/// The one form most sources send, `2026-03-01T12:00:00Z` with an optional fraction of up
/// to nine digits and `Z`, `±hh:mm` or `±hhmm`, read without chrono's general parser (a
/// good part of a mapping's time). `None` for anything else, including dates and times
/// that do not exist (a leap second, 24:00): chrono's reading then decides, so this only
/// ever gives what it would.
pub(super) fn strict_rfc3339(s: &[u8]) -> Option<DateTime<Utc>> {
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (date_time, rest) = s.split_at_checked(19)?;
    let [_, _, _, _, b'-', _, _, b'-', _, _, b'T', _, _, b':', _, _, b':', _, _] = date_time else {
        return None;
    };
    let year = i32::try_from(number(&s[0..4])?).ok()?;
    let (month, day) = (number(&s[5..7])?, number(&s[8..10])?);
    let (hour, minute, second) = (
        number(&s[11..13])?,
        number(&s[14..16])?,
        number(&s[17..19])?,
    );
    let (nanos, zone) = match rest.strip_prefix(b".") {
        Some(fraction) => {
            let len = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
            if !(1..=9).contains(&len) {
                return None;
            }
            // At most nine digits: the value and the scale stay below 10^9.
            let scale = 10u32.pow(9 - len as u32);
            (number(&fraction[..len])? * scale, &fraction[len..])
        }
        None => (0, rest),
    };
    let offset = match zone {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let (hours, minutes) = (number(&[*h1, *h2])?, number(&[*m1, *m2])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let local =
        NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = local.checked_sub_offset(FixedOffset::east_opt(offset)?)?;
    Some(utc.and_utc())
}
