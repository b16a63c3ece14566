//! The admin page and its JSON API, served on their own listener (127.0.0.1 by default).
//!
//! There is no login: a real deployment keeps this listener on loopback, or puts an
//! authenticating proxy (single sign-on, or basic auth over TLS) in front of it. The POST
//! endpoints take JSON only, so a page of another origin cannot post to them from a browser
//! without a CORS preflight, which this server does not answer; and every request must name
//! this listener's loopback address as its `Host`, so a page of another site whose name
//! resolves to 127.0.0.1 (DNS rebinding) can neither read the API nor replay (a reverse
//! proxy in front passes `Host: 127.0.0.1:<port>` when it proxies to that address, as
//! nginx does by default).
//!
//! What the page shows comes from the flows and the store's run history: ids, triggers,
//! counts, keys, kinds, stages and error messages. Never a secret (specs name secrets, the
//! resolver holds them) and never a record's payload: a dead letter is shown by its key.
//! Error messages and skip reasons may quote the value that failed (a phone number that
//! could not be read); a flow with personal data sets `"dead_letters": "key_only"`, whose
//! reports withhold them.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hubflow::{Counts, FlowSpec, Outcome, RecordOutcome, RunReport, SpecErrors};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::{App, Intake};

/// The page: plain HTML and a little JavaScript, no build step, nothing fetched from
/// elsewhere.
const PAGE: &str = include_str!("admin.html");

/// How many runs of each flow are read from the history: dead letters are looked for in
/// all of them, and the newest [`RUNS_SHOWN`] are listed.
const HISTORY_READ: usize = 100;
const RUNS_SHOWN: usize = 10;

/// The admin routes, for the listener on `port` of the loopback interface.
pub fn router(app: Arc<App>, port: u16) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/flows", get(flows))
        .route("/api/replay", post(replay))
        .route("/api/validate", post(validate_spec))
        .route("/api/schema", get(schema))
        .with_state(app)
        .layer(middleware::from_fn_with_state(port, loopback_host))
}

/// Answers `421 Misdirected Request` unless the request's `Host` is this listener's
/// loopback address (see the module docs: DNS rebinding).
async fn loopback_host(State(port): State<u16>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let allowed = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host.eq_ignore_ascii_case(&format!("{name}:{port}")));
    if !allowed {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the admin page answers only to its loopback address",
        )
            .into_response();
    }
    next.run(request).await
}

/// A flow as the page shows it.
#[derive(Serialize)]
struct FlowView {
    id: String,
    description: Option<String>,
    trigger: Value,
    next_due: Option<DateTime<Utc>>,
    intake: Option<Intake>,
    target: String,
    spec: Value,
    /// The last scheduled run's error, when it failed before a report was stored.
    last_error: Option<String>,
    /// Why the history could not be read, when it could not.
    history_error: Option<String>,
    runs: Vec<RunView>,
    dead_letters: Vec<DeadLetterView>,
}

#[derive(Serialize)]
struct RunView {
    started_at: DateTime<Utc>,
    duration_ms: u64,
    counts: Counts,
    /// The report's summary line and its failed and skipped lines (keys and messages).
    summary: String,
}

#[derive(Serialize)]
struct DeadLetterView {
    key: String,
    kind: String,
    failed_at: DateTime<Utc>,
    stage: &'static str,
    message: String,
    retryable: bool,
    /// Whether the record was kept (a `"dead_letters": "key_only"` report policy keeps only
    /// its key, and such a dead letter cannot be replayed from here).
    replayable: bool,
}

