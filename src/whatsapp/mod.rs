//! WhatsApp Cloud API: send templates and messages, receive signed webhooks.
//!
//! (Module docs are completed when the adapter lands.)

#[allow(dead_code)]
mod error;
#[allow(dead_code)]
mod message;
pub mod webhook;
mod window;

pub use window::{remember_inbound, SERVICE_WINDOW};
