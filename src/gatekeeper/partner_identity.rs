//! The bridge's partner identity: the Ed25519 key that signs our JWTs (interop protocol §3).
//!
//! The gatekeeper trusts tokens signed by the keys in our JWKS, so the key must survive
//! restarts: it is made once, on first start, and stored with its seed sealed (ChaCha20-Poly1305,
//! random nonce, the `kid` as associated data) under the config's pickle key. A stored key that
//! will not open is an error for the admin, never a reason to make a new key: that would
//! silently change who we are to the gatekeeper.

use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use interop_proto::auth::JwtSigner;
use rand::{Rng, RngCore};
use zeroize::Zeroizing;

use crate::{
    config::decode_pickle_key,
    store::{SealedPartnerKey, Store, StoreError},
};

const NONCE_LEN: usize = 12;

/// The secret that seals keys stored in the database (`gatekeeper.pickle_key`).
pub struct StorageKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PartnerIdentityError {
    #[error(
        "gatekeeper.pickle_key is not 43 characters of base64url (32 bytes); \
         run `interop-bridge generate-registration` to make one"
    )]
    BadPickleKey,
    #[error(
        "the stored partner key {kid} cannot be opened with gatekeeper.pickle_key: the key in the \
         config is not the one it was stored with (the stored key is left untouched)"
    )]
    WrongPickleKey { kid: String },
    #[error("the stored partner key {kid} is damaged: its seed is not 32 bytes")]
    Damaged { kid: String },
    #[error("the partner key was stored but cannot be read back")]
    Vanished,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StorageKey {
    /// Reads the config's `gatekeeper.pickle_key` text.
    pub fn from_config(text: &str) -> Result<Self, PartnerIdentityError> {
        decode_pickle_key(text)
            .map(|bytes| Self(Zeroizing::new(bytes)))
            .ok_or(PartnerIdentityError::BadPickleKey)
    }

    /// The AEAD that seals stored keys (also used by `interop::keys` for login keys).
    pub(crate) fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(self.0.as_slice()))
    }

    /// A separate 32-byte key for one purpose, so no key serves two ciphers:
    /// SHA-256 over a purpose label and this key.
    pub(crate) fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"interop-bridge/derive/");
        hash.update(label.as_bytes());
        hash.update([0u8]);
        hash.update(self.0.as_slice());
        Zeroizing::new(hash.finalize().into())
    }
}

/// Loads the stored partner key, or makes and stores one if there is none yet.
pub async fn load_or_create(
    store: &Store,
    key: &StorageKey,
) -> Result<JwtSigner, PartnerIdentityError> {
    if let Some(stored) = store.partner_key().await? {
        return open(key, &stored);
    }
    let signer = JwtSigner::generate(&new_kid());
    store.insert_partner_key(&seal(key, &signer)).await?;
    tracing::info!(kid = signer.kid(), "made a new partner signing key");
    // Read back: if another bridge process stored its key first, both now use that one.
    let stored = store.partner_key().await?.ok_or(PartnerIdentityError::Vanished)?;
    open(key, &stored)
}

/// A fresh key id, e.g. `partner-3f9a0c…`: unique, so keys can be rotated later.
fn new_kid() -> String {
    let bytes: [u8; 8] = rand::thread_rng().r#gen();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("partner-{hex}")
}

fn seal(key: &StorageKey, signer: &JwtSigner) -> SealedPartnerKey {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let seed = signer.seed();
    let payload = Payload { msg: seed.as_slice(), aad: signer.kid().as_bytes() };
    // Encryption fails only for messages beyond 2^38 bytes; a 32-byte seed never is.
    let sealed_seed = key.cipher().encrypt(Nonce::from_slice(&nonce), payload).unwrap_or_default();
    SealedPartnerKey { kid: signer.kid().to_owned(), nonce: nonce.to_vec(), sealed_seed }
}

fn open(key: &StorageKey, stored: &SealedPartnerKey) -> Result<JwtSigner, PartnerIdentityError> {
    let kid = || stored.kid.clone();
    if stored.nonce.len() != NONCE_LEN {
        return Err(PartnerIdentityError::Damaged { kid: kid() });
    }
    let payload = Payload { msg: &stored.sealed_seed, aad: stored.kid.as_bytes() };
    let seed = Zeroizing::new(
        key.cipher()
            .decrypt(Nonce::from_slice(&stored.nonce), payload)
            .map_err(|_| PartnerIdentityError::WrongPickleKey { kid: kid() })?,
    );
    let seed: [u8; 32] =
        seed.as_slice().try_into().map_err(|_| PartnerIdentityError::Damaged { kid: kid() })?;
    Ok(JwtSigner::from_seed(&stored.kid, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StorageKey {
        StorageKey(Zeroizing::new([byte; 32]))
    }

    #[test]
    fn sealed_seed_opens_only_with_its_key_and_kid() {
        let signer = JwtSigner::generate("partner-test");
        let sealed = seal(&key(1), &signer);
        assert_ne!(sealed.sealed_seed.get(..32), Some(signer.seed().as_slice()));
        let opened = open(&key(1), &sealed).unwrap();
        assert_eq!(opened.jwk(), signer.jwk());
        assert!(matches!(open(&key(2), &sealed), Err(PartnerIdentityError::WrongPickleKey { .. })));
        let renamed = SealedPartnerKey { kid: "other".into(), ..sealed };
        assert!(open(&key(1), &renamed).is_err());
    }

    #[test]
    fn storage_key_is_never_printed() {
        let text = crate::config::registration::new_pickle_key();
        let key = StorageKey::from_config(&text).unwrap();
        assert!(!format!("{key:?}").contains(&text));
        assert!(matches!(
            StorageKey::from_config("generate"),
            Err(PartnerIdentityError::BadPickleKey)
        ));
    }
}