/// `GET /api/flows`: every flow with its last runs and its open dead letters.
async fn flows(State(app): State<Arc<App>>) -> Json<Value> {
    let now = app.ctx.clock().now();
    let mut views = Vec::new();
    for hosted in &app.flows {
        let flow = &hosted.flow;
        let (runs, history_error) = match flow.history(&app.ctx, HISTORY_READ).await {
            Ok(runs) => (runs, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        views.push(FlowView {
            id: flow.id().to_owned(),
            description: hosted.spec["description"].as_str().map(str::to_owned),
            trigger: serde_json::to_value(flow.trigger()).unwrap_or(Value::Null),
            next_due: flow
                .has_source()
                .then(|| flow.trigger().next_due(now))
                .flatten(),
            intake: hosted.intake,
            target: flow.target_kind().to_owned(),
            spec: hosted.spec.clone(),
            last_error: app.last_error(flow.id()),
            history_error,
            dead_letters: open_dead_letters(&runs)
                .into_iter()
                .map(|(line, failed_at)| dead_letter_view(line, failed_at))
                .collect(),
            runs: runs.iter().take(RUNS_SHOWN).map(run_view).collect(),
        });
    }
    Json(serde_json::json!({ "flows": views }))
}

fn run_view(report: &RunReport) -> RunView {
    RunView {
        started_at: report.started_at,
        duration_ms: report.duration_ms,
        counts: report.counts,
        summary: report.to_string(),
    }
}

fn dead_letter_view(line: &RecordOutcome, failed_at: DateTime<Utc>) -> DeadLetterView {
    let (stage, message, retryable) = match &line.outcome {
        Outcome::Failed {
            failure, retryable, ..
        } => (failure.stage.name(), failure.message.clone(), *retryable),
        // Only failed lines are dead letters (see `open_dead_letters`).
        other => (other.name(), String::new(), false),
    };
    DeadLetterView {
        key: line.key.clone(),
        kind: line.kind.clone(),
        failed_at,
        stage,
        message,
        retryable,
        replayable: line.record.is_some(),
    }
}

/// The dead letters still open in `runs` (newest first, as `Flow::history` gives them), with
/// when each failed: a key is open when its newest line that says how it ended is a
/// failure. A later delivery, a duplicate of a finished delivery (with its receipt) or a skip
/// settles it; a later failure replaces it. A duplicate without a receipt says only that
/// another attempt holds the key (an unknown outcome under review, or a delivery in
/// progress), so it settles nothing and the failure stays listed.
fn open_dead_letters(runs: &[RunReport]) -> Vec<(&RecordOutcome, DateTime<Utc>)> {
    let mut seen = HashSet::new();
    let mut open = Vec::new();
    for run in runs {
        for line in &run.records {
            if matches!(line.outcome, Outcome::Duplicate { receipt: None, .. }) {
                continue;
            }
            if seen.insert(line.key.as_str()) && matches!(line.outcome, Outcome::Failed { .. }) {
                open.push((line, run.started_at));
            }
        }
    }
    open
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayAsk {
    flow: String,
    key: String,
}

/// What a replay did to the dead letter.
#[derive(Serialize)]
struct ReplayAnswer {
    key: String,
    /// `delivered`, `failed`, `skipped` or `duplicate`.
    outcome: &'static str,
    /// Why it failed again, when it did.
    message: Option<String>,
    summary: String,
}

/// `POST /api/replay {"flow", "key"}`: runs the dead letter's record through its flow again.
///
/// `Flow::replay` re-polls a source from a cursor (the way to replay a window after an
/// incident); a dead letter is one record, kept whole in its run's report, so it goes
/// through `Flow::process` again. A failure that left no doubt released its claim, so the
/// record is sent if it still passes the condition, and one delivered meanwhile is a
/// duplicate with its receipt. A failure whose outcome is unknown (the provider may have
/// sent it) keeps its claim in flight for review: the replay is then a duplicate without a
/// receipt and the dead letter stays listed, since sending again could send twice. The run
/// lands in the history like any other, which settles the dead letter when it can.
async fn replay(
    State(app): State<Arc<App>>,
    Json(ask): Json<ReplayAsk>,
) -> Result<Json<ReplayAnswer>, ApiError> {
    let flow = app
        .flow(&ask.flow)
        .ok_or_else(|| ApiError::not_found(format!("no flow `{}`", ask.flow)))?;
    let runs = flow
        .history(&app.ctx, HISTORY_READ)
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let record = open_dead_letters(&runs)
        .into_iter()
        .find(|(line, _)| line.key == ask.key)
        .and_then(|(line, _)| line.record.clone())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "flow `{}` has no dead letter `{}` kept whole",
                ask.flow, ask.key
            ))
        })?;
    let report = flow.process(&app.ctx, vec![record]).await;
    println!("replayed: {report}");
    let line = report.get(&ask.key);
    let message = line.and_then(|line| match &line.outcome {
        Outcome::Failed { failure, .. } => Some(failure.message.clone()),
        _ => None,
    });
    Ok(Json(ReplayAnswer {
        outcome: line.map_or("failed", |line| line.outcome.name()),
        key: ask.key,
        message,
        summary: report.to_string(),
    }))
}

