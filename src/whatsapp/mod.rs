//! WhatsApp Cloud API: send templates and messages, receive signed webhooks.
//!
//! (Module docs are completed when the adapter lands.)

mod error;
mod message;
pub mod webhook;

pub use error::*;
pub use message::*;
