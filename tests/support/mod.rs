//! Test support for end-to-end tests against a real Synapse on loopback.
//!
//! Integration tests include it with `mod support;`. Each file is one concept:
//!
//! - `bridge`: the bridge binary, configured, registered, started and stopped like an admin does.
//! - `synapse`: starts, restarts and stops a throwaway Synapse through `scripts/synapse.sh`.
//! - `registration`: creates users with Synapse's shared-secret admin API.
//! - `user`: a real Matrix client for a test user (rooms, messages, typed requests).
//! - `sync`: the user's `/sync` loop and waiting for timeline, ephemeral and invite events.
//! - `events`: small helpers for predicates over received events.
//! - `actions`: what a Matrix user does besides messages (redact, typing, receipts, files).
//! - `gatekeeper`: the reference gatekeeper in process, and native users (`gk`'s client).
//! - `world`: all three wired together, and the Matrix users who log in through the bot.
//! - `secrets`: the check that a bridge's log holds none of its secrets.
//! - `fake_homeserver`: a stand-in homeserver that records the bridge's calls, for tests that
//!   push hand-made (hostile) transactions to the bridge binary.

// Each test binary uses a different part of this module; unused parts are not a mistake.
#![allow(dead_code, unused_imports)]

mod actions;
mod bridge;
mod events;
pub mod fake_homeserver;
pub mod gatekeeper;
mod registration;
pub mod secrets;
mod synapse;
mod sync;
mod user;
pub mod world;

pub use bridge::{BIN as BRIDGE_BIN, Bridge};
pub use events::message_body;
pub use synapse::Synapse;
pub use sync::Invite;
pub use user::TestUser;
