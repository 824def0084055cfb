//! A login's secrets in the store: its Noise transport key and its Olm account with sessions.
//!
//! They are sealed like the partner key (`partner_identity`): ChaCha20-Poly1305 under the
//! config's pickle key, a random nonce stored in front of the ciphertext, and the purpose and
//! the Matrix user (and for a contact's sessions, the contact) as associated data, so a sealed
//! blob cannot be passed off as another user's or contact's, or as another kind of key.
//! Inside the seal, the Olm state is additionally encrypted by vodozemac under a key derived
//! for that purpose alone. The Olm state is kept in parts — the core, and each contact's
//! sessions — and a save writes only the parts that changed.

use chacha20poly1305::{
    Nonce,
    aead::{Aead, Payload},
};
use interop_proto::e2ee::{E2eeError, OlmEndpoint, PickleKey};
use interop_proto::transport::NoiseKeypair;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::gatekeeper::partner_identity::StorageKey;
use crate::store::{NewLogin, OlmSave, Store, StoreError};

const NONCE_LEN: usize = 12;
const NOISE: &str = "noise-key";
const OLM: &str = "olm-pickle";
const OLM_PEER: &str = "olm-peer";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the keys of {user} cannot be opened with gatekeeper.pickle_key: the key in the config \
         is not the one they were stored with"
    )]
    WrongPickleKey { user: String },
    #[error("the stored keys of {user} are damaged ({what})")]
    Damaged { user: String, what: String },
    #[error("the encryption state cannot be saved: {0}")]
    Pickle(#[from] E2eeError),
}

impl KeysError {
    /// Whether reconnecting can help (a database hiccup) or the login is unusable as stored.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Store(_))
    }
}

/// A login's keys, opened.
pub struct LoginKeys {
    pub remote_id: String,
    /// The enlistment these keys belong to; saving checks it is still the current one.
    pub keys_version: i64,
    pub noise: NoiseKeypair,
    pub e2ee: OlmEndpoint,
}

impl std::fmt::Debug for LoginKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Both Debug impls inside print public halves only.
        f.debug_struct("LoginKeys")
            .field("remote_id", &self.remote_id)
            .field("keys_version", &self.keys_version)
            .field("noise", &self.noise)
            .field("e2ee", &self.e2ee)
            .finish()
    }
}

fn aad(purpose: &str, user: &str) -> Vec<u8> {
    format!("interop-bridge/{purpose}\0{user}").into_bytes()
}

fn seal(key: &StorageKey, purpose: &str, user: &str, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = aad(purpose, user);
    // Encryption fails only for messages beyond 2^38 bytes; a key or pickle never is.
    let sealed = key
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .unwrap_or_default();
    [nonce.as_slice(), &sealed].concat()
}

fn open(
    key: &StorageKey,
    purpose: &str,
    user: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeysError> {
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or_else(|| {
        KeysError::Damaged { user: user.to_owned(), what: format!("{purpose} too short") }
    })?;
    let aad = aad(purpose, user);
    key.cipher()
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| KeysError::WrongPickleKey { user: user.to_owned() })
}

fn pickle_key(key: &StorageKey) -> PickleKey {
    PickleKey::new(*key.derive(OLM))
}

/// Whose a contact's sealed sessions are: the user and the contact.
fn peer_owner(user: &str, peer: &str) -> String {
    format!("{user}\0{peer}")
}

/// `(peer, sealed)`: one contact's sessions, sealed.
type SealedPeer = (String, Vec<u8>);

/// What changed in the Olm state since the last save, sealed: the core if it did, and the
/// contacts whose sessions did.
fn seal_changes(
    key: &StorageKey,
    user: &str,
    e2ee: &mut OlmEndpoint,
) -> Result<(Option<Vec<u8>>, Vec<SealedPeer>), KeysError> {
    let changes = e2ee.pickle_changes(&pickle_key(key))?;
    let core = changes.core.map(|core| seal(key, OLM, user, Zeroizing::new(core).as_bytes()));
    let peers = changes
        .peers
        .into_iter()
        .map(|(peer, part)| {
            let sealed =
                seal(key, OLM_PEER, &peer_owner(user, &peer), Zeroizing::new(part).as_bytes());
            (peer, sealed)
        })
        .collect();
    Ok((core, peers))
}

fn damaged(user: &str, what: impl Into<String>) -> KeysError {
    KeysError::Damaged { user: user.to_owned(), what: what.into() }
}

