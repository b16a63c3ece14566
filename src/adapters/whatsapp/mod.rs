//! WhatsApp Cloud API (feature `whatsapp`): send templates and messages, receive signed
//! webhooks.
//!
//! * **Sending**: [`WhatsAppTarget`] turns a mapped payload into an [`OutgoingMessage`]
//!   (kinds `whatsapp.template`, `whatsapp.text`, `whatsapp.document`,
//!   `whatsapp.interactive`, `whatsapp.image`, `whatsapp.audio`, `whatsapp.video`), checks it before anything is sent, keeps the 24-hour window
//!   and the rate limits, and classifies every Meta error ([`GraphError::class`]).
//! * **Receiving**: [`webhook`] verifies the subscription handshake and the
//!   `X-Hub-Signature-256` signature, and parses messages and statuses into records
//!   ([`webhook::WhatsAppWebhook`] is the ready-made [`WebhookSource`](crate::WebhookSource)).
//! * **Media**: [`media`] uploads the host's files (payloads with `"file"`, given a
//!   [`media::MediaProvider`]) and downloads customers' attachments, checked against
//!   WhatsApp's limits and sha256, into the host's store ([`media::SaveMediaTarget`]).
//! * **What Meta said**: [`remember`] takes in a webhook's records: when each customer
//!   last wrote (the 24-hour window), templates' statuses and categories, users' marketing
//!   choices. Template sends with a paused template, or marketing ones to a user who
//!   stopped them, are refused before any request ([`TemplateCheck`]).
//! * **Unknown outcomes**: [`settle_statuses`] settles sends whose answer was lost with the
//!   status webhooks that echo their record key ([`Flow::settle`](crate::Flow::settle)).
//!
//! ```
//! use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
//! use hubflow::{FieldMap, Flow, Plan, Record};
//! use secrecy::SecretString;
//! use serde_json::json;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ctx = hubflow::Context::new(hubflow::http::RecordingClient::new(), hubflow::ManualClock::new(chrono::Utc::now()), hubflow::MemoryStore::new());
//!
//! let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
//! let flow = Flow::builder("wo-assigned")
//!     .map(FieldMap::new(json!({
//!         "to": "{{ phone | phone('BR') }}",
//!         "template": "wo_assignment",
//!         "language": "pt_BR",
//!         "body": ["{{ user_assigned }}", "{{ wo_folio }}"]
//!     })).unwrap())
//!     .target(WhatsAppTarget::new(MessageKind::Template, connection))
//!     .build()
//!     .unwrap();
//! let record = Record::new("fracttal:wo:5001:1", "fracttal.work_order",
//!     json!({"phone": "(11) 99999-1234", "user_assigned": "Jonas Campos", "wo_folio": "OT-1021"}));
//! let Plan::Send(action) = flow.plan(&ctx, &record).await.unwrap() else { unreachable!() };
//! let send = action.downcast_ref::<hubflow::whatsapp::WhatsAppSend>().unwrap();
//! let body = send.message().json_body().unwrap();
//! assert_eq!(body["to"], "5511999991234");
//! assert_eq!(body["biz_opaque_callback_data"], "fracttal:wo:5001:1");
//! // The credentials are added when the message is sent, never kept in the plan.
//! assert!(send.message().headers.get("authorization").is_none());
//! # });
//! ```
//!
//! The guide `docs/whatsapp.md` covers the setup on Meta's side and every error code.

mod catalog;
mod error;
pub mod fake;
mod lifecycle;
pub mod media;
mod message;
mod settle;
mod target;
pub mod webhook;
mod window;

pub use catalog::{
    preflight, ButtonSlot, CatalogTemplate, HeaderSlot, PreflightError, TemplateCatalog,
    CATALOG_SCOPE, DEFAULT_CATALOG_TTL,
};
pub use error::{provider_error, GraphError};
pub use lifecycle::{
    marketing_choice, remember, template_state, MarketingChoice, Remembered, TemplateCheck,
    TemplateState, MARKETING_SCOPE, TEMPLATE_SCOPE,
};
pub use message::{
    ButtonReply, ButtonSubType, Component, Content, Currency, DateTimeParameter, Interactive,
    InteractiveAction, InteractiveHeader, InteractiveKind, InteractiveText, Language, ListRow,
    ListSection, Location, Media, MessageKind, OutgoingMessage, Parameter, Reaction, ReplyButton,
    ReplyContext, SendReceipt, Template, Text, MAX_CALLBACK_DATA_CHARS,
};
pub use settle::{
    settle_statuses, NotSettleable, StatusAnswer, StatusSettlement, StatusSettlements,
};
pub(crate) use target::register;
pub use target::{
    OutsideWindow, WhatsAppConnection, WhatsAppSend, WhatsAppTarget, WhenClosed, WindowCheck,
    DEFAULT_API_VERSION, DEFAULT_BASE_URL,
};
pub use window::{last_inbound, remember_inbound, SERVICE_WINDOW};
