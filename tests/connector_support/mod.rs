//! Test support for the interop connector, run against the reference gatekeeper in process.
//!
//! `tests/connector.rs` includes it with `mod connector_support;`. Each file is one concept:
//!
//! - `env`: a temporary world: the bridge's store, partner identity and partner endpoints on
//!   loopback, the reference gatekeeper (stoppable and restartable on the same ports), and
//!   connectors built on them.
//! - `handler`: a `RemoteEventHandler` that records every event and can be told to fail.
//! - `native`: native gatekeeper users played by the reference client.

#![allow(dead_code, unused_imports)]

mod env;
mod handler;
mod native;

pub use env::{Env, GATEKEEPER_ID, PARTNER_ID, fast_tuning};
pub use handler::Recorder;
pub use native::{Native, collect, drain};
