//! The chat channel: Noise over WebSocket.
//!
//! WebSocket gives framing through proxies and load balancers; Noise gives
//! confidentiality and mutual authentication by static keys regardless of
//! TLS (plain `ws://` on loopback is fine). The pattern is
//! `Noise_XX_25519_ChaChaPoly_BLAKE2s`; the client's third handshake message
//! carries its [`ClientHello`] (protocol version and credentials), and the
//! server's first transport message is its [`ServerHello`].
//!
//! After the handshake both sides hold a [`Channel`]: send and receive
//! stanzas, WebSocket pings as keep-alives, and a [`Channel::close`] with a
//! reason.

mod channel;
mod client;
mod hello;
mod keypair;
mod record;
mod server;

pub use channel::{Channel, ChannelConfig, ChannelSender};
pub use client::{ClientConfig, connect, handshake as client_handshake};
pub use hello::{ClientAuth, ClientHello, NativeAuth, PartnerAuth, ServerHello};
pub use keypair::NoiseKeypair;
pub use server::{PendingClient, ServerConfig, accept, handshake as server_handshake};

use crate::frame::FrameError;
use crate::stanza::{CloseCode, StanzaError};

/// The Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";

/// Bound into the handshake hash, so a handshake for another protocol never
/// completes as ours.
pub const PROLOGUE: &[u8] = b"interop-proto";

/// Why the channel failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    #[error("noise: {0}")]
    Noise(#[from] snow::Error),
    #[error("handshake: {0}")]
    Handshake(&'static str),
    #[error("handshake did not finish in time")]
    HandshakeTimeout,
    #[error("the server's static key is not the expected one")]
    ServerKeyMismatch,
    #[error("malformed hello: {0}")]
    Hello(#[from] prost::DecodeError),
    #[error("the server refused the connection: {0}")]
    Rejected(StanzaError),
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    #[error("record larger than the frame limit")]
    RecordTooLarge,
    #[error("the peer closed the channel: {code:?} {reason}")]
    Closed { code: CloseCode, reason: String },
    #[error("the connection was lost")]
    ConnectionLost,
    #[error("no traffic from the peer within the keep-alive timeout")]
    IdleTimeout,
    #[error("the channel is closed")]
    ChannelClosed,
}

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::WebSocket(Box::new(e))
    }
}

#[cfg(test)]
mod tests;
