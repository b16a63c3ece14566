//! Unit tests of the rule language, one file per concern.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::SpecErrors;

mod compare;
mod explain;
mod instant;
mod parse;
mod props;
mod rule;

fn rec(data: Value) -> Record {
    Record::new("k", "test", data)
}

fn cmp(field: &str, op: Op, value: Option<Value>) -> Rule {
    Rule::Compare(Comparison::new(field, op, value, false).unwrap())
}

fn cmp_ci(field: &str, op: Op, value: Option<Value>) -> Rule {
    Rule::Compare(Comparison::new(field, op, value, true).unwrap())
}

fn holds(rule: &Rule, data: Value) -> bool {
    rule.evaluate(&rec(data))
}

fn paths(errors: &SpecErrors) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}
