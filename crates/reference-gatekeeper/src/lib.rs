//! The reference gatekeeper: a server that behaves like the gatekeeper side
//! of DMA messaging interoperability (WhatsApp, Messenger) as publicly
//! described, and `gk`, the client that plays one of its native users.
//!
//! Everything the bridge is tested, demonstrated and benchmarked against
//! runs here. It speaks the protocol of `docs/interop-protocol.md` through
//! the `interop-proto` crate and never sees plaintext.
//!
//! # Layout
//!
//! Server:
//! - [`config`]: YAML + flags; the `whatsapp`/`messenger` capability profiles.
//! - [`server`]: start, serve, graceful shutdown; housekeeping.
//! - [`http`]: enlistment, native registration and opt-in, media, JWKS.
//! - [`chat`]: the Noise-over-WebSocket endpoint: log-in, per-channel session, `iq`s.
//! - [`relay`]: routing messages, receipts, typing and acks; [`groups`]: group
//!   membership and sender-key fan-out; [`policy`]: opt-in and blocks.
//! - [`mailbox`]: store-and-forward: every queued stanza goes through it, a pump
//!   per channel sends it in order.
//! - [`hub`]: who is online. [`push`]: waking partner users over HTTPS.
//! - [`partner_jwks`]: partners' JWKS cache. [`ratelimit`]: per-sender buckets.
//! - [`store`]: SQLite, one file per table, embedded migrations.
//! - [`keys`]: the server's Noise and JWT keys.
//!
//! Client (used by `gk`, the tests and the bridge's benchmarks):
//! - [`client`]: a native device: registration, local state, an E2EE
//!   [`client::Session`] over a channel, decrypted [`client::Event`]s, and the
//!   local daemon socket that lets `gk` commands share one running `gk listen`.
//! - [`api`]: JSON bodies of the native-user HTTP API.

pub mod api;
pub mod chat;
pub mod client;
pub mod config;
pub mod error;
mod fsutil;
pub mod groups;
pub mod http;
pub mod hub;
pub mod keys;
pub mod mailbox;
pub mod partner_jwks;
pub mod policy;
pub mod push;
pub mod ratelimit;
pub mod relay;
pub mod server;
pub mod state;
pub mod store;

pub use config::{Config, PartnerConfig, Profile};
pub use server::{Running, start};
