//! Test support for code built on hubflow (feature `testing`): everything a host needs to
//! test its flows without a network or a database.
//!
//! * [`store`]: the conformance suite every store implementation should pass.
//! * The provider fakes, in one place: each answers like its provider (ids, receipts, and
//!   on demand its error shapes). Put them behind a [`FakeClient`] in a
//!   [`Context`](crate::Context) to run flows against them; [`Flow::dry_run`](crate::Flow::dry_run)
//!   uses the same fakes.
//!
//! ```
//! use std::sync::Arc;
//! use hubflow::testing::{FakeClient, WhatsAppFake};
//! use hubflow::{Context, Flow, ManualClock, MemoryStore, Outcome, Record};
//! use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
//! use secrecy::SecretString;
//! use serde_json::json;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let whatsapp = Arc::new(WhatsAppFake::new());
//! whatsapp.fail_next(131026, "Message undeliverable");
//! let ctx = Context::new(FakeClient::new().with_arc(whatsapp.clone()),
//!     ManualClock::new(chrono::Utc::now()), MemoryStore::new());
//! let connection = WhatsAppConnection::new("1065", SecretString::from("EAAG…"));
//! let flow = Flow::builder("notify")
//!     .target(WhatsAppTarget::new(MessageKind::Template, connection))
//!     .build()
//!     .unwrap();
//! let payload = json!({"to": "5511999991234", "template": "wo_assigned", "language": "pt_BR"});
//! let report = flow.process(&ctx, vec![Record::new("wo:1", "wo", payload)]).await;
//! let Outcome::Failed { failure, .. } = &report.records[0].outcome else { panic!() };
//! assert_eq!(failure.code.as_deref(), Some("131026"));
//! assert!(whatsapp.sent().is_empty());
//! # });
//! ```

pub mod store;

pub use crate::http::{FakeClient, ProviderFake};

#[cfg(feature = "fracttal")]
pub use crate::fracttal::fake::FracttalFake;
#[cfg(feature = "http")]
pub use crate::http_target::fake::WebhookFake;
#[cfg(feature = "rdconversas")]
pub use crate::rdconversas::fake::RdConversasFake;
#[cfg(feature = "rm")]
pub use crate::rm::fake::RmFake;
#[cfg(feature = "timelines")]
pub use crate::timelines::fake::TimelinesFake;
#[cfg(feature = "whatsapp")]
pub use crate::whatsapp::fake::WhatsAppFake;
