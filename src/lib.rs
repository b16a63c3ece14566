//! # hubflow
//!
//! Integration flows for ERP and CMMS vendors, as values your application runs in its own
//! runtime: Fracttal One work orders to WhatsApp, WhatsApp conversations into the ERP,
//! appointment confirmations answered back into an RM-style ERP, or any JSON webhook.
//!
//! A [`Flow`] takes a [`Record`] through a [`Condition`], a [`Mapper`] and a [`Target`] and
//! ends it in exactly one [`Outcome`]:
//!
//! ```text
//! Record ──▶ Condition ──false──▶ Skipped (with the reason)
//!               │ true
//!               ▼
//!            Mapper ──error──▶ Failed (stage map: the field and template named)
//!               │ payload
//!               ▼
//!        Target::prepare ──error──▶ Failed (stage prepare)
//!               │ Action: the exact requests, typed (Flow::plan shows it; no I/O)
//!               ▼
//!       ClaimStore::claim ──done / in flight──▶ Duplicate
//!               │ acquired
//!               ▼
//!        Target::deliver ◀──RetryPolicy (backoff, Retry-After, via the Clock)
//!               │
//!               ▼
//!        Delivered (receipt) │ Failed (typed error, retryable?, attempts)
//! ```
//!
//! # Contents
//!
//! * [`Record`], [`Cursor`]: the data that moves.
//! * [`Condition`] and the serializable [`Rule`] language ([`condition`]).
//! * [`Lookup`] and its [`Directory`] ([`lookup`]): a record enriched from a directory (a
//!   map, an HTTP JSON API, the host's own) before it is mapped, e.g. a phone by a name.
//! * [`Mapper`] and the template-based [`FieldMap`] with its filters ([`mapper`]).
//! * [`Target`] and its typed [`Action`] ([`DynTarget`] and [`PreparedAction`] erase them),
//!   [`Source`], [`WebhookSource`]: the adapter traits.
//! * [`Flow`], [`FlowBuilder`], [`DeliveryPolicy`], [`RetryPolicy`], [`RunReport`]: running;
//!   [`Flow::plan`] shows a record's action (no I/O but its lookups), [`Flow::dry_run`]
//!   executes a flow against provider fakes and lists every request a real run would send;
//!   [`Flow::settle`] settles unknown outcomes with a provider's [`Settlement`] evidence.
//! * [`FlowSpec`] and the [`spec`] module: flows as JSON, the [`spec::Registry`] of kinds,
//!   named connections and secrets.
//! * [`conversation`]: conversations as data, for sequences of prompts and answers over
//!   WhatsApp (appointment booking): a checked [`conversation::ConversationSpec`] of
//!   states, inputs (options, dates, times, CPF, birth dates, text) and ERP calls through a
//!   [`conversation::Service`]; sessions in the [`StateStore`], one message per party at a
//!   time; the `conversation` target of flow specs.
//! * Ports the host supplies in a [`Context`]: [`http::HttpClient`] ([`http::ReqwestClient`]
//!   ships), [`Clock`] ([`TokioClock`], [`ManualClock`]), and the [`Store`], one trait per
//!   concern: [`ClaimStore`] (idempotency claims), [`CursorStore`] (pull cursors with a
//!   lease per flow), [`StateStore`] (keyed state with a time to live), [`HistoryStore`]
//!   (run history); [`MemoryStore`] implements all four, and so do `SqliteStore` (feature
//!   `sqlite`) and `PgStore` (feature `postgres`). Each trait states its rules and the
//!   SQL that does each operation atomically; `testing::store` (feature `testing`) checks a
//!   store against them.
//! * [`Trigger`]: when the host should run a flow, and what a scheduler owes after downtime
//!   ([`CatchUp`]).
//! * Adapters: [`http_target`] (feature `http`), [`whatsapp`] (WhatsApp Cloud API: send,
//!   receive signed webhooks), [`timelines`] (TimelinesAI webhooks and sending),
//!   [`fracttal`] (Fracttal One: OAuth client, work-order, status-change, meter-reading and
//!   work-request sources, events, work requests, notes on work orders),
//!   [`rm`] (RM-style ERP appointment confirmations, answered back into the ERP, and the
//!   scheduling port `rm.scheduling` that booking conversations call),
//!   [`rdconversas`] (RD Conversas template sends), [`twilio`] (WhatsApp through Twilio:
//!   Content templates, signed webhooks). They share one client layer:
//!   [`auth`] holds the credentials (static, OAuth client credentials, RM's JWT, a host's
//!   rotating token) and base URLs; a rejected credential is refreshed and resent once.
//! * `hubflow::cluster` (feature `graphile`): the `Cluster`, flows run by many workers over one
//!   PostgreSQL database: transactional webhook intake, per-recipient order, timed triggers
//!   scheduled once per instant, crashed-worker recovery.
//! * `testing` (feature `testing`): the store conformance suite and every provider fake.
//! * [`guide`]: the guides (deployment, each provider, conversations, the architecture and
//!   its decisions, the benchmarks), the same pages as the repository's `docs/` folder.
//!
//! # Quick start
//!
//! ```
//! use hubflow::{Context, FlowSpec, ManualClock, MemoryStore, Record};
//! use hubflow::http::RecordingClient;
//! use hubflow::spec::{Connections, MapSecrets, Registry};
//! use serde_json::json;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let spec = FlowSpec::from_json(r#"{
//!     "id": "urgent-requests",
//!     "when": {"field": "priority", "op": "eq", "value": "urgent"},
//!     "map": {"text": "{{ title | upper }}", "asset": "{{ asset.code }}"},
//!     "target": {"http.post": {"url": "https://erp.example.com/hooks/requests"}}
//! }"#).unwrap();
//! let flow = spec.build(&Registry::default(), &Connections::new(), &MapSecrets::new()).unwrap();
//!
//! // A RecordingClient sends nothing: a dry run. Use ReqwestClient to deliver.
//! let http = RecordingClient::new();
//! let ctx = Context::new(http.clone(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
//! let report = flow.process(&ctx, vec![
//!     Record::new("r1", "request", json!({"priority": "urgent", "title": "pump 3 leaks", "asset": {"code": "P-3"}})),
//!     Record::new("r2", "request", json!({"priority": "low", "title": "paint door", "asset": {"code": "D-1"}})),
//! ]).await;
//!
//! assert_eq!((report.counts.delivered, report.counts.skipped), (1, 1));
//! assert_eq!(http.requests()[0].json_body().unwrap(), json!({"text": "PUMP 3 LEAKS", "asset": "P-3"}));
//! # });
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `reqwest` | yes | [`http::ReqwestClient`] (brings reqwest, and `tokio`) |
//! | `tokio` | yes, through `reqwest` | [`TokioClock`]: the system clock on tokio's timer, for hosts that bring their own HTTP client |
//! | `http` | yes | the generic JSON webhook target, kind `http.post` |
//! | `whatsapp` | yes | [`whatsapp`]: the WhatsApp Cloud API target and webhook (brings hmac, sha2, hex) |
//! | `timelines` | yes | [`timelines`]: TimelinesAI webhook intake and the `timelines.message` target |
//! | `fracttal` | yes | [`fracttal`]: the OAuth client, `fracttal.work_orders`, `fracttal.work_order_status`, `fracttal.meter_readings`, `fracttal.work_requests`, `fracttal.event`, `fracttal.work_request`, `fracttal.work_order_note` |
//! | `rdconversas` | yes | [`rdconversas`]: RD Conversas template sends, kind `rdconversas.template` |
//! | `twilio` | yes | [`twilio`]: Twilio as a second WhatsApp provider: the `twilio.whatsapp` target (Content templates, free-form) and the `X-Twilio-Signature` webhook (brings hmac, sha1, base64) |
//! | `rm` | yes | [`rm`]: appointment confirmations and reply routing for RM-style ERPs (senders found by kind, e.g. `whatsapp.template` or `rdconversas.template`) |
//! | `axum` | no | `hubflow::axum`: `InboundRequest` as an axum extractor, `WebhookReply` as a response, and `WebhookRoute`, which serves a webhook source at a path, answers at once and hands the records to the host's handler on a tokio task (brings axum and tokio) |
//! | `tracing` | no | spans `hubflow.run` (flow, trigger, records, then the counts) and `hubflow.record` (flow, key, kind, then outcome, stage, attempts), events `hubflow.attempt` for each failed attempt (target kind, attempt, HTTP status, provider code, retryable, decision, wait) and `hubflow.webhook` for each webhook request (source, status, events, signature result), through [`tracing`](https://docs.rs/tracing); never a record's data, a payload, a header or an error's text |
//! | `testing` | no | `hubflow::testing`: the store conformance suite and the provider fakes in one place, for tests |
//! | `schema` | no | JSON Schemas (draft 2020-12) for the forms hosts put in front of specs: `FlowSpec::json_schema`, `Registry::flow_schema` with every registered kind's config schema, `ConversationSpec::json_schema` (brings schemars); see [`spec`](spec#json-schema) |
//! | `sqlite` | yes | `hubflow::SqliteStore`: every store port over one SQLite file, WAL mode, schema created on open (brings sqlx with a bundled SQLite, and tokio) |
//! | `postgres` | no | `hubflow::PgStore`: every store port in one PostgreSQL schema shared by any number of workers, migrated on connect; `claim_batch` in one round trip (brings sqlx's PostgreSQL driver, and tokio) |
//! | `graphile` | no | `hubflow::cluster`: many workers on one PostgreSQL database over graphile_worker: transactional webhook intake, per-recipient order, scheduled triggers, crashed-worker recovery (brings `postgres` and graphile_worker) |
//!
//! With `--no-default-features` the core builds alone, without an HTTP client or a runtime.
//!
//! # Runtime
//!
//! hubflow spawns no task, starts no thread, keeps no global state and reads no environment
//! variable (unless the host uses [`spec::EnvSecrets`]). Concurrency inside a run is bounded
//! by [`DeliveryPolicy::max_in_flight`] and achieved by polling futures together on the
//! caller's task. Time goes through the [`Clock`], HTTP through the [`http::HttpClient`].
//! The exceptions are the tokio-based integrations a host opts into: `axum`'s
//! `WebhookRoute` hands each request's records to the host's handler on a spawned task (so
//! the provider is answered first), and the `graphile` cluster runs its workers.
//!
//! # Security
//!
//! * Credentials are [`secrecy::SecretString`] from the moment a spec's
//!   `{"secret": "NAME"}` is resolved. Header values holding them are
//!   [`http::HeaderValue::Secret`], shown as `[redacted]` by `Debug`, by serialization (dry
//!   runs, reports) and in every error message.
//! * [`http::ReqwestClient`] follows no redirect, so a credential is never sent to a host the
//!   flow was not configured for.
//! * A secret pasted as plain text into a spec is refused without being quoted back.
//! * Credentials are only sent below their connection's base URL, and a dry run never sends
//!   a real token anywhere: it talks to in-process fakes, and tokens it obtains from them
//!   stay in a slot of their own.
//! * Webhook signatures and tokens are compared in constant time (`subtle`).
//! * Input is never trusted: malformed payloads end in typed errors, never in a panic.
//!   An authentic webhook body that cannot be read is answered 200 and kept as an
//!   [`Unreadable`] record that every flow fails at [`Stage::Read`] (a dead letter to
//!   replay), so a provider never resends it for days and nothing is lost; only a bad
//!   signature or token is refused.
//!
//! # Delivery guarantees
//!
//! No provider here takes an idempotency key, so no engine can promise exactly-once sends
//! when a worker dies between the HTTP call and recording its result. hubflow makes that
//! window explicit: a record's claim moves free → in flight → done, and a claim found in
//! flight after its lease ([`DeliveryPolicy::claim_lease`]) is an unknown outcome that the
//! flow's [`OnUnknown`] policy holds for review (default) or resends. Evidence from the
//! provider settles it: [`Flow::settle`] completes the claim on a [`Settlement`] that the
//! send was taken and releases it on one that it failed, and a done claim stays done;
//! `whatsapp::settle_statuses` does so with the status webhooks that echo a record's key.
// `doc_cfg` labels each item with the features it needs (it took in `doc_auto_cfg`, which
// Rust 1.92 removed). docs.rs passes `--cfg docsrs` on a nightly; CI builds the same way.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

