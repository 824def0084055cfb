//! What the two sides say inside the handshake: the client's credentials
//! and version, and the server's verdict.

use crate::stanza::StanzaError;

/// A partner user's credentials.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct PartnerAuth {
    /// Partner-signed JWT with `scope` = `chat` (see `auth`). Secret.
    #[prost(string, tag = "1")]
    pub jwt: String,
    /// The internal id returned by enlistment.
    #[prost(string, tag = "2")]
    pub login: String,
}

/// A native (gatekeeper) user's credentials, used by the reference CLI.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct NativeAuth {
    /// E.164 phone number.
    #[prost(string, tag = "1")]
    pub phone: String,
    /// Gatekeeper-issued access token. Secret.
    #[prost(string, tag = "2")]
    pub token: String,
}

impl std::fmt::Debug for PartnerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartnerAuth {{ login: {:?}, jwt: <redacted> }}", self.login)
    }
}

impl std::fmt::Debug for NativeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NativeAuth {{ phone: {:?}, token: <redacted> }}", self.phone)
    }
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ClientAuth {
    #[prost(message, tag = "10")]
    Partner(PartnerAuth),
    #[prost(message, tag = "11")]
    Native(NativeAuth),
}

/// The payload of the third handshake message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClientHello {
    /// Protocol version the client speaks.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    #[prost(oneof = "ClientAuth", tags = "10, 11")]
    pub auth: Option<ClientAuth>,
    /// Software name and version, for the server's logs (at most 128 bytes).
    #[prost(string, tag = "2")]
    pub client: String,
}

/// The first transport message, server to client.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServerHello {
    /// Protocol version the server will speak on this channel.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The authenticated user's internal id.
    #[prost(string, tag = "2")]
    pub user: String,
    /// Set when the server refuses; it closes right after.
    #[prost(message, optional, tag = "3")]
    pub error: Option<StanzaError>,
    /// Seconds between keep-alive pings the server expects.
    #[prost(uint32, tag = "4")]
    pub keepalive_secs: u32,
    #[prost(uint32, tag = "5")]
    pub max_frame_size: u32,
    /// Ms since epoch.
    #[prost(uint64, tag = "6")]
    pub server_time: u64,
    #[prost(string, repeated, tag = "7")]
    pub capabilities: Vec<String>,
}
