//! Every stanza type, and the `Frame` that carries exactly one of them.
//!
//! The structs are protobuf messages written with `prost` derives (no
//! build.rs, no protoc): the field tags below *are* the wire format and are
//! listed in docs/interop-protocol.md. Tags are never reused; new fields get
//! new tags, so older decoders skip them.

pub mod iq;
pub mod keys;
pub mod message;
pub mod notification;
pub mod receipt;

pub use iq::*;
pub use keys::*;
pub use message::*;
pub use notification::*;
pub use receipt::*;

/// One stanza. The variant tag is the stanza's type on the wire.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Stanza {
    #[prost(message, tag = "10")]
    Message(MessageStanza),
    #[prost(message, tag = "11")]
    Receipt(Receipt),
    #[prost(message, tag = "12")]
    Ack(Ack),
    #[prost(message, tag = "13")]
    Iq(Iq),
    #[prost(message, tag = "14")]
    IqResult(IqResult),
    #[prost(message, tag = "15")]
    Notification(Notification),
    #[prost(message, tag = "16")]
    Ib(Ib),
    #[prost(message, tag = "17")]
    ChatState(ChatState),
    #[prost(message, tag = "18")]
    Close(Close),
}

/// The unit of transmission: a protocol version and one stanza.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Frame {
    /// Major protocol version; see [`crate::PROTOCOL_VERSION`].
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// `None` after decoding means a stanza type this build does not know.
    #[prost(oneof = "Stanza", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18")]
    pub stanza: Option<Stanza>,
}

/// The stanza types by name, as the spec calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StanzaKind {
    Message,
    Receipt,
    Ack,
    Iq,
    IqResult,
    Notification,
    Ib,
    ChatState,
    Close,
}

impl StanzaKind {
    /// Every stanza type; the doc test checks each is specified.
    pub const ALL: [StanzaKind; 9] = [
        Self::Message,
        Self::Receipt,
        Self::Ack,
        Self::Iq,
        Self::IqResult,
        Self::Notification,
        Self::Ib,
        Self::ChatState,
        Self::Close,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Receipt => "receipt",
            Self::Ack => "ack",
            Self::Iq => "iq",
            Self::IqResult => "iq_result",
            Self::Notification => "notification",
            Self::Ib => "ib",
            Self::ChatState => "chatstate",
            Self::Close => "close",
        }
    }

    /// The protobuf field number of this stanza in `Frame`.
    pub fn tag(self) -> u32 {
        match self {
            Self::Message => 10,
            Self::Receipt => 11,
            Self::Ack => 12,
            Self::Iq => 13,
            Self::IqResult => 14,
            Self::Notification => 15,
            Self::Ib => 16,
            Self::ChatState => 17,
            Self::Close => 18,
        }
    }
}

impl Stanza {
    pub fn kind(&self) -> StanzaKind {
        match self {
            Self::Message(_) => StanzaKind::Message,
            Self::Receipt(_) => StanzaKind::Receipt,
            Self::Ack(_) => StanzaKind::Ack,
            Self::Iq(_) => StanzaKind::Iq,
            Self::IqResult(_) => StanzaKind::IqResult,
            Self::Notification(_) => StanzaKind::Notification,
            Self::Ib(_) => StanzaKind::Ib,
            Self::ChatState(_) => StanzaKind::ChatState,
            Self::Close(_) => StanzaKind::Close,
        }
    }
}
