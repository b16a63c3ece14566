//! Conditions: which records a flow acts on.
//!
//! A [`Condition`] is any pure test of a [`Record`]. Hosts can pass a closure, or use
//! [`Rule`], the serializable rule language that flow specs store under `"when"`:
//!
//! ```json
//! {"all": [{"field": "user_assigned", "op": "eq", "value": "Jonas Campos"}]}
//! ```
//!
//! # Rule forms
//!
//! | JSON | meaning |
//! |---|---|
//! | `"always"` or `{"always": true}` | always true (Fracttal's "without conditions") |
//! | `{"all": [rule, …]}` | every rule holds; an empty list is true |
//! | `{"any": [rule, …]}` | at least one rule holds; an empty list is false |
//! | `{"not": rule}` | the rule does not hold |
//! | `{"field": "a.b", "op": "eq", "value": …, "case_insensitive": true}` | a [`Comparison`] |
//!
//! `field` is a dotted path as in [`Record::get`] (`chat.phone`, `messages.0.text`): it
//! may not be empty nor contain an empty segment. `value` is required by every operator
//! except `exists`, `missing` and `empty`, which refuse one. `case_insensitive` is optional
//! and defaults to `false`.
//!
//! # Operators
//!
//! "Found" is the value at `field`; "value" is the rule's operand.
//!
//! | op | true when | field missing |
//! |---|---|---|
//! | `eq` | found equals value (see *Equality*) | false |
//! | `ne` | not `eq` | true |
//! | `contains` | found is an array with an element equal to value, or found's text contains value (a string) | false |
//! | `not_contains` | not `contains` | true |
//! | `starts_with` | found's text starts with value (a string) | false |
//! | `ends_with` | found's text ends with value (a string) | false |
//! | `gt` `gte` `lt` `lte` | found is ordered after / after or equal / before / before or equal to value (see *Ordering*) | false |
//! | `in` | found equals an element of value (an array) | false |
//! | `not_in` | not `in` | true |
//! | `exists` | the field is present, even as `null` | false |
//! | `missing` | the field is absent | true |
//! | `empty` | found is `null`, `""`, `[]` or `{}` | true |
//! | `matches` | found's text matches value (a regular expression) | false |
//!
//! Each negative operator (`ne`, `not_contains`, `not_in`, `missing`) is the exact negation
//! of its positive twin, for missing fields too. `gt` and `lte` are *not* negations of each
//! other: when the two sides cannot be ordered, every ordering operator is false.
//!
//! * **Text.** A string is its own text; a number's text is its JSON form (`5511987654321`),
//!   so a phone stored as a number still `starts_with` `"55"`. Other values have no text,
//!   and text operators are false on them.
//! * **Equality** (`eq`, `ne`, `in`, `not_in`, array `contains`). A number equals a number
//!   or a numeric string numerically (`12` equals `"12.0"`; surrounding whitespace in the
//!   string is ignored). Two strings that both parse as instants are equal when they name
//!   the same instant (`"2026-03-01T12:00:00Z"` equals `"2026-03-01T09:00:00-03:00"`);
//!   other strings compare as text. Everything else (booleans, `null`, arrays, objects,
//!   a number against a non-numeric string) uses plain JSON equality. Two numeric *strings*
//!   compare as text: write the rule's value as a JSON number to compare numerically.
//! * **Ordering** (`gt`, `gte`, `lt`, `lte`). Numbers (and numeric strings against a number)
//!   numerically, two instants chronologically, other strings lexicographically by Unicode
//!   scalar value. Any other pair (a boolean, `null`, an array, a number against a
//!   non-numeric string) cannot be ordered.
//! * **Case.** With `case_insensitive`, both sides of every text comparison are lowercased
//!   with Unicode rules ([`str::to_lowercase`], so `"JOSÉ"` equals `"josé"`) and a
//!   `matches` pattern is compiled case-insensitively. No Unicode normalization is done.
//! * **Instants.** RFC 3339 (`2026-03-01T12:00:00Z`, `2026-03-01T12:00:00.5-03:00`),
//!   offsets without a colon (`2021-02-24T16:25:29+0000`), a space before the offset
//!   (`2024-01-08 10:35:18 +0200`), naive date-times read as UTC (`2026-03-01 12:00:00`,
//!   `2026-03-01T12:00:00`) and dates read as midnight UTC (`2026-03-01`). Epoch numbers
//!   are numbers, not instants.
//! * **Regular expressions** use the `regex` crate's syntax, run in linear time, are
//!   unanchored (write `^…$` to match the whole text), and are compiled once when the rule
//!   is built: an invalid pattern is a [`SpecError`](crate::SpecError), never a failure
//!   at run time.
//!
//! Evaluation never panics, whatever the record holds.

mod compare;
mod instant;
mod parse;
mod rule;
#[cfg(feature = "schema")]
mod schema;
#[cfg(test)]
mod tests;

pub use compare::{Comparison, Op};
pub(crate) use instant::parse_instant;
pub use rule::{FieldRule, Rule};

use crate::Record;

/// Decides whether a flow acts on a record. Pure: no I/O, no clock, no panics on any input.
///
/// Closures implement it, so a host can filter in code:
///
/// ```
/// use hubflow::{Condition, Record};
/// let urgent = |r: &Record| r.get("priority").and_then(|p| p.as_u64()) >= Some(3);
/// assert!(urgent.evaluate(&Record::new("k", "t", serde_json::json!({"priority": 4}))));
/// ```
pub trait Condition: Send + Sync {
    /// `true` when the flow should act on `record`.
    fn evaluate(&self, record: &Record) -> bool;

    /// Why `record` does not pass, in words for a run report, when the condition can say;
    /// `None` when it passes or cannot tell. The flow falls back to a description of the
    /// whole condition.
    fn explain(&self, _record: &Record) -> Option<String> {
        None
    }
}

impl<F> Condition for F
where
    F: Fn(&Record) -> bool + Send + Sync,
{
    fn evaluate(&self, record: &Record) -> bool {
        self(record)
    }
}
