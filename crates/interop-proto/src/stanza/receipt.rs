//! The `receipt` and `chatstate` stanzas: what happened to a message, and
//! whether someone is typing.
//!
//! Receipts are end-to-end signals routed by the server; a retry receipt also
//! carries fresh keys so the sender can rebuild a broken session.

use super::keys::KeyBundle;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ReceiptType {
    Unspecified = 0,
    /// Stored by the recipient's client; also removes it from the mailbox.
    Delivered = 1,
    /// Shown to the recipient.
    Read = 2,
    /// The recipient could not decrypt; resend on a new session.
    Retry = 3,
}

/// Details of a retry receipt.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    /// 1 for the first retry of this message; senders give up after 5.
    #[prost(uint32, tag = "1")]
    pub count: u32,
    /// Timestamp of the message that failed (ms since epoch).
    #[prost(uint64, tag = "2")]
    pub message_timestamp: u64,
    /// The recipient's fresh bundle; the sender starts a new session from it.
    #[prost(message, optional, tag = "3")]
    pub bundle: Option<KeyBundle>,
    /// Short machine-readable reason, e.g. `no_session`, `bad_mac`.
    #[prost(string, tag = "4")]
    pub reason: String,
}

/// The `receipt` stanza.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Receipt {
    /// The first (or only) message id this receipt is for.
    #[prost(string, tag = "1")]
    pub id: String,
    /// More message ids from the same sender (aggregated receipts).
    #[prost(string, repeated, tag = "2")]
    pub more_ids: Vec<String>,
    /// Set by the server on delivery.
    #[prost(string, tag = "3")]
    pub from: String,
    /// The original sender of the messages (or the group, with `participant`).
    #[prost(string, tag = "4")]
    pub to: String,
    /// Group receipts: the member whose messages are acknowledged.
    #[prost(string, tag = "5")]
    pub participant: String,
    #[prost(enumeration = "ReceiptType", tag = "6")]
    pub r#type: i32,
    /// When it happened (ms since epoch), set by the receipt's sender.
    #[prost(uint64, tag = "7")]
    pub timestamp: u64,
    /// Only for `Retry`.
    #[prost(message, optional, tag = "8")]
    pub retry: Option<RetryInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ChatStateKind {
    Unspecified = 0,
    Composing = 1,
    Paused = 2,
    RecordingAudio = 3,
}

/// The `chatstate` stanza (typing). Never stored: dropped if the peer is offline.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChatState {
    /// Set by the server.
    #[prost(string, tag = "1")]
    pub from: String,
    /// User or group id.
    #[prost(string, tag = "2")]
    pub to: String,
    /// In a group: the member typing.
    #[prost(string, tag = "3")]
    pub participant: String,
    #[prost(enumeration = "ChatStateKind", tag = "4")]
    pub state: i32,
}
