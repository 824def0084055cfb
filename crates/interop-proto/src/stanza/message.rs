//! The `message` stanza, its encrypted parts, and the server's `ack`.
//!
//! A message is an envelope the gatekeeper can route but not read: routing
//! fields in the clear, content only inside `enc` parts encrypted per
//! recipient device (pairwise) or per group (sender key).

/// How a message is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageKind {
    Unspecified = 0,
    /// 1:1: `to` is a user id.
    Chat = 1,
    /// Group: `to` is a group id; the server fans out.
    Group = 2,
}

/// Which cipher an `enc` part uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum EncType {
    Unspecified = 0,
    /// Olm pre-key message: opens a new pairwise session.
    Pkmsg = 1,
    /// Olm normal message on an established pairwise session.
    Msg = 2,
    /// Megolm (sender key) group message.
    Skmsg = 3,
}

/// One encrypted part of a message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Enc {
    /// Recipient user id for `pkmsg`/`msg`; empty for `skmsg`.
    #[prost(string, tag = "1")]
    pub recipient: String,
    #[prost(enumeration = "EncType", tag = "2")]
    pub r#type: i32,
    /// The cipher's own message bytes (see the spec for each type).
    #[prost(bytes = "vec", tag = "3")]
    pub ciphertext: Vec<u8>,
    /// E2EE scheme, as in `KeyBundle.scheme` (1 = `olm-v1`).
    #[prost(uint32, tag = "4")]
    pub scheme: u32,
    /// For `skmsg`: the sender-key session id the receiver must use.
    #[prost(string, tag = "5")]
    pub sender_key_id: String,
}

/// The `message` stanza.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MessageStanza {
    /// Sender-chosen id, unique per sender, at most 64 bytes; the idempotency key.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Sender; set by the server, ignored when a client sends it.
    #[prost(string, tag = "2")]
    pub from: String,
    /// Recipient user id, or group id for group messages.
    #[prost(string, tag = "3")]
    pub to: String,
    /// In a delivered group message: the member who sent it (`from` is the group).
    #[prost(string, tag = "4")]
    pub participant: String,
    /// Milliseconds since the Unix epoch; set by the server when accepted.
    #[prost(uint64, tag = "5")]
    pub timestamp: u64,
    #[prost(enumeration = "MessageKind", tag = "6")]
    pub kind: i32,
    #[prost(message, repeated, tag = "7")]
    pub enc: Vec<Enc>,
    /// Set by the server when delivered from the offline mailbox.
    #[prost(bool, tag = "8")]
    pub offline: bool,
    /// 0 for the first send; n for the n-th resend after a retry receipt.
    #[prost(uint32, tag = "9")]
    pub retry_count: u32,
}

/// A failure with a reason, used by `ack`, `iq` results and the handshake.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct StanzaError {
    /// See [`crate::ErrorCode`].
    #[prost(uint32, tag = "1")]
    pub code: u32,
    /// Human-readable reason, for logs and for the user.
    #[prost(string, tag = "2")]
    pub text: String,
    /// For 429 and 503: wait at least this long before retrying.
    #[prost(uint64, tag = "3")]
    pub retry_after_ms: u64,
}

impl StanzaError {
    pub fn new(code: crate::ErrorCode, text: impl Into<String>) -> Self {
        Self { code: code.as_u32(), text: text.into(), retry_after_ms: 0 }
    }

    pub fn error_code(&self) -> crate::ErrorCode {
        crate::ErrorCode::from_u32(self.code)
    }
}

impl std::fmt::Display for StanzaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

impl std::error::Error for StanzaError {}

/// What an `ack` acknowledges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum AckClass {
    Unspecified = 0,
    Message = 1,
    Receipt = 2,
    Notification = 3,
}

/// `ack`: the server accepted (or refused) a client's message or receipt;
/// the client confirms it stored a receipt or notification.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ack {
    /// The acknowledged stanza's id.
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(enumeration = "AckClass", tag = "2")]
    pub class: i32,
    /// The acknowledged stanza's `from` (client acks) or `to` (server acks).
    #[prost(string, tag = "3")]
    pub peer: String,
    /// Server acks: when the server accepted it (ms since epoch).
    #[prost(uint64, tag = "4")]
    pub timestamp: u64,
    /// Absent on success.
    #[prost(message, optional, tag = "5")]
    pub error: Option<StanzaError>,
}
