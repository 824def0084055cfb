//! Enlistment: the partner registers one of its users with the gatekeeper.
//!
//! `POST {gatekeeper_base}/v1/enlist` with a JSON [`EnlistRequest`]; the
//! answer is an [`EnlistResponse`] carrying the gatekeeper-internal id. One
//! encryption identity per partner user: enlisting again replaces the keys
//! (and triggers identity-change notices to the user's contacts).

use serde::{Deserialize, Serialize};

use crate::e2ee::SCHEME_OLM_V1;
use crate::stanza::{KeyBundle, OneTimeKey, SignedPrekey};

/// Path of the enlistment endpoint, relative to the gatekeeper base URL.
pub const ENLIST_PATH: &str = "v1/enlist";
/// Path of the un-enlistment endpoint.
pub const UNENLIST_PATH: &str = "v1/unenlist";
/// `key_type` for Curve25519 (the value Signal and WhatsApp use).
pub const KEY_TYPE_CURVE25519: u8 = 5;
/// Largest accepted token, in bytes.
pub const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSignedPrekey {
    pub id: u32,
    #[serde(with = "crate::b64")]
    pub key: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub signature: Vec<u8>,
}

/// The enlistment body. Binary fields are base64url without padding.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnlistRequest {
    /// Partner id; equals the token's `iss`.
    pub partner: String,
    /// Partner user-visible id (e.g. a Matrix ID); equals the token's `sub`.
    pub user: String,
    /// The user's Noise static public key, 32 bytes.
    #[serde(with = "crate::b64")]
    pub authkey: Vec<u8>,
    /// Always [`KEY_TYPE_CURVE25519`].
    pub key_type: u8,
    /// E2EE scheme (1 = `olm-v1`).
    pub scheme: u32,
    #[serde(with = "crate::b64")]
    pub identity_key: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub signing_key: Vec<u8>,
    pub signed_prekey: WireSignedPrekey,
    #[serde(with = "crate::b64::list", default)]
    pub one_time_keys: Vec<Vec<u8>>,
    /// Partner-signed JWT, scope `enlist`, bound to `authkey`.
    pub token: String,
}

impl std::fmt::Debug for EnlistRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnlistRequest")
            .field("partner", &self.partner)
            .field("user", &self.user)
            .field("authkey", &crate::hex(&self.authkey))
            .field("one_time_keys", &self.one_time_keys.len())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl EnlistRequest {
    /// Checks lengths and types (not the token or signature: the gatekeeper does those).
    pub fn validate(&self) -> Result<(), EnlistFailure> {
        let ok = self.authkey.len() == 32
            && self.key_type == KEY_TYPE_CURVE25519
            && self.identity_key.len() == 32
            && self.signing_key.len() == 32
            && self.signed_prekey.key.len() == 32
            && self.signed_prekey.signature.len() == 64
            && self.one_time_keys.len() <= 100
            && self.one_time_keys.iter().all(|k| k.len() == 32);
        if !ok || self.scheme != SCHEME_OLM_V1 {
            return Err(EnlistFailure::BadKeys);
        }
        if self.token.is_empty() || self.token.len() > MAX_TOKEN_LEN {
            return Err(EnlistFailure::BadToken);
        }
        Ok(())
    }

    /// The authkey as an array, once validated.
    pub fn authkey_array(&self) -> Option<[u8; 32]> {
        self.authkey.as_slice().try_into().ok()
    }

    /// The bundle others fetch (without a one-time key: the server adds one).
    pub fn key_bundle(&self) -> KeyBundle {
        KeyBundle {
            scheme: self.scheme,
            identity_key: self.identity_key.clone(),
            signing_key: self.signing_key.clone(),
            signed_prekey: Some(SignedPrekey {
                id: self.signed_prekey.id,
                key: self.signed_prekey.key.clone(),
                signature: self.signed_prekey.signature.clone(),
            }),
            one_time_key: None,
        }
    }

    /// The one-time keys in stanza form.
    pub fn one_time_key_list(&self) -> Vec<OneTimeKey> {
        self.one_time_keys.iter().map(|k| OneTimeKey { key: k.clone() }).collect()
    }
}

