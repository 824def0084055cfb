//! Public key material as it travels in stanzas.
//!
//! A key bundle is what one endpoint needs to open an encrypted session to
//! another: identity keys, a signed prekey and (when the server still has
//! one) a one-time key. The same shapes are used for key upload, key fetch
//! and retry receipts. Private keys never appear here.

/// A prekey signed by the owner's Ed25519 signing key.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SignedPrekey {
    /// Owner-chosen id, increasing on rotation.
    #[prost(uint32, tag = "1")]
    pub id: u32,
    /// Curve25519 public key, 32 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    /// Ed25519 signature, 64 bytes, over
    /// `"interop-proto/v1 signed-prekey" || identity_key || key`.
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
}

/// A one-time prekey: used for at most one session, then deleted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OneTimeKey {
    /// Curve25519 public key, 32 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
}

/// Everything needed to start a session with one user.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyBundle {
    /// E2EE scheme: 1 = `olm-v1` (vodozemac Olm/Megolm, see the spec).
    #[prost(uint32, tag = "1")]
    pub scheme: u32,
    /// Curve25519 identity key, 32 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub identity_key: Vec<u8>,
    /// Ed25519 signing key, 32 bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub signing_key: Vec<u8>,
    #[prost(message, optional, tag = "4")]
    pub signed_prekey: Option<SignedPrekey>,
    /// Absent when the owner's supply ran out; the signed prekey is used then.
    #[prost(message, optional, tag = "5")]
    pub one_time_key: Option<OneTimeKey>,
}
