//! Unit tests of the webhook module, one file per concern.

use super::*;

mod payloads;