// The layout follows the architecture (docs/architecture.md): the pipeline core, the ports
// the host supplies, and one folder per adapter. Public paths are re-exports, so they do not
// depend on where a file lives.
mod adapters;
mod host;
mod pipeline;
mod ports;

pub use pipeline::{condition, conversation, lookup, mapper, spec};
pub use ports::http;

pub(crate) use pipeline::{
    context, error, flow, rate, record, retry, source, target, text, trace, trigger, unreadable,
};
pub(crate) use ports::{clock, store};

#[cfg(feature = "fracttal")]
pub use adapters::fracttal;
#[cfg(feature = "http")]
pub use adapters::http as http_target;
#[cfg(feature = "rdconversas")]
pub use adapters::rdconversas;
#[cfg(feature = "rm")]
pub use adapters::rm;
#[cfg(any(
    feature = "fracttal",
    feature = "rm",
    feature = "rdconversas",
    feature = "timelines",
    feature = "twilio",
    feature = "whatsapp"
))]
pub use adapters::shared::auth;
#[cfg(feature = "timelines")]
pub use adapters::timelines;
#[cfg(feature = "twilio")]
pub use adapters::twilio;
#[cfg(feature = "whatsapp")]
pub use adapters::whatsapp;

// The guides are pages of documentation only: they exist for rustdoc and its doctests,
// never in a build a host links.
#[cfg(any(doc, doctest))]
pub mod guide;

