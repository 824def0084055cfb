//! Server-originated stanzas: queued `notification`s, live `ib` server info,
//! and the `close` that ends a channel with a reason.

use super::iq::{GroupInfo, Inbox};

/// A peer's identity key changed (reinstall, new device): sessions with it
/// are void and the user should be told.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IdentityChange {
    #[prost(string, tag = "1")]
    pub user: String,
    /// New Curve25519 identity key.
    #[prost(bytes = "vec", tag = "2")]
    pub identity_key: Vec<u8>,
    /// New Ed25519 signing key.
    #[prost(bytes = "vec", tag = "3")]
    pub signing_key: Vec<u8>,
}

/// The server holds few of my one-time keys: upload more.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LowKeys {
    #[prost(uint32, tag = "1")]
    pub remaining: u32,
    #[prost(uint32, tag = "2")]
    pub low_watermark: u32,
}

/// A native user changed their opt-in or inbox choice.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OptInChange {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(bool, tag = "2")]
    pub opted_in: bool,
    #[prost(enumeration = "Inbox", tag = "3")]
    pub inbox: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlocklistChange {
    #[prost(string, repeated, tag = "1")]
    pub users: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupChange {
    #[prost(message, optional, tag = "1")]
    pub group: Option<GroupInfo>,
    /// Who made the change.
    #[prost(string, tag = "2")]
    pub actor: String,
}

/// The gatekeeper will delete this enlistment (opt-out, 30 days offline).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Unenlisted {
    #[prost(string, tag = "1")]
    pub reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CapabilitiesChange {
    #[prost(string, repeated, tag = "1")]
    pub capabilities: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum NotificationBody {
    #[prost(message, tag = "10")]
    IdentityChange(IdentityChange),
    #[prost(message, tag = "11")]
    LowKeys(LowKeys),
    #[prost(message, tag = "12")]
    OptInChange(OptInChange),
    #[prost(message, tag = "13")]
    BlocklistChange(BlocklistChange),
    #[prost(message, tag = "14")]
    GroupChange(GroupChange),
    #[prost(message, tag = "15")]
    Unenlisted(Unenlisted),
    #[prost(message, tag = "16")]
    CapabilitiesChange(CapabilitiesChange),
}

/// The `notification` stanza (server to client, queued in the mailbox,
/// acknowledged with `ack` class notification).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Notification {
    #[prost(string, tag = "1")]
    pub id: String,
    /// Ms since epoch.
    #[prost(uint64, tag = "2")]
    pub timestamp: u64,
    /// `None`: a kind this build does not know; ack it and ignore it.
    #[prost(oneof = "NotificationBody", tags = "10, 11, 12, 13, 14, 15, 16")]
    pub body: Option<NotificationBody>,
}

/// Sent first after the handshake.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerInfo {
    #[prost(string, repeated, tag = "1")]
    pub capabilities: Vec<String>,
    /// Ms since epoch.
    #[prost(uint64, tag = "2")]
    pub server_time: u64,
    /// Largest frame the server accepts, in bytes.
    #[prost(uint32, tag = "3")]
    pub max_frame_size: u32,
    /// Base URL of the gatekeeper's media host.
    #[prost(string, tag = "4")]
    pub media_host: String,
}

/// How many stanzas wait in the mailbox; delivery follows.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OfflinePending {
    #[prost(uint32, tag = "1")]
    pub count: u32,
}

/// The mailbox has been delivered; what follows is live.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OfflineComplete {
    #[prost(uint32, tag = "1")]
    pub count: u32,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum IbBody {
    #[prost(message, tag = "10")]
    ServerInfo(ServerInfo),
    #[prost(message, tag = "11")]
    OfflinePending(OfflinePending),
    #[prost(message, tag = "12")]
    OfflineComplete(OfflineComplete),
}

/// The `ib` stanza: live server information, never queued, never acked.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Ib {
    #[prost(oneof = "IbBody", tags = "10, 11, 12")]
    pub body: Option<IbBody>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CloseCode {
    Unspecified = 0,
    /// Orderly shutdown by either side.
    Normal = 1,
    /// The server or client is going down; reconnect later.
    GoingAway = 2,
    /// The peer broke the protocol (bad frame, bad record).
    ProtocolError = 3,
    /// Credentials no longer valid (JWT expired, key revoked).
    AuthFailed = 4,
    /// Another connection for the same user replaced this one.
    Replaced = 5,
    /// The user was un-enlisted.
    Unenlisted = 6,
    /// No traffic, not even keep-alives, for too long.
    IdleTimeout = 7,
    /// The server restarts or sheds load; reconnect with backoff.
    ServerError = 8,
}

/// The `close` stanza: the last frame on a channel, saying why.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Close {
    #[prost(enumeration = "CloseCode", tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub reason: String,
}
