//! The guides, as docs.rs shows them: the same pages as the repository's `docs/` folder,
//! included here so that a user reading the reference finds them beside it.
//!
//! Their Rust examples are compiled as doctests, so a guide cannot drift from the API it
//! describes. Each guide is present when its feature is (all of them on docs.rs).
//!
//! | guide | what it covers |
//! |---|---|
//! | [`deployment`] | which store for which deployment: SQLite in one process, PostgreSQL for many workers, the cluster; backups, retention, upgrades |
//! | [`whatsapp`] | the WhatsApp Cloud API: Meta's side, the flow spec forms, every error Meta returns, webhooks, statuses, media |
//! | [`twilio`] | Twilio as a second WhatsApp provider: Content templates, signed webhooks |
//! | [`timelines`] | TimelinesAI: webhook intake and sending |
//! | [`fracttal`] | Fracttal One: the sources, events, work requests and notes; the Fracttal Hub notifications |
//! | [`rm`] | RM-style ERPs: daily appointment confirmations, the answers routed back, booking |
//! | [`conversation`] | conversations as data: the spec, its engine, the booking flow |
//! | [`architecture`] | the layout, the ports and their semantics, the design decisions and why |
//! | [`performance`] | the benchmarks: what is measured against which bare limit, and the figures |

// The pages are written for any Markdown reader, where `[oai]` or `[doc]` (a fact's source)
// is text; rustdoc would take such brackets for links to items. The guides link to nothing
// by item path, so no link here can be a broken item link.
#![allow(rustdoc::broken_intra_doc_links)]

#[doc = include_str!("../docs/deployment.md")]
#[cfg(all(feature = "sqlite", feature = "graphile", feature = "reqwest"))]
pub mod deployment {}

#[doc = include_str!("../docs/whatsapp.md")]
#[cfg(feature = "whatsapp")]
pub mod whatsapp {}

#[doc = include_str!("../docs/twilio.md")]
#[cfg(feature = "twilio")]
pub mod twilio {}

#[doc = include_str!("../docs/timelines.md")]
#[cfg(feature = "timelines")]
pub mod timelines {}

#[doc = include_str!("../docs/fracttal.md")]
#[cfg(feature = "fracttal")]
pub mod fracttal {}

#[doc = include_str!("../docs/rm.md")]
#[cfg(feature = "rm")]
pub mod rm {}

#[doc = include_str!("../docs/conversation.md")]
#[cfg(all(feature = "whatsapp", feature = "rm"))]
pub mod conversation {}

#[doc = include_str!("../docs/architecture.md")]
pub mod architecture {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}