#[cfg(feature = "axum")]
pub use host::axum;
#[cfg(feature = "graphile")]
pub mod cluster;
#[cfg(feature = "graphile")]
pub use cluster::Cluster;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "tokio")]
pub use clock::TokioClock;
pub use clock::{Clock, ManualClock};
pub use condition::{Condition, Rule};
pub use context::Context;
pub use error::{pointer_token, SpecError, SpecErrors};
pub use flow::settle::{SettleReport, Settled, Settlement, SETTLED_BY, SETTLEMENT_KIND};
pub use flow::{
    Counts, DeadLetters, DeliveryPolicy, DryRun, DryRunRecord, Failure, Flow, FlowBuilder,
    OnUnknown, Outcome, Plan, PlanError, RecordOutcome, ReportLines, ReportPolicy, RunError,
    RunReport, RunStream, Stage, StoreWrite, Timings, PRUNE_EVERY,
};
pub use lookup::{Directory, Lookup, OnMissing};
pub use mapper::{FieldMap, MapError, Mapper};
pub use rate::RateLimiter;
pub use record::{Cursor, Record};
pub use retry::{RetryDecision, RetryPolicy};
pub use source::{
    Batch, CredentialCheck, InboundRequest, Source, SourceError, WebhookReply, WebhookSource,
};
pub use spec::FlowSpec;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    Claim, ClaimStore, CursorLease, CursorStore, HistoryEntry, HistoryStore, MemoryStore,
    RateStore, SavedCursor, StateEntry, StateStore, Store, StoreError, StoreErrorKind,
};
#[cfg(feature = "postgres")]
pub use store::{PgStore, PgStoreOptions};
pub use target::{
    Action, DeliveryError, DynTarget, ErrorClass, PreparedAction, ProviderError, Receipt,
    ReportedFailure, Target, TargetError,
};
pub use trigger::{CatchUp, Trigger};
pub use unreadable::{NotUnreadable, Unreadable, KIND_UNREADABLE};
