//! Local stand-in plumbing shared by the examples: not part of a program you copy.
//!
//! The examples run against providers that answer in this process when no credentials are
//! set: hubflow's own provider fakes (`hubflow::<provider>::fake`) behind a
//! [`FakeClient`](hubflow::http::FakeClient), plus [`Routes`] for the few answers an
//! example needs with its own data (the work orders Fracttal lists, the appointments an
//! ERP returns). Nothing leaves the machine.
#![allow(dead_code)]

use std::sync::{Mutex, PoisonError};

use hubflow::http::{HttpRequest, HttpResponse, Method, ProviderFake};
use serde_json::Value;

/// Canned JSON answers by method and path (and optionally one query parameter): each
/// answer in turn, the last one for every later request. A request no route matches is
/// left to the next fake of the client.
#[derive(Debug)]
pub struct Routes {
    provider: &'static str,
    routes: Mutex<Vec<Route>>,
}

#[derive(Debug)]
struct Route {
    method: Method,
    path: String,
    query: Option<(String, String)>,
    answers: Vec<Value>,
}

impl Routes {
    /// No routes yet, for `provider` (as named in the client's 501 answers).
    pub fn new(provider: &'static str) -> Self {
        Routes {
            provider,
            routes: Mutex::new(Vec::new()),
        }
    }

    /// Answers `method path` with `answers`, in turn (an empty list answers `{}`).
    pub fn on(self, method: Method, path: &str, answers: Vec<Value>) -> Self {
        self.add(method, path, None, answers)
    }

    /// Answers `method path` when the query has `name=value`.
    pub fn on_query(
        self,
        method: Method,
        path: &str,
        (name, value): (&str, &str),
        answers: Vec<Value>,
    ) -> Self {
        self.add(method, path, Some((name.into(), value.into())), answers)
    }

    fn add(
        self,
        method: Method,
        path: &str,
        query: Option<(String, String)>,
        answers: Vec<Value>,
    ) -> Self {
        self.lock().push(Route {
            method,
            path: path.trim_end_matches('/').to_owned(),
            query,
            answers,
        });
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Route>> {
        // Every update leaves the list whole.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ProviderFake for Routes {
    fn provider(&self) -> &str {
        self.provider
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = request.url.path().trim_end_matches('/');
        let mut routes = self.lock();
        let route = routes.iter_mut().find(|route| {
            route.method == request.method
                && route.path == path
                && route.query.as_ref().is_none_or(|(name, value)| {
                    request
                        .url
                        .query_pairs()
                        .any(|(k, v)| k == name.as_str() && v == value.as_str())
                })
        })?;
        let answer = if route.answers.len() > 1 {
            route.answers.remove(0)
        } else {
            route.answers.first().cloned().unwrap_or_default()
        };
        Some(HttpResponse::json(200, &answer))
    }
}

/// A request as one line: `METHOD path?query`.
pub fn line(request: &HttpRequest) -> String {
    let query = request
        .url
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!("{} {}{query}", request.method, request.url.path())
}

/// Prints a request the stand-ins answered: `label: METHOD path?query` and its JSON body.
pub fn show(label: &str, request: &HttpRequest) {
    println!("{label}: {}", line(request));
    if let Ok(body) = request.json_body() {
        let body = serde_json::to_string_pretty(&body).unwrap_or_default();
        println!("{body}\n");
    }
}

/// An instant `seconds` before now, as providers write dates.
pub fn ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// Development values for the secrets `names`, for runs against the stand-ins (which
/// accept any).
pub fn stand_in_secrets(names: &[&str]) -> hubflow::spec::MapSecrets {
    names
        .iter()
        .fold(hubflow::spec::MapSecrets::new(), |secrets, name| {
            secrets.with(*name, format!("stand-in-{}", name.to_lowercase()))
        })
}

/// Prints each run report in full, then one line of counts per report.
pub fn print_reports(reports: &[(&str, hubflow::RunReport)]) -> Result<(), serde_json::Error> {
    for (what, report) in reports {
        println!(
            "{what} report:\n{}\n",
            serde_json::to_string_pretty(report)?
        );
    }
    for (what, report) in reports {
        let c = &report.counts;
        println!(
            "{what}: {} delivered, {} duplicates (delivered before), {} skipped, {} failed",
            c.delivered, c.duplicate, c.skipped, c.failed
        );
    }
    Ok(())
}
