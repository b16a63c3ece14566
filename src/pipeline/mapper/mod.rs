//! Mapping: turning a record into the payload a target sends.
//!
//! A [`FieldMap`] is built from a *shape*: any JSON value whose string leaves may be
//! [minijinja](https://docs.rs/minijinja) (Jinja2) templates. Every string leaf that
//! contains `{{` or `{%` is rendered against the record's `data`; everything else
//! (plain strings, numbers, booleans, `null`, object keys) is copied as it is. The output
//! has the same shape, with each template leaf replaced by its rendered **string**.
//!
//! # Addressing fields
//!
//! The top-level keys of `data` are the template variables. Nested values are reached
//! with attributes or subscripts, all of which work:
//!
//! * `{{ wo_folio }}`, `{{ chat.phone }}`
//! * `{{ messages[0].text }}`, `{{ messages.0.text }}`, `{{ chat["phone"] }}`
//!
//! Slices (`{{ text[8:] }}`) are not available on strings under strict undefined values;
//! to drop a prefix write `{{ text | replace('#request', '') | trim }}`.
//!
//! Templates are compiled once, in [`FieldMap::new`], with strict undefined values: a
//! field missing from the record is a [`MapError::MissingField`] naming the template's
//! JSON pointer and the dotted path of the field, never a silently empty string.
//!
//! # `null` and `default`
//!
//! Values print as text: numbers as written, booleans as `true`/`false`. JSON `null` is
//! treated as "no value": it prints as an empty string, and `default`
//! replaces it just like a missing field. `default` only rescues the *last* lookup of a
//! path: `{{ chat.phone | default('-') }}` gives `-` when `chat` has no `phone`, but
//! reports `chat.phone` as missing when there is no `chat` at all (write
//! `{{ chat.phone if chat is defined else '-' }}` for that).
//!
//! # Filters
//!
//! Besides minijinja's builtins (`trim`, `replace`, `title`, `join`, …) hubflow provides:
//!
//! | filter | example | output |
//! |---|---|---|
//! | `phone(country)` | `{{ "(11) 99999-1234" \| phone('BR') }}` | `5511999991234` |
//! | `date(format, time_zone)` | `{{ "2026-03-01T15:00:00Z" \| date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}` | `01/03/2026 12:00` |
//! | `default(v)` | `{{ missing \| default('-') }}` | `-` |
//! | `default(v, true)` | `{{ "" \| default('-', true) }}` | `-` |
//! | `upper`, `lower` | `{{ "Olá" \| upper }}` | `OLÁ` |
//! | `truncate(n)` | `{{ "Replace filter" \| truncate(8) }}` | `Replace…` |
//!
//! * `phone(country)` parses a string or integer with the phone-number metadata of
//!   libphonenumber, using `country` (ISO 3166 alpha-2) for numbers written without `+`.
//!   Spaces, dashes, dots, slashes, parentheses, a leading `+` or `00` are accepted. Numbers
//!   that are not valid for their country are [`MapError::InvalidPhone`]; an unknown
//!   `country` is a [`MapError::Filter`] (or a build error when written literally). The output is
//!   E.164 without the `+`, as the WhatsApp Cloud API wants it.
//! * `date(format, time_zone)` reads RFC 3339 (`2021-02-24T16:25:29Z`),
//!   `2021-02-24T16:25:29+0000`, `2024-01-08 10:35:18 +0200`, naive
//!   `2026-03-01 12:00:00` (UTC), a date (`2026-03-01`, midnight UTC) or a number of unix
//!   seconds, and writes it with a chrono strftime `format` in the IANA `time_zone` (UTC when
//!   omitted). Unreadable values are [`MapError::InvalidDate`]; a bad format or time zone
//!   is a [`MapError::Filter`].
//! * `default(v)` gives `v` (or `""`) for a missing or `null` value; `default(v, true)`
//!   also for falsy ones (`false`, `0`, `""`, empty lists and maps).
//! * `upper`, `lower` change the case of any value's text; `null` gives `""`.
//! * `truncate(n)` keeps at most `n` characters; when it cuts, the last one is `…`.
//!
//! No filter panics on any input: wrong kinds (lists, maps, `null` where a value is
//! needed) are errors.
//!
//! ```
//! use hubflow::{FieldMap, Mapper, Record};
//! use serde_json::json;
//!
//! let map = FieldMap::new(json!({
//!     "to": "{{ phone | phone('BR') }}",
//!     "when": "{{ at | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
//!     "who": "{{ name | default('-') | upper }}",
//!     "what": "{{ text | truncate(8) }}",
//! }))?;
//! let record = Record::new("k", "test", json!({
//!     "phone": "(11) 99999-1234",
//!     "at": "2026-03-01T15:00:00Z",
//!     "name": null,
//!     "text": "Replace filter",
//! }));
//! assert_eq!(
//!     map.map(&record)?,
//!     json!({"to": "5511999991234", "when": "01/03/2026 12:00", "who": "-", "what": "Replace…"})
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Build-time checks
//!
//! [`FieldMap::new`] reports every problem at once, each located by the JSON pointer of
//! its leaf: syntax errors, unknown filters (minijinja itself only notices those when a
//! template runs), and constant arguments hubflow can check: the `date` format and time
//! zone and the `phone` country.

mod direct;
mod env;
mod error;
mod field_map;
mod filters;
mod scan;
#[cfg(test)]
mod tests;

pub use error::MapError;
pub use field_map::FieldMap;

use serde_json::Value;

use crate::Record;

/// Turns a record into a target's payload. Pure.
pub trait Mapper: Send + Sync {
    /// Maps `record` to a JSON payload.
    fn map(&self, record: &Record) -> Result<serde_json::Value, MapError>;
}

/// Any `Fn(&Record) -> Result<Value, MapError>` is a mapper, for hand-written payloads.
///
/// ```
/// use hubflow::{MapError, Mapper, Record};
/// use serde_json::{json, Value};
///
/// let mapper = |record: &Record| -> Result<Value, MapError> {
///     let folio = record.get("wo_folio").ok_or_else(|| MapError::Invalid {
///         message: "no folio".into(),
///     })?;
///     Ok(json!({"text": format!("OT {folio}")}))
/// };
/// let record = Record::new("k", "test", json!({"wo_folio": 881}));
/// assert_eq!(mapper.map(&record).unwrap(), json!({"text": "OT 881"}));
/// ```
impl<F> Mapper for F
where
    F: Fn(&Record) -> Result<Value, MapError> + Send + Sync,
{
    fn map(&self, record: &Record) -> Result<Value, MapError> {
        self(record)
    }
}

/// Sends the record's `data` unchanged.
///
/// ```
/// use hubflow::{mapper::Passthrough, Mapper, Record};
/// let record = Record::new("k", "test", serde_json::json!({"a": 1}));
/// assert_eq!(Passthrough.map(&record).unwrap(), record.data);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Passthrough;

impl Mapper for Passthrough {
    fn map(&self, record: &Record) -> Result<Value, MapError> {
        Ok(record.data.clone())
    }
}
