//! Unit tests of the webhook module, one file per concern: the subscription handshake,
//! signatures and secrets in `verify`; parsing the payloads into events and records in
//! `payloads`.
//!
//! The reference payloads are read from `tests/fixtures/whatsapp/ref_*.json`, copied byte
//! for byte from the WhatsApp reference examples.

use super::*;

mod fast;
mod payloads;
mod verify;

const REF_TEXT: &str = include_str!("../../../../../tests/fixtures/whatsapp/ref_text.json");
const REF_BUTTON_REPLY: &str =
    include_str!("../../../../../tests/fixtures/whatsapp/ref_interactive_button_reply.json");
const REF_BUTTON: &str = include_str!("../../../../../tests/fixtures/whatsapp/ref_button.json");
const REF_UNSUPPORTED: &str =
    include_str!("../../../../../tests/fixtures/whatsapp/ref_unsupported.json");
const REF_DELIVERED: &str =
    include_str!("../../../../../tests/fixtures/whatsapp/ref_status_delivered_pmp.json");
const REF_FAILED: &str =
    include_str!("../../../../../tests/fixtures/whatsapp/ref_status_failed.json");
