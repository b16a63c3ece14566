//! The ports a host supplies: HTTP, time and state. They import nothing from the pipeline
//! above them except the plain data types they carry.

pub(crate) mod clock;
pub mod http;
pub(crate) mod store;