/// One problem in a spec: where, as a JSON pointer (RFC 6901; `""` for the whole document),
/// and what is wrong there.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The JSON pointer, e.g. `/delivery/max_in_flihgt`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Which check found it: `schema` (the JSON Schema a form would use) or `hubflow`
    /// (the crate's loader and build, which also know connections, secrets and templates).
    pub check: &'static str,
}

/// Every problem of a spec text, each at its JSON pointer: the text as JSON; then the
/// registry's JSON Schema, the check a form generator would run in the browser; then the
/// document alone (`FlowSpec::from_value`) and against this host's registry, connections
/// and secrets (`FlowSpec::build`), which also catch what a schema cannot say (a template
/// that does not parse, a connection or secret that does not exist). An empty list: the
/// spec builds. The schema names an unknown field at the object that holds it, the loader
/// at the field itself, so one mistake may be listed by both.
pub fn validate(app: &App, text: &str) -> Vec<Problem> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            return vec![Problem {
                path: String::new(),
                message: format!("not JSON: {e}"),
                hint: None,
                check: "hubflow",
            }]
        }
    };
    let mut found: Vec<Problem> = app
        .schema
        .iter_errors(&value)
        .map(|error| Problem {
            path: error.instance_path.to_string(),
            message: error.to_string(),
            hint: None,
            check: "schema",
        })
        .collect();
    let built = FlowSpec::from_value(&value)
        .and_then(|spec| spec.build(&app.registry, &app.connections, app.secrets.as_ref()));
    if let Err(errors) = built {
        found.extend(problems(&errors));
    }
    found
}

fn problems(errors: &SpecErrors) -> Vec<Problem> {
    errors
        .iter()
        .map(|e| Problem {
            path: e.path.clone(),
            message: e.message.clone(),
            hint: e.hint.clone(),
            check: "hubflow",
        })
        .collect()
}

/// `GET /api/schema`: the JSON Schema of this host's flow specs, every registered kind with
/// its config, for a form generator or an editor's completion.
async fn schema(State(app): State<Arc<App>>) -> Json<Value> {
    Json(app.registry.flow_schema().to_value())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateAsk {
    /// The spec as text: it may not even be JSON.
    spec: String,
}

/// `POST /api/validate {"spec": "<text>"}`: `{"valid": …, "errors": [{"path", "message", "hint"}]}`.
/// Nothing is saved: a host that lets its users edit flows stores the spec once it is valid
/// and builds the flow from it.
async fn validate_spec(State(app): State<Arc<App>>, Json(ask): Json<ValidateAsk>) -> Json<Value> {
    let errors = validate(&app, &ask.spec);
    Json(serde_json::json!({"valid": errors.is_empty(), "errors": errors}))
}

/// An API error: its status and `{"error": message}`.
struct ApiError(StatusCode, String);

impl ApiError {
    fn not_found(message: String) -> Self {
        ApiError(StatusCode::NOT_FOUND, message)
    }

    fn unavailable(message: String) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}