/// Stores the keys of a fresh enlistment (replacing older keys); returns the opened login.
pub async fn store_new(
    store: &Store,
    key: &StorageKey,
    user: &str,
    remote_id: &str,
    noise: NoiseKeypair,
    mut e2ee: OlmEndpoint,
) -> Result<LoginKeys, KeysError> {
    let sealed_noise = seal(key, NOISE, user, noise.private_bytes().as_slice());
    e2ee.mark_all_changed();
    let (sealed_core, _) = seal_changes(key, user, &mut e2ee)?;
    // A fresh endpoint has no contacts yet, only its core.
    let sealed_pickle = sealed_core.unwrap_or_default();
    let keys_version = store
        .upsert_login(&NewLogin {
            matrix_user_id: user,
            remote_id,
            sealed_noise_key: &sealed_noise,
            sealed_olm_pickle: &sealed_pickle,
        })
        .await?;
    Ok(LoginKeys { remote_id: remote_id.to_owned(), keys_version, noise, e2ee })
}

/// Opens the stored keys of `user`; `None` if the user is not enlisted.
pub async fn load(
    store: &Store,
    key: &StorageKey,
    user: &str,
) -> Result<Option<LoginKeys>, KeysError> {
    let Some(row) = store.login(user).await? else { return Ok(None) };
    let noise = open(key, NOISE, user, &row.sealed_noise_key)?;
    let noise: [u8; 32] =
        noise.as_slice().try_into().map_err(|_| damaged(user, "the Noise key is not 32 bytes"))?;
    let text = |opened: Zeroizing<Vec<u8>>, what: &str| {
        std::str::from_utf8(&opened)
            .map(|text| Zeroizing::new(text.to_owned()))
            .map_err(|_| damaged(user, format!("{what} is not text")))
    };
    let core = text(open(key, OLM, user, &row.sealed_olm_pickle)?, "the Olm pickle")?;
    let mut peers = Vec::with_capacity(row.sealed_olm_peers.len());
    for (peer, sealed) in &row.sealed_olm_peers {
        let opened = open(key, OLM_PEER, &peer_owner(user, peer), sealed)?;
        peers.push((peer.clone(), text(opened, "a contact's Olm sessions")?));
    }
    // The opened parts are wiped when they are dropped, here or inside.
    let e2ee = OlmEndpoint::from_pickle_parts(&core, peers, &pickle_key(key))
        .map_err(|e| damaged(user, format!("the Olm pickle: {e}")))?;
    Ok(Some(LoginKeys {
        remote_id: row.remote_id,
        keys_version: row.keys_version,
        noise: NoiseKeypair::from_private(noise),
        e2ee,
    }))
}

/// Saves what changed in the encryption state and, with it, that the stanzas `seen` =
/// (sender, id) were handled. Returns false when the login's keys were replaced or removed
/// meanwhile (nothing is saved). After a failure the keys must be loaded again: what changed
/// is no longer marked.
pub async fn save(
    store: &Store,
    key: &StorageKey,
    user: &str,
    keys: &mut LoginKeys,
    seen: &[(String, String)],
) -> Result<bool, KeysError> {
    let (sealed_core, sealed_peers) = seal_changes(key, user, &mut keys.e2ee)?;
    let save = OlmSave {
        keys_version: keys.keys_version,
        sealed_core: sealed_core.as_deref(),
        sealed_peers: &sealed_peers,
        seen,
    };
    Ok(store.save_olm_state(user, &save).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(letter: char) -> StorageKey {
        // 42 letters and a final `A`: valid unpadded base64url of 32 bytes.
        StorageKey::from_config(&format!("{}A", letter.to_string().repeat(42))).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_user_purpose_and_key() {
        let sealed = seal(&key('A'), NOISE, "@alice:example.org", b"secret bytes");
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        let opened = open(&key('A'), NOISE, "@alice:example.org", &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"secret bytes");
        for (k, purpose, user) in [
            (key('B'), NOISE, "@alice:example.org"),
            (key('A'), OLM, "@alice:example.org"),
            (key('A'), NOISE, "@mallory:example.org"),
        ] {
            assert!(matches!(
                open(&k, purpose, user, &sealed),
                Err(KeysError::WrongPickleKey { .. })
            ));
        }
        assert!(matches!(
            open(&key('A'), NOISE, "@alice:example.org", &sealed[..5]),
            Err(KeysError::Damaged { .. })
        ));
    }

    #[test]
    fn a_contacts_sessions_open_only_as_that_contacts() {
        let alice = "@alice:example.org";
        let sealed = seal(&key('A'), OLM_PEER, &peer_owner(alice, "1@native"), b"sessions");
        assert!(open(&key('A'), OLM_PEER, &peer_owner(alice, "1@native"), &sealed).is_ok());
        for (purpose, owner) in [
            (OLM_PEER, peer_owner(alice, "2@native")),
            (OLM_PEER, peer_owner("@bob:example.org", "1@native")),
            (OLM, peer_owner(alice, "1@native")),
        ] {
            assert!(open(&key('A'), purpose, &owner, &sealed).is_err(), "{purpose} {owner}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let noise = NoiseKeypair::generate();
        let secret: String = noise.private_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let keys = LoginKeys {
            remote_id: "1-1@interop".into(),
            keys_version: 1,
            noise,
            e2ee: OlmEndpoint::new(),
        };
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&secret) && shown.contains("redacted"), "{shown}");
    }
}
