//! Leaves evaluated straight from the record's JSON, without the template engine.
//!
//! Most leaves of a mapping are a plain field (`{{ wo_folio }}`) or a field through
//! filters with constant arguments (`{{ creation_date | date('%d/%m/%Y', 'UTC') }}`).
//! Rendering those through minijinja means converting the record's values into template
//! values, running the VM and calling the filters through dynamic arguments, several times
//! the work of the filter itself. A [`Direct`] leaf reads the field from the record and
//! applies hubflow's filters to it in place.
//!
//! It only ever answers when the answer is certain to be the template's: for anything
//! unusual (a missing field, a filter given anything but a string, a filter that would
//! fail, a value printed that is not a string, an integer, a boolean or `null`)
//! [`Direct::evaluate`] returns `None` and the leaf is
//! rendered by minijinja as before, so results and error messages stay exactly the
//! template's. The mapper's tests compare both ways over arbitrary records.

use std::borrow::Cow;

use chrono::format::{Item, StrftimeItems};
use chrono_tz::Tz;
use phonenumber::country;
use serde_json::Value;

use super::filters::{cut, format_in, region, time_zone};
use super::scan::{Literal, Simple};
use crate::condition::parse_instant;

/// A leaf of the [`Simple`](super::scan::Simple) form whose every filter is one of
/// hubflow's with arguments it can take.
#[derive(Debug)]
pub(super) struct Direct {
    /// The variable and its attributes.
    path: Vec<String>,
    steps: Vec<Step>,
}

/// One filter with its constant arguments, checked and prepared once.
#[derive(Debug)]
enum Step {
    Phone(country::Id),
    Date { items: Vec<Item<'static>>, tz: Tz },
    Default(String),
    Upper,
    Lower,
    Truncate(usize),
}

/// The value between two steps.
enum Current<'a> {
    /// The last attribute of the path is not in its object.
    Undefined,
    /// A value of the record, untouched.
    Json(&'a Value),
    /// What a filter made.
    Text(Cow<'a, str>),
}

impl Direct {
    /// The direct form of `simple`, when every filter has one.
    pub(super) fn new(simple: &Simple<'_>) -> Option<Direct> {
        let steps = simple
            .filters
            .iter()
            .map(|(name, args)| step(name, args))
            .collect::<Option<Vec<Step>>>()?;
        Some(Direct {
            path: simple.path.iter().map(|s| (*s).to_owned()).collect(),
            steps,
        })
    }

    /// The leaf's text for `data` (a record's data), or `None` when the template engine
    /// must decide (see the module docs).
    pub(super) fn evaluate(&self, data: &Value) -> Option<String> {
        let mut current = self.find(data)?;
        for step in &self.steps {
            current = step.apply(current)?;
        }
        match current {
            Current::Text(text) => Some(text.into_owned()),
            Current::Json(Value::String(s)) => Some(s.clone()),
            // The printing rules of the mapper's environment (see `env::environment`): `null`
            // is no text, booleans are `true`/`false`, integers are written as they are.
            Current::Json(Value::Null) => Some(String::new()),
            Current::Json(Value::Bool(b)) => Some(b.to_string()),
            Current::Json(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }

    /// The value at the path, following attributes through objects only: what minijinja
    /// does on other values (arrays, strings, `null`) is left to it.
    fn find<'a>(&self, data: &'a Value) -> Option<Current<'a>> {
        let mut value = data;
        let last = self.path.len().checked_sub(1)?;
        for (i, name) in self.path.iter().enumerate() {
            let Value::Object(map) = value else {
                return None;
            };
            match map.get(name) {
                Some(found) => value = found,
                // Only the last lookup of a path can be rescued by `default`.
                None if i == last => return Some(Current::Undefined),
                None => return None,
            }
        }
        Some(Current::Json(value))
    }
}

/// The step of filter `name` with `args`, when it has a direct form.
fn step(name: &str, args: &[Literal]) -> Option<Step> {
    Some(match (name, args) {
        ("phone", [Literal::Str(code)]) => Step::Phone(region(code)?),
        ("date", [Literal::Str(format)]) => date_step(format, None)?,
        ("date", [Literal::Str(format), Literal::Str(zone)]) => date_step(format, Some(zone))?,
        ("default" | "d", []) => Step::Default(String::new()),
        ("default" | "d", [Literal::Str(value)]) => Step::Default(value.clone()),
        ("upper", []) => Step::Upper,
        ("lower", []) => Step::Lower,
        ("truncate", [Literal::Int(n)]) => Step::Truncate(usize::try_from(*n).ok()?),
        _ => return None,
    })
}

/// `date(format)` (UTC) or `date(format, zone)`; `None` for arguments the filter refuses.
fn date_step(format: &str, zone: Option<&str>) -> Option<Step> {
    Some(Step::Date {
        items: StrftimeItems::new(format).parse_to_owned().ok()?,
        tz: match zone {
            Some(zone) => time_zone(zone).ok()?,
            None => Tz::UTC,
        },
    })
}

impl Step {
    fn apply<'a>(&self, current: Current<'a>) -> Option<Current<'a>> {
        if let Step::Default(value) = self {
            return Some(match current {
                Current::Undefined | Current::Json(Value::Null) => {
                    Current::Text(Cow::Owned(value.clone()))
                }
                other => other,
            });
        }
        let text = text(&current)?;
        let out = match self {
            Step::Phone(region) => crate::pipeline::phone::e164(text, *region).ok()?.digits,
            Step::Date { items, tz } => {
                let instant = parse_instant(text)?;
                format_in(instant, tz, items).ok()?
            }
            Step::Upper => text.to_uppercase(),
            Step::Lower => text.to_lowercase(),
            Step::Truncate(max) => cut(text, *max),
            Step::Default(_) => return None,
        };
        Some(Current::Text(Cow::Owned(out)))
    }
}

/// The text a filter works on: a string, as the record has it or as a filter made it.
/// `null` is left to the template engine too: `upper` makes it `""`, `phone` refuses it.
fn text<'c>(current: &'c Current<'_>) -> Option<&'c str> {
    match current {
        Current::Text(text) => Some(text),
        Current::Json(Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
