//! Building and checking key bundles.
//!
//! The signature over the signed prekey also covers the identity key, so a
//! server cannot pair one user's signing key with another's identity.

use vodozemac::{Curve25519PublicKey, Ed25519PublicKey, Ed25519Signature};

use super::{E2eeError, SCHEME_OLM_V1};
use crate::stanza::KeyBundle;

const PREKEY_CONTEXT: &[u8] = b"interop-proto/v1 signed-prekey";

/// An endpoint's public identity: what changes on reinstall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityKeys {
    /// Curve25519 identity key (Olm's identity key).
    pub curve25519: [u8; 32],
    /// Ed25519 signing key (signs prekeys).
    pub ed25519: [u8; 32],
}

/// The bytes signed for a signed prekey.
pub fn signed_prekey_message(identity_key: &[u8], prekey: &[u8]) -> Vec<u8> {
    [PREKEY_CONTEXT, identity_key, prekey].concat()
}

/// Keys extracted from a checked bundle.
pub(crate) struct CheckedBundle {
    pub identity: Curve25519PublicKey,
    pub signing: Ed25519PublicKey,
    /// The one-time key if present, else the signed prekey.
    pub session_key: Curve25519PublicKey,
}

pub(crate) fn curve(bytes: &[u8], what: &'static str) -> Result<Curve25519PublicKey, E2eeError> {
    Curve25519PublicKey::from_slice(bytes).map_err(|_| E2eeError::BadKey(what))
}

pub(crate) fn ed(bytes: &[u8], what: &'static str) -> Result<Ed25519PublicKey, E2eeError> {
    let arr: &[u8; 32] = bytes.try_into().map_err(|_| E2eeError::BadKey(what))?;
    Ed25519PublicKey::from_slice(arr).map_err(|_| E2eeError::BadKey(what))
}

pub(crate) fn check(bundle: &KeyBundle) -> Result<CheckedBundle, E2eeError> {
    if bundle.scheme != SCHEME_OLM_V1 {
        return Err(E2eeError::UnsupportedScheme(bundle.scheme));
    }
    let identity = curve(&bundle.identity_key, "identity key")?;
    let signing = ed(&bundle.signing_key, "signing key")?;
    let spk = bundle.signed_prekey.as_ref().ok_or(E2eeError::BadKey("missing signed prekey"))?;
    let prekey = curve(&spk.key, "signed prekey")?;
    let sig = Ed25519Signature::from_slice(&spk.signature).map_err(|_| E2eeError::BadSignature)?;
    signing
        .verify(&signed_prekey_message(&bundle.identity_key, &spk.key), &sig)
        .map_err(|_| E2eeError::BadSignature)?;
    let session_key = match &bundle.one_time_key {
        Some(otk) => curve(&otk.key, "one-time key")?,
        None => prekey,
    };
    Ok(CheckedBundle { identity, signing, session_key })
}

/// Checks a bundle's scheme, key lengths and prekey signature.
pub fn verify_bundle(bundle: &KeyBundle) -> Result<IdentityKeys, E2eeError> {
    let c = check(bundle)?;
    Ok(IdentityKeys { curve25519: c.identity.to_bytes(), ed25519: *c.signing.as_bytes() })
}