/// Why enlistment failed; also tells the HTTP status to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnlistFailure {
    /// Unknown partner, or partner not allowed (HTTP 403).
    BadIntegrator,
    /// Token missing, malformed, unverifiable, wrong scope or not bound to authkey (401).
    BadToken,
    /// A valid token past its expiry: sign a fresh one (401).
    ExpiredToken,
    /// Keys of the wrong length/type or a bad prekey signature (400).
    BadKeys,
    /// Too many requests (429, with `Retry-After`).
    RateLimited,
    /// Un-enlist of a user that is not enlisted (404).
    NotEnlisted,
    /// A reason this build does not know.
    #[serde(other)]
    Unknown,
}

impl EnlistFailure {
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadIntegrator => 403,
            Self::BadToken | Self::ExpiredToken => 401,
            Self::BadKeys => 400,
            Self::RateLimited => 429,
            Self::NotEnlisted => 404,
            Self::Unknown => 400,
        }
    }
}

/// `{"status":"ok","login":"1-…@interop"}` or `{"status":"fail","reason":"bad_token"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EnlistResponse {
    Ok {
        /// The gatekeeper-internal id to log in with and be addressed by.
        login: String,
    },
    Fail {
        reason: EnlistFailure,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
}

/// `POST {gatekeeper_base}/v1/unenlist`: the user leaves; the gatekeeper
/// deletes its keys and mailbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnenlistRequest {
    pub partner: String,
    pub user: String,
    /// Partner-signed JWT, scope `enlist`.
    pub token: String,
}

impl std::fmt::Debug for UnenlistRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UnenlistRequest {{ partner: {:?}, user: {:?}, token: <redacted> }}",
            self.partner, self.user
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::e2ee::{E2ee, OlmEndpoint, verify_bundle};

    #[test]
    fn request_from_endpoint_round_trips_as_json() {
        let mut e = OlmEndpoint::new();
        let ids = e.identity_keys();
        let spk = e.signed_prekey();
        let req = EnlistRequest {
            partner: "example.org".into(),
            user: "@alice:example.org".into(),
            authkey: vec![3; 32],
            key_type: KEY_TYPE_CURVE25519,
            scheme: SCHEME_OLM_V1,
            identity_key: ids.curve25519.to_vec(),
            signing_key: ids.ed25519.to_vec(),
            signed_prekey: WireSignedPrekey { id: spk.id, key: spk.key, signature: spk.signature },
            one_time_keys: e.generate_one_time_keys(3).into_iter().map(|k| k.key).collect(),
            token: "a.b.c".into(),
        };
        req.validate().unwrap();
        let json = serde_json::to_string(&req).unwrap();
        assert!(!json.contains('='), "no padding: {json}");
        let back: EnlistRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
        assert_eq!(verify_bundle(&back.key_bundle()).unwrap(), ids);
        assert!(!format!("{req:?}").contains("a.b.c"));
        let mut bad = req.clone();
        bad.signing_key.pop();
        assert_eq!(bad.validate(), Err(EnlistFailure::BadKeys));
    }

    #[test]
    fn responses() {
        let ok: EnlistResponse =
            serde_json::from_str(r#"{"status":"ok","login":"1-5@interop"}"#).unwrap();
        assert_eq!(ok, EnlistResponse::Ok { login: "1-5@interop".into() });
        let fail: EnlistResponse =
            serde_json::from_str(r#"{"status":"fail","reason":"bad_integrator"}"#).unwrap();
        assert_eq!(
            fail,
            EnlistResponse::Fail { reason: EnlistFailure::BadIntegrator, detail: String::new() }
        );
        let fut: EnlistResponse =
            serde_json::from_str(r#"{"status":"fail","reason":"moon_phase"}"#).unwrap();
        assert!(matches!(fut, EnlistResponse::Fail { reason: EnlistFailure::Unknown, .. }));
        assert_eq!(EnlistFailure::BadToken.http_status(), 401);
    }
}
