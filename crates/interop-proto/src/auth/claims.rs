//! The claims every interop JWT carries.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may be used for; checked by the verifier so a push token
/// cannot log in and an enlistment token cannot be replayed as a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Partner -> gatekeeper: enlist or un-enlist a user.
    Enlist,
    /// Partner -> gatekeeper: log a user in on the chat channel.
    Chat,
    /// Gatekeeper -> partner: wake a user (`POST {partner_base}/push`).
    Push,
    /// Gatekeeper -> partner: fetch partner-hosted media.
    Media,
}

/// JWT claims (RFC 7519 names plus `scope` and `authkey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the partner id (e.g. `example.org`) or the gatekeeper id.
    pub iss: String,
    /// Subject: the partner user-visible id (e.g. `@alice:example.org`).
    pub sub: String,
    /// Audience: the receiving party's id.
    pub aud: String,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// Unique token id (random), for replay logs.
    pub jti: String,
    pub scope: Scope,
    /// For `enlist` and `chat`: [`authkey_thumbprint`] of the user's Noise
    /// static key, binding the token to that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authkey: Option<String>,
}

impl Claims {
    /// Claims valid from now for `ttl_secs`.
    pub fn new(iss: &str, sub: &str, aud: &str, scope: Scope, ttl_secs: u64) -> Self {
        let iat = crate::now_ms() / 1000;
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        Self {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            iat,
            exp: iat + ttl_secs,
            jti: crate::hex(&jti),
            scope,
            authkey: None,
        }
    }

    /// Binds the token to a transport key.
    pub fn with_authkey(mut self, authkey: &[u8; 32]) -> Self {
        self.authkey = Some(authkey_thumbprint(authkey));
        self
    }
}

/// base64url (no padding) of SHA-256 of the 32-byte authkey.
pub fn authkey_thumbprint(authkey: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(authkey))
}
