//! A native user's device: what `gk` runs, and what tests and the bridge's
//! benchmarks reuse to play gatekeeper users.
//!
//! - [`home`]: the device's local state (keys, Olm pickle, de-duplication)
//!   in a directory, secret files mode 0600.
//! - [`register`]: registration and opt-in over the native HTTP API.
//! - [`session`]: an E2EE [`Session`] over one channel: key fetch, encrypt,
//!   send and wait for the `ack`; [`incoming`] turns received stanzas into
//!   decrypted [`Event`]s and sends the receipts and acks they need.
//! - [`commands`]: the `gk` commands as data, run against a session.
//! - [`daemon`]: `gk listen` serves commands from other `gk` processes over a
//!   Unix socket in the home directory, so they share its one channel.

pub mod commands;
pub mod daemon;
pub mod events;
pub mod home;
mod incoming;
pub mod register;
pub mod session;

pub use commands::Command;
pub use events::Event;
pub use home::Home;
pub use session::{Sent, Session};

use interop_proto::stanza::StanzaError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The gatekeeper refused (the code and reason it gave).
    #[error("refused: {}", describe(.0))]
    Refused(StanzaError),
    #[error("transport: {0}")]
    Transport(#[from] interop_proto::transport::TransportError),
    #[error("encryption: {0}")]
    E2ee(#[from] interop_proto::e2ee::E2eeError),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the gatekeeper answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("local state: {0}")]
    Io(#[from] std::io::Error),
    #[error("local state is corrupt: {0}")]
    Corrupt(String),
    #[error("not registered: run `gk register` first (home {0})")]
    NotRegistered(String),
    #[error("{0}")]
    Usage(String),
    #[error("no answer from the gatekeeper in time")]
    Timeout,
    #[error("media: {0}")]
    Media(String),
}

/// A refusal in words a user understands, e.g. for 406.
pub fn describe(e: &StanzaError) -> String {
    use interop_proto::ErrorCode as C;
    let what = match e.error_code() {
        C::NotOptedIn => "recipient has not opted in",
        C::Blocked => "blocked",
        C::NotFound => "no such user or group",
        C::RateLimited => "rate limited",
        C::Unsupported => "not supported by this gatekeeper",
        C::TooLarge => "too large",
        C::NotAuthorized => "not authorized",
        C::Gone => "gone",
        C::BadRequest => "bad request",
        C::Conflict => "conflict",
        _ => "error",
    };
    format!("{what} ({} {})", e.code, e.text)
}

/// A fresh message id: 20 upper-case hex digits, like the native app's.
pub fn new_message_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02X}")).collect()
}
