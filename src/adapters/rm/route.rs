//! Configurable ERP calls: a method, a path template, query parameters and a JSON body,
//! with `{name}` placeholders, because every RM installation exposes its own routes.

use crate::text::text_of;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::RmClient;
use super::error::RmError;
use crate::http::{HttpRequest, Method};
use crate::{SpecError, SpecErrors};

/// One ERP call, as configuration:
///
/// ```json
/// {"method": "POST", "path": "/api/hc/v1/appointments/{appointment_id}/cancel",
///  "query": {"codColigada": "1"}, "body": {"reason": "{reason}", "id": "{appointment_id}"}}
/// ```
///
/// `{name}` in the path, in query values and in body strings is replaced by the value of
/// `name`: percent-encoded in the path, as the exact JSON value when a body string is only
/// the placeholder (`"{appointment_id}"` stays a number if the ERP gave a number), as text
/// inside longer strings. Anything in braces that is not a plain lower-case name is left
/// alone. Which names exist depends on the call; unknown names are refused when the route
/// is configured.
///
/// ```
/// use hubflow::rm::Route;
/// let route = Route::post("/api/hc/appointments/{appointment_id}/confirm");
/// assert_eq!(route.placeholders(), vec!["appointment_id".to_owned()]);
/// assert!(route.check("/confirm", &["appointment_id"]).is_ok());
/// let errors = Route::post("/x/{appointmentid}").check("/confirm", &["appointment_id"]).unwrap_err();
/// assert_eq!(errors.iter().next().unwrap().path, "/confirm/path");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "One ERP call: a method (default POST), a path below the base URL, query parameters and a JSON body; `{name}` placeholders take the call's values."
    )
)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Route {
    /// The method (default `POST`).
    #[serde(default = "default_method")]
    pub method: Method,
    /// The path below the base URL, with placeholders.
    pub path: String,
    /// Query parameters, with placeholders in the values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON body, with placeholders in its strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

fn default_method() -> Method {
    Method::Post
}

impl Route {
    /// A `GET` of `path`.
    pub fn get(path: impl Into<String>) -> Self {
        Route {
            method: Method::Get,
            path: path.into(),
            query: BTreeMap::new(),
            body: None,
        }
    }

    /// A `POST` of `path` without a body.
    pub fn post(path: impl Into<String>) -> Self {
        Route {
            method: Method::Post,
            ..Route::get(path)
        }
    }

    /// Another method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.insert(name.into(), value.into());
        self
    }

    /// Sets the JSON body.
    #[must_use]
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Every placeholder name used, in order of first use.
    pub fn placeholders(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut add = |text: &str| {
            for name in names_in(text) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        };
        add(&self.path);
        for value in self.query.values() {
            add(value);
        }
        if let Some(body) = &self.body {
            walk_strings(body, &mut |s| add(s));
        }
        names
    }

    /// Checks that every placeholder is one of `known`; errors are located below `at`
    /// (`/confirm/path`, `/confirm/query/<name>`, `/confirm/body`).
    pub fn check(&self, at: &str, known: &[&str]) -> Result<(), SpecErrors> {
        let mut errors = SpecErrors::new();
        if self.path.trim().is_empty() {
            errors.push(SpecError::new(format!("{at}/path"), "the path is empty"));
        }
        let hint = format!("placeholders available here: {}", braced(known));
        let mut check = |path: String, text: &str| {
            for name in names_in(text) {
                if !known.contains(&name.as_str()) {
                    errors.push(
                        SpecError::new(path.clone(), format!("unknown placeholder {{{name}}}"))
                            .with_hint(hint.clone()),
                    );
                }
            }
        };
        check(format!("{at}/path"), &self.path);
        for (name, value) in &self.query {
            check(format!("{at}/query/{}", crate::pointer_token(name)), value);
        }
        if let Some(body) = &self.body {
            walk_strings(body, &mut |s| check(format!("{at}/body"), s));
        }
        errors.into_result(())
    }

    /// The request for these values, without credentials (the client adds them).
    pub fn request(
        &self,
        client: &RmClient,
        values: &BTreeMap<String, Value>,
    ) -> Result<HttpRequest, RmError> {
        let path = fill(&self.path, values, encode_segment)?;
        let mut url = client.url(&path)?;
        if !self.query.is_empty() {
            let mut pairs = Vec::with_capacity(self.query.len());
            for (name, value) in &self.query {
                pairs.push((name.clone(), fill(value, values, |s| Ok(s.to_owned()))?));
            }
            url.query_pairs_mut().extend_pairs(pairs);
        }
        let mut request = HttpRequest::new(self.method, url);
        if let Some(body) = &self.body {
            let body = fill_json(body, values)?;
            request = request
                .json(&body)
                .map_err(|e| RmError::InvalidRequest(e.to_string()))?;
        }
        Ok(request)
    }
}

fn braced(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The `{name}` placeholders of a text, in order.
fn names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                names.push(after[..close].to_owned());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    names
}

fn walk_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| walk_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| walk_strings(v, f)),
        _ => {}
    }
}

fn fill(
    template: &str,
    values: &BTreeMap<String, Value>,
    encode: impl Fn(&str) -> Result<String, RmError>,
) -> Result<String, RmError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_name(&after[..close]) => {
                let name = &after[..close];
                let value = values.get(name).filter(|v| !v.is_null()).ok_or_else(|| {
                    RmError::InvalidRequest(format!("the placeholder {{{name}}} has no value"))
                })?;
                out.push_str(&encode(&text_of(value))?);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn fill_json(value: &Value, values: &BTreeMap<String, Value>) -> Result<Value, RmError> {
    Ok(match value {
        Value::String(s) => {
            let whole = s
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .filter(|name| is_name(name));
            match whole {
                Some(name) => values.get(name).cloned().ok_or_else(|| {
                    RmError::InvalidRequest(format!("the placeholder {{{name}}} has no value"))
                })?,
                None => Value::String(fill(s, values, |s| Ok(s.to_owned()))?),
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_json(v, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_json(v, values)?)))
                .collect::<Result<_, RmError>>()?,
        ),
        other => other.clone(),
    })
}

/// Percent-encodes a value for one path segment, so an id cannot add segments (`/`), a
/// query (`?`) or climb (`..`).
fn encode_segment(value: &str) -> Result<String, RmError> {
    // No appointment id looks like `.` or `..`, which would change the route: refused.
    crate::http::path_segment(value).ok_or_else(|| {
        RmError::InvalidRequest(format!(
            "a route value may not be `{value}`: it would change the route"
        ))
    })
}

#[cfg(test)]
mod tests;
