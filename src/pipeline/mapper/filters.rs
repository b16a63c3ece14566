//! hubflow's template filters, registered on every [`FieldMap`](super::FieldMap) environment.
//!
//! Every filter takes plain [`Value`] arguments and checks their kinds itself, so that no
//! input (numbers, `none`, sequences, maps, undefined) can reach a conversion that panics;
//! wrong kinds become errors. Failures carry a [`Failure`] as the error source so that the
//! mapper can turn them into the matching [`MapError`](super::MapError) variant.

use std::fmt;

use chrono::format::{DelayedFormat, Fixed, Item, Numeric, StrftimeItems};
use chrono::{DateTime, Offset, TimeZone, Utc};

use crate::condition::parse_instant;
use chrono_tz::Tz;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value};

/// The filters hubflow adds or replaces, for hints and suggestions.
pub(super) const HUBFLOW_FILTERS: &[&str] =
    &["phone", "date", "default", "upper", "lower", "truncate"];

/// Longest value quoted in an error message; record values can be arbitrarily large.
const MAX_QUOTED: usize = 64;

/// Registers hubflow's filters, replacing minijinja's `default`, `d`, `upper` and `lower`
/// so that JSON `null` behaves like a missing value (see the module docs of the mapper).
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("phone", phone);
    env.add_filter("date", date);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("upper", upper);
    env.add_filter("lower", lower);
    env.add_filter("truncate", truncate);
}

/// Why a hubflow filter refused its input; travels as the source of a minijinja error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// `phone` could not make an E.164 number out of `value`.
    Phone { value: String, reason: String },
    /// `date` could not read `value` as an instant.
    Date { value: String, reason: String },
    /// A filter was called with arguments it cannot use.
    Filter {
        filter: &'static str,
        message: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Phone { value, reason } => {
                write!(f, "invalid phone number {value:?}: {reason}")
            }
            Failure::Date { value, reason } => write!(f, "invalid date {value:?}: {reason}"),
            Failure::Filter { filter, message } => write!(f, "filter {filter}: {message}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        Error::new(ErrorKind::InvalidOperation, failure.to_string()).with_source(failure)
    }
}

fn undefined() -> Error {
    Error::from(ErrorKind::UndefinedError)
}

/// A short, human-readable rendering of a value for error messages.
pub(super) fn quote(value: &Value) -> String {
    let text = match value.kind() {
        ValueKind::Undefined => "undefined".to_owned(),
        ValueKind::None => "null".to_owned(),
        _ => value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned),
    };
    cut(&text, MAX_QUOTED)
}

/// At most `max` chars of `text`, the last one `…` when something was cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    match max {
        0 => String::new(),
        _ => text.chars().take(max - 1).chain(['…']).collect(),
    }
}

/// The text of a value for the string filters: JSON `null` is empty, a missing value
/// stays an undefined error so that it is reported as a missing field.
fn text_of(value: &Value) -> Result<String, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(undefined()),
        ValueKind::None => Ok(String::new()),
        _ => Ok(value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned)),
    }
}

/// `upper`: upper-cases the text of any value; `null` gives an empty string.
pub(super) fn upper(value: Value) -> Result<String, Error> {
    text_of(&value).map(|s| s.to_uppercase())
}

/// `lower`: lower-cases the text of any value; `null` gives an empty string.
pub(super) fn lower(value: Value) -> Result<String, Error> {
    text_of(&value).map(|s| s.to_lowercase())
}

/// `truncate(n)`: at most `n` chars, the last one `…` when the text was cut.
pub(super) fn truncate(value: Value, length: Value) -> Result<String, Error> {
    if length.is_undefined() {
        return Err(undefined());
    }
    let text = text_of(&value)?;
    let max = non_negative(&length).ok_or_else(|| Failure::Filter {
        filter: "truncate",
        message: format!(
            "the length must be a non-negative integer, got {}",
            quote(&length)
        ),
    })?;
    Ok(cut(&text, max))
}

