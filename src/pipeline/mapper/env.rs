//! The template environment every [`FieldMap`](super::FieldMap) compiles in, and the
//! build-time checks made against it: syntax errors, unknown filters and the constant
//! arguments of hubflow's filters.

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

use super::filters;
use super::scan::{FilterUse, Literal};
use crate::{SpecError, SpecErrors};

/// A new environment with hubflow's settings (strict undefined values, no HTML escaping,
/// JSON-style printing) and filters.
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Leaves are named by pointer; a key like `body.html` must not switch on HTML escaping.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(|out, state, value| {
        // Print JSON-style: null means "no value" (nothing rather than `none`) and
        // booleans stay `true`/`false` rather than Python's `True`/`False`.
        match value.kind() {
            ValueKind::None => Ok(()),
            ValueKind::Bool => out
                .write_str(if value.is_true() { "true" } else { "false" })
                .map_err(minijinja::Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    filters::register(&mut env);
    env
}

pub(super) fn syntax_error(pointer: &str, e: &minijinja::Error) -> SpecError {
    let detail = e.detail().unwrap_or("invalid syntax");
    let message = match e.line() {
        Some(line) if line > 1 => format!("template syntax error on line {line}: {detail}"),
        _ => format!("template syntax error: {detail}"),
    };
    SpecError::new(pointer, message).with_hint(
        "templates use minijinja (Jinja2) syntax: {{ field }}, {{ field | filter(arg) }}, {% if field %}…{% endif %}",
    )
}

/// Whether `name` (an identifier) is a filter of `env`.
///
/// minijinja resolves filters only when a template runs, so this renders a probe: the VM
/// looks a filter up before calling it and reports `UnknownFilter` only when the lookup
/// fails, so any other outcome means the filter exists.
pub(super) fn filter_exists(env: &Environment<'static>, name: &str) -> bool {
    match env.render_str(&format!("{{{{ none | {name} }}}}"), ()) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::UnknownFilter,
    }
}

/// A few of minijinja's builtins, for suggestions next to hubflow's filters.
const COMMON_BUILTINS: &[&str] = &[
    "capitalize",
    "first",
    "int",
    "join",
    "last",
    "length",
    "replace",
    "round",
    "string",
    "title",
    "trim",
];

pub(super) fn unknown_filter(pointer: &str, name: &str) -> SpecError {
    let nearest = filters::HUBFLOW_FILTERS
        .iter()
        .chain(COMMON_BUILTINS)
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    let mut hint = String::new();
    if let Some((_, candidate)) = nearest {
        hint.push_str(&format!("did you mean \"{candidate}\"? "));
    }
    hint.push_str("filters: phone(country), date(format, time_zone), default(value), upper, lower, truncate(n), and minijinja's builtins (");
    hint.push_str(&COMMON_BUILTINS.join(", "));
    hint.push_str(", …)");
    SpecError::new(pointer, format!("unknown filter \"{name}\"")).with_hint(hint)
}

/// Levenshtein distance over chars; names are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(current).min(row[j])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Checks the constant arguments of hubflow's filters; arguments computed from the record
/// are checked when the template runs.
pub(super) fn check_arguments(pointer: &str, used: &FilterUse, errors: &mut SpecErrors) {
    let Some(args) = &used.args else { return };
    let text = |i: usize| match args.get(i) {
        Some(Literal::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    match used.name.as_str() {
        "date" => {
            if let Some(format) = text(0) {
                if let Err(message) = filters::strftime(format) {
                    errors.push(
                        SpecError::new(pointer, format!("filter date: {message}"))
                            .with_hint("e.g. date('%d/%m/%Y %H:%M', 'America/Sao_Paulo')"),
                    );
                }
            }
            if let Some(zone) = text(1) {
                if let Err(message) = filters::time_zone(zone) {
                    errors.push(
                        SpecError::new(pointer, format!("filter date: {message}"))
                            .with_hint("time zones are IANA names: America/Sao_Paulo, America/Santiago, Europe/Madrid, UTC"),
                    );
                }
            }
        }
        "phone" => {
            if let Some(code) = text(0) {
                if filters::region(code).is_none() {
                    errors.push(
                        SpecError::new(
                            pointer,
                            format!("filter phone: unknown country code {code:?}"),
                        )
                        .with_hint("use an ISO 3166 alpha-2 code: BR, CL, ES, MX, US, …"),
                    );
                }
            }
        }
        "truncate" => {
            if let Some(Literal::Int(n)) = args.first() {
                if *n < 0 {
                    errors.push(
                        SpecError::new(pointer, format!("filter truncate: negative length {n}"))
                            .with_hint("truncate(n) keeps at most n characters, n ≥ 0"),
                    );
                }
            }
        }
        _ => {}
    }
}
