//! The `iq` request/response stanzas: everything that is a question to the
//! server rather than a message to a user.
//!
//! Each request has an id chosen by the client; the server answers with an
//! `iq_result` carrying the same id and exactly one result or an error.

use super::keys::{KeyBundle, OneTimeKey, SignedPrekey};
use super::message::StanzaError;

/// Upload one-time keys (and optionally a rotated signed prekey).
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyUpload {
    #[prost(message, optional, tag = "1")]
    pub signed_prekey: Option<SignedPrekey>,
    #[prost(message, repeated, tag = "2")]
    pub one_time_keys: Vec<OneTimeKey>,
}

/// Fetch bundles for users; the server hands out (and deletes) one one-time key each.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyFetch {
    #[prost(string, repeated, tag = "1")]
    pub users: Vec<String>,
}

/// How many of my one-time keys the server still holds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyCount {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlocklistGet {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum BlockAction {
    Unspecified = 0,
    Block = 1,
    Unblock = 2,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BlocklistSet {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(enumeration = "BlockAction", tag = "2")]
    pub action: i32,
}

/// Reachability: may I message this phone number or user, and under which id?
#[derive(Clone, PartialEq, prost::Message)]
pub struct Reachability {
    /// E.164 phone number; or empty when `user` is set.
    #[prost(string, tag = "1")]
    pub phone: String,
    #[prost(string, tag = "2")]
    pub user: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProfileGet {
    #[prost(string, tag = "1")]
    pub user: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupCreate {
    #[prost(string, tag = "1")]
    pub subject: String,
    /// Members other than the creator.
    #[prost(string, repeated, tag = "2")]
    pub participants: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupGet {
    #[prost(string, tag = "1")]
    pub group: String,
}

/// Change a group: add/remove members, rename. Only admins may.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupUpdate {
    #[prost(string, tag = "1")]
    pub group: String,
    #[prost(string, repeated, tag = "2")]
    pub add: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub remove: Vec<String>,
    /// Empty: unchanged.
    #[prost(string, tag = "4")]
    pub subject: String,
}

/// The question in an `iq`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum IqQuery {
    #[prost(message, tag = "10")]
    KeyUpload(KeyUpload),
    #[prost(message, tag = "11")]
    KeyFetch(KeyFetch),
    #[prost(message, tag = "12")]
    KeyCount(KeyCount),
    #[prost(message, tag = "13")]
    BlocklistGet(BlocklistGet),
    #[prost(message, tag = "14")]
    BlocklistSet(BlocklistSet),
    #[prost(message, tag = "15")]
    Reachability(Reachability),
    #[prost(message, tag = "16")]
    ProfileGet(ProfileGet),
    #[prost(message, tag = "17")]
    GroupCreate(GroupCreate),
    #[prost(message, tag = "18")]
    GroupGet(GroupGet),
    #[prost(message, tag = "19")]
    GroupUpdate(GroupUpdate),
}

/// The `iq` stanza (client to server).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Iq {
    /// Client-chosen request id; echoed in the result.
    #[prost(string, tag = "1")]
    pub id: String,
    /// `None` means a query this build does not know (answer 400).
    #[prost(oneof = "IqQuery", tags = "10, 11, 12, 13, 14, 15, 16, 17, 18, 19")]
    pub query: Option<IqQuery>,
}

/// One user's bundle in a key-fetch answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserKeyBundle {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(message, optional, tag = "2")]
    pub bundle: Option<KeyBundle>,
    /// Set instead of `bundle` for unknown, blocked or not-opted-in users.
    #[prost(message, optional, tag = "3")]
    pub error: Option<StanzaError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyBundles {
    #[prost(message, repeated, tag = "1")]
    pub bundles: Vec<UserKeyBundle>,
}

/// Answer to `KeyUpload` and `KeyCount`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyCountResult {
    /// One-time keys the server now holds for the caller.
    #[prost(uint32, tag = "1")]
    pub count: u32,
    /// Below this the server sends a `low_keys` notification.
    #[prost(uint32, tag = "2")]
    pub low_watermark: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Blocklist {
    #[prost(string, repeated, tag = "1")]
    pub users: Vec<String>,
}

/// Which inbox a native user chose for third-party chats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Inbox {
    Unspecified = 0,
    /// A separate "third-party chats" folder.
    Separate = 1,
    /// Mixed with native chats.
    Combined = 2,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ReachabilityResult {
    /// Internal id to address; empty if no such user.
    #[prost(string, tag = "1")]
    pub user: String,
    /// The user exists and accepts third-party chats from this partner.
    #[prost(bool, tag = "2")]
    pub reachable: bool,
    #[prost(bool, tag = "3")]
    pub opted_in: bool,
    #[prost(enumeration = "Inbox", tag = "4")]
    pub inbox: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    #[prost(string, tag = "1")]
    pub user: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    /// Media URL on the gatekeeper's media host; empty if none.
    #[prost(string, tag = "3")]
    pub avatar_url: String,
    #[prost(string, tag = "4")]
    pub about: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GroupInfo {
    #[prost(string, tag = "1")]
    pub group: String,
    #[prost(string, tag = "2")]
    pub subject: String,
    #[prost(string, tag = "3")]
    pub creator: String,
    #[prost(string, repeated, tag = "4")]
    pub participants: Vec<String>,
    #[prost(string, repeated, tag = "5")]
    pub admins: Vec<String>,
    /// Ms since epoch.
    #[prost(uint64, tag = "6")]
    pub created: u64,
}

/// Plain success with nothing to say (e.g. `BlocklistSet`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Done {}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum IqAnswer {
    #[prost(message, tag = "10")]
    Error(StanzaError),
    #[prost(message, tag = "11")]
    Done(Done),
    #[prost(message, tag = "12")]
    KeyBundles(KeyBundles),
    #[prost(message, tag = "13")]
    KeyCount(KeyCountResult),
    #[prost(message, tag = "14")]
    Blocklist(Blocklist),
    #[prost(message, tag = "15")]
    Reachability(ReachabilityResult),
    #[prost(message, tag = "16")]
    Profile(Profile),
    #[prost(message, tag = "17")]
    Group(GroupInfo),
}

/// The `iq_result` stanza (server to client).
#[derive(Clone, PartialEq, prost::Message)]
pub struct IqResult {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(oneof = "IqAnswer", tags = "10, 11, 12, 13, 14, 15, 16, 17")]
    pub answer: Option<IqAnswer>,
}