/// The value as a `usize` when it is a non-negative integer (an integral float counts).
pub(super) fn non_negative(value: &Value) -> Option<usize> {
    if value.kind() != ValueKind::Number {
        return None;
    }
    value
        .as_i64()
        .and_then(|n| usize::try_from(n).ok())
        .or_else(|| {
            let f = f64::try_from(value.clone()).ok()?;
            // Only exact integers in the safe range convert; the cast is then lossless.
            (f.fract() == 0.0 && (0.0..9.0e15).contains(&f)).then_some(f as usize)
        })
}

/// `default(v, boolean)`: `v` (or `""`) when the value is missing or JSON `null`; with a
/// true second argument also when it is falsy (`false`, `0`, `""`, empty list or map).
pub(super) fn default(value: Value, args: Rest<Value>) -> Result<Value, Error> {
    if args.len() > 2 || args.iter().any(Value::is_kwargs) {
        return Err(Failure::Filter {
            filter: "default",
            message: "takes at most two positional arguments: default(value, boolean)".into(),
        }
        .into());
    }
    let lax = args.get(1).is_some_and(Value::is_true);
    if value.is_undefined() || value.is_none() || (lax && !value.is_true()) {
        Ok(args.first().cloned().unwrap_or_else(|| Value::from("")))
    } else {
        Ok(value)
    }
}

/// A phone-number region from an ISO 3166 alpha-2 code (shared with the targets that
/// normalise numbers themselves).
pub(super) use crate::pipeline::phone::region;

/// `phone(country)`: E.164 digits without `+`, as the WhatsApp Cloud API wants them.
pub(super) fn phone(value: Value, country: Value) -> Result<String, Error> {
    if value.is_undefined() || country.is_undefined() {
        return Err(undefined());
    }
    let code = country.as_str().ok_or_else(|| Failure::Filter {
        filter: "phone",
        message: format!(
            "the country must be an ISO 3166 alpha-2 code like 'BR', got {}",
            quote(&country)
        ),
    })?;
    let id = region(code).ok_or_else(|| Failure::Filter {
        filter: "phone",
        message: format!("unknown country code {code:?}; expected ISO 3166 alpha-2 like 'BR'"),
    })?;
    let invalid = |reason: &str| Failure::Phone {
        value: quote(&value),
        reason: reason.to_owned(),
    };
    let raw = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        ValueKind::Number => match value.as_i64() {
            Some(n) if n > 0 => n.to_string(),
            _ => return Err(invalid("expected a positive integer or a string").into()),
        },
        _ => return Err(invalid("expected a string or a number").into()),
    };
    crate::pipeline::phone::e164(&raw, id)
        .map(|number| number.digits)
        .map_err(|reason| invalid(&reason).into())
}

/// The items of a chrono strftime string, or why it is invalid. Formatting with an
/// `Item::Error` fails (and `to_string` would panic), so formats are checked first.
pub(super) fn strftime(format: &str) -> Result<Vec<Item<'_>>, String> {
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, Item::Error)) {
        Err(format!(
            "invalid date format {format:?}; use chrono strftime specifiers like %d/%m/%Y %H:%M"
        ))
    } else {
        Ok(items)
    }
}

/// An IANA time zone name, e.g. `America/Sao_Paulo`.
pub(super) fn time_zone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("unknown time zone {name:?}; use an IANA name like America/Sao_Paulo or UTC")
    })
}

/// `date(format, time_zone)`: formats an instant with a strftime `format` in `time_zone`
/// (IANA name, UTC when omitted).
pub(super) fn date(value: Value, format: Value, rest: Rest<Value>) -> Result<String, Error> {
    let zone = rest.first().cloned().unwrap_or_else(|| Value::from(()));
    if value.is_undefined() || format.is_undefined() || zone.is_undefined() {
        return Err(undefined());
    }
    let misuse = |message: String| Failure::Filter {
        filter: "date",
        message,
    };
    if rest.len() > 1 || format.is_kwargs() || zone.is_kwargs() {
        return Err(
            misuse("takes two positional arguments: date(format, time_zone)".into()).into(),
        );
    }
    let format = format.as_str().ok_or_else(|| {
        misuse(format!(
            "the format must be a string, got {}",
            quote(&format)
        ))
    })?;
    let items = strftime(format).map_err(misuse)?;
    let tz = match zone.kind() {
        ValueKind::None => Tz::UTC,
        _ => match zone.as_str() {
            Some(name) => time_zone(name).map_err(misuse)?,
            None => {
                return Err(misuse(format!(
                    "the time zone must be a string, got {}",
                    quote(&zone)
                ))
                .into())
            }
        },
    };
    let instant = instant_of(&value).map_err(|reason| Failure::Date {
        value: quote(&value),
        reason,
    })?;
    format_in(instant, &tz, &items)
        .map_err(|_| misuse(format!("cannot format with {format:?}")).into())
}

