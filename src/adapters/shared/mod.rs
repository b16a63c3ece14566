//! The client layer the adapters share: what every provider client needs once, written
//! once. No adapter is named here, and nothing here imports an adapter.

pub(crate) mod token;
