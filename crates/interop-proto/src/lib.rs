//! The interop protocol between a DMA gatekeeper and a partner service.
//!
//! Shared by the bridge (the partner side) and the reference gatekeeper, so
//! both speak exactly the same bytes. It knows nothing of Matrix. The
//! specification is `docs/interop-protocol.md`; this crate is its reference
//! implementation.
//!
//! # Layout
//!
//! - [`ids`]: gatekeeper-internal ids and E.164 phone numbers.
//! - [`error_code`]: the numeric error codes every failure carries.
//! - [`capability`]: the capability set a gatekeeper advertises.
//! - [`stanza`]: every stanza type (protobuf via `prost` derives) and `Frame`.
//! - [`frame`]: frame encode/decode with version check and size limit.
//! - [`content`]: the encrypted payload: text, mentions, media, replies,
//!   reactions, edits, deletes; and the `Envelope` around it.
//! - [`media_crypto`]: AES-256-CTR + SHA-256 blob encryption for media.
//! - [`transport`]: Noise XX over WebSocket: client `connect`, server
//!   `accept`, and the `Channel` with keep-alives and clean close.
//! - [`e2ee`]: the `E2ee` trait and its vodozemac (Olm/Megolm) implementation:
//!   key bundles, pairwise sessions, sender keys, encrypted pickles.
//! - [`auth`]: JWT claims, Ed25519 signing keys, JWKS, verify helpers.
//! - [`enlist`]: enlistment HTTPS request and response bodies.
//! - [`push`]: the gatekeeper's push request body.

pub mod auth;
mod b64;
pub mod capability;
pub mod content;
pub mod e2ee;
pub mod enlist;
pub mod error_code;
pub mod frame;
pub mod ids;
pub mod media_crypto;
pub mod push;
pub mod stanza;
pub mod transport;

pub use capability::{Capability, CapabilitySet};
pub use error_code::ErrorCode;
pub use frame::{DEFAULT_MAX_FRAME_SIZE, FrameError, PROTOCOL_VERSION};
pub use ids::{IdError, PhoneNumber, UserId};
pub use stanza::{Stanza, StanzaKind};

/// Lower-case hex, for logging public values (hashes, public keys).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the Unix epoch, for timestamps on the wire.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
