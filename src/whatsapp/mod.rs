//! WhatsApp Cloud API: send templates and messages, receive signed webhooks.
//!
//! (Module docs are completed when the adapter lands.)

mod error;
mod message;
pub mod webhook;

pub use error::{provider_error, GraphError};
pub use message::{
    ButtonReply, ButtonSubType, Component, Content, Currency, DateTimeParameter, Interactive,
    InteractiveAction, InteractiveHeader, InteractiveKind, InteractiveText, Language, ListRow,
    ListSection, Location, Media, MessageKind, OutgoingMessage, Parameter, Reaction, ReplyButton,
    ReplyContext, SendReceipt, Template, Text, MAX_CALLBACK_DATA_CHARS,
};
