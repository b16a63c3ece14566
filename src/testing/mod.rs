//! Test support for code built on hubflow (feature `testing`).
//!
//! * [`store`]: the conformance suite every store implementation should pass.

pub mod store;