/// `instant` written with strftime `items` in `tz`; an error when an item cannot be
/// written (chrono reports that rather than panicking only through `write_to`).
pub(super) fn format_in(
    instant: DateTime<Utc>,
    tz: &Tz,
    items: &[Item<'_>],
) -> Result<String, fmt::Error> {
    let mut out = String::new();
    let utc = instant.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix();
    match utc.checked_add_offset(offset) {
        // Given the zone, chrono first writes out its name for `%Z`; formats that show no
        // offset skip that, and write the local date and time alone.
        Some(local) if !items.iter().any(shows_offset) => {
            DelayedFormat::new(Some(local.date()), Some(local.time()), items.iter())
                .write_to(&mut out)?;
        }
        _ => instant
            .with_timezone(tz)
            .format_with_items(items.iter())
            .write_to(&mut out)?,
    }
    Ok(out)
}

/// Whether chrono needs the offset to write `item`: the zone's name and offset, whole
/// RFC dates, unix seconds (of the local date and time), and whatever is not known here.
fn shows_offset(item: &Item<'_>) -> bool {
    match item {
        Item::Literal(_) | Item::Space(_) | Item::OwnedLiteral(_) | Item::OwnedSpace(_) => false,
        Item::Numeric(numeric, _) => matches!(numeric, Numeric::Timestamp | Numeric::Internal(_)),
        Item::Fixed(fixed) => !matches!(
            fixed,
            Fixed::ShortMonthName
                | Fixed::LongMonthName
                | Fixed::ShortWeekdayName
                | Fixed::LongWeekdayName
                | Fixed::LowerAmPm
                | Fixed::UpperAmPm
                | Fixed::Nanosecond
                | Fixed::Nanosecond3
                | Fixed::Nanosecond6
                | Fixed::Nanosecond9
        ),
        Item::Error => true,
    }
}

/// The instant a value denotes: an instant string or unix seconds.
fn instant_of(value: &Value) -> Result<DateTime<Utc>, String> {
    match value.kind() {
        ValueKind::String => parse_instant(value.as_str().unwrap_or_default()).ok_or_else(|| {
            "expected RFC 3339, `YYYY-MM-DD HH:MM:SS` with an optional offset, a date, or unix seconds"
                .to_owned()
        }),
        ValueKind::Number => {
            let out_of_range = || "timestamp out of range".to_owned();
            if let Some(secs) = value.as_i64() {
                return DateTime::from_timestamp(secs, 0).ok_or_else(out_of_range);
            }
            let f = f64::try_from(value.clone()).map_err(|_| out_of_range())?;
            if !f.is_finite() || f.abs() > 1.0e13 {
                return Err(out_of_range());
            }
            // Bounded above, so both casts are exact enough and cannot saturate.
            let secs = f.floor();
            let nanos = ((f - secs) * 1.0e9) as u32;
            DateTime::from_timestamp(secs as i64, nanos.min(999_999_999)).ok_or_else(out_of_range)
        }
        _ => Err("expected a date string or unix seconds".to_owned()),
    }
}

/// Reads an instant in the forms sources send: RFC 3339, `2021-02-24T16:25:29+0000`,
/// `2024-01-08 10:35:18 +0200`, naive `2026-03-01 12:00:00` (taken as UTC) or a date
/// (midnight UTC).
#[cfg(test)]
mod tests;
