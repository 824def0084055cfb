//! [`OlmEndpoint`]: the [`E2ee`] trait on vodozemac.
//!
//! One vodozemac `Account` per endpoint. Its fallback key serves as the
//! signed prekey (signed with the account's Ed25519 key); one-time keys are
//! Olm one-time keys. Several sessions per peer are kept, newest first, so a
//! message on an older session still decrypts after a re-key.

use std::collections::{HashMap, HashSet};

use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey};

use super::bundle::{IdentityKeys, check, signed_prekey_message};
use super::group::SenderKeys;
use super::{
    Decrypted, E2ee, E2eeError, IdentityStatus, MAX_ONE_TIME_KEYS, PickleKey, SCHEME_OLM_V1,
};
use crate::content::SenderKeyDistribution;
use crate::stanza::{Enc, EncType, KeyBundle, OneTimeKey, SignedPrekey};

/// Sessions kept per peer; older ones are dropped.
const MAX_SESSIONS_PER_PEER: usize = 5;

pub(crate) struct Peer {
    pub identity: Curve25519PublicKey,
    pub signing: Option<Ed25519PublicKey>,
    pub sessions: Vec<Session>,
}

/// An endpoint's account, pairwise sessions and sender keys.
pub struct OlmEndpoint {
    pub(crate) account: Account,
    pub(crate) signed_prekey: SignedPrekey,
    pub(crate) peers: HashMap<String, Peer>,
    pub(crate) groups: SenderKeys,
    /// What changed since [`OlmEndpoint::pickle_changes`] last ran.
    pub(crate) changed: Changed,
}

/// What changed in an endpoint, pickled ([`OlmEndpoint::pickle_changes`]).
pub struct PickleChanges {
    /// The account, signed prekey and sender keys, if they changed.
    pub core: Option<String>,
    /// `(peer, part)` for each peer whose sessions or identity changed.
    pub peers: Vec<(String, String)>,
}

impl PickleChanges {
    pub fn is_empty(&self) -> bool {
        self.core.is_none() && self.peers.is_empty()
    }
}

impl std::fmt::Debug for PickleChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Encrypted, but still key material: only what changed.
        f.debug_struct("PickleChanges")
            .field("core", &self.core.is_some())
            .field("peers", &self.peers.iter().map(|(p, _)| p).collect::<Vec<_>>())
            .finish()
    }
}

/// The parts of an endpoint that changed: the core (account, signed prekey, sender keys) and
/// the peers whose sessions or identity did. Marked on every mutating call, conservatively.
#[derive(Default)]
pub(crate) struct Changed {
    pub core: bool,
    pub peers: HashSet<String>,
}

impl Changed {
    fn peer(&mut self, peer: &str) {
        if !self.peers.contains(peer) {
            self.peers.insert(peer.to_owned());
        }
    }
}

impl std::fmt::Debug for OlmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OlmEndpoint")
            .field("identity", &self.account.curve25519_key().to_base64())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Default for OlmEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl OlmEndpoint {
    /// A new identity with a fresh signed prekey.
    pub fn new() -> Self {
        let mut me = Self {
            account: Account::new(),
            signed_prekey: SignedPrekey::default(),
            peers: HashMap::new(),
            groups: SenderKeys::default(),
            changed: Changed::default(),
        };
        me.rotate_signed_prekey();
        me
    }

    /// Restores an endpoint pickled whole, with [`E2ee::pickle`].
    pub fn from_pickle(pickle: &str, key: &PickleKey) -> Result<Self, E2eeError> {
        super::pickle::restore(pickle, key)
    }

    /// Restores an endpoint saved in parts ([`Self::pickle_changes`]): its core and one part
    /// per peer, `(peer, part)`. A whole pickle ([`E2ee::pickle`]) with no parts is read too,
    /// marked all changed, so that the next save moves it into parts.
    pub fn from_pickle_parts<P: AsRef<str>>(
        core: &str,
        peers: impl IntoIterator<Item = (String, P)>,
        key: &PickleKey,
    ) -> Result<Self, E2eeError> {
        super::pickle::restore_parts(core, peers, key)
    }

    /// Marks everything as changed, so the next [`Self::pickle_changes`] gives every part
    /// (to move a whole pickle into parts).
    pub fn mark_all_changed(&mut self) {
        self.changed.core = true;
        self.changed.peers.extend(self.peers.keys().cloned());
    }

    /// The parts that changed since the last call, pickled, and forgets the marks: a store
    /// that writes only these keeps the same state as one that writes everything. Should
    /// saving them fail, restore from what is stored instead of calling this again.
    pub fn pickle_changes(&mut self, key: &PickleKey) -> Result<PickleChanges, E2eeError> {
        let changed = std::mem::take(&mut self.changed);
        let core = if changed.core { Some(super::pickle::save_core(self, key)?) } else { None };
        let mut peers = Vec::with_capacity(changed.peers.len());
        for peer in changed.peers {
            if let Some(part) = super::pickle::save_peer_part(self, &peer, key)? {
                peers.push((peer, part));
            }
        }
        Ok(PickleChanges { core, peers })
    }

    fn config() -> SessionConfig {
        SessionConfig::version_1()
    }

    /// Records the peer's identity, dropping sessions if it changed.
    fn note_identity(
        &mut self,
        peer: &str,
        identity: Curve25519PublicKey,
        signing: Option<Ed25519PublicKey>,
    ) -> IdentityStatus {
        self.changed.peer(peer);
        match self.peers.get_mut(peer) {
            None => {
                self.peers
                    .insert(peer.to_owned(), Peer { identity, signing, sessions: Vec::new() });
                IdentityStatus::New
            }
            Some(p) if p.identity == identity => {
                if signing.is_some() {
                    p.signing = signing;
                }
                IdentityStatus::Known
            }
            Some(p) => {
                *p = Peer { identity, signing, sessions: Vec::new() };
                IdentityStatus::Changed
            }
        }
    }

    fn push_session(&mut self, peer: &str, session: Session) {
        self.changed.peer(peer);
        if let Some(p) = self.peers.get_mut(peer) {
            p.sessions.insert(0, session);
            p.sessions.truncate(MAX_SESSIONS_PER_PEER);
        }
    }

    /// The identity key recorded for a peer, if any.
    pub fn peer_identity(&self, peer: &str) -> Option<[u8; 32]> {
        self.peers.get(peer).map(|p| p.identity.to_bytes())
    }
}

impl E2ee for OlmEndpoint {
    fn scheme(&self) -> u32 {
        SCHEME_OLM_V1
    }

    fn identity_keys(&self) -> IdentityKeys {
        IdentityKeys {
            curve25519: self.account.curve25519_key().to_bytes(),
            ed25519: *self.account.ed25519_key().as_bytes(),
        }
    }

    fn signed_prekey(&self) -> SignedPrekey {
        self.signed_prekey.clone()
    }

    fn rotate_signed_prekey(&mut self) -> SignedPrekey {
        self.changed.core = true;
        self.account.generate_fallback_key();
        // The new fallback key is the only unpublished one.
        let key = self
            .account
            .fallback_key()
            .into_values()
            .next()
            .map(|k| k.to_vec())
            .unwrap_or_default();
        self.account.mark_keys_as_published();
        let identity = self.account.curve25519_key().to_bytes();
        let signature =
            self.account.sign(signed_prekey_message(&identity, &key)).to_bytes().to_vec();
        self.signed_prekey = SignedPrekey { id: self.signed_prekey.id + 1, key, signature };
        self.signed_prekey.clone()
    }

    fn generate_one_time_keys(&mut self, count: usize) -> Vec<OneTimeKey> {
        self.changed.core = true;
        let created = self.account.generate_one_time_keys(count.min(MAX_ONE_TIME_KEYS)).created;
        self.account.mark_keys_as_published();
        created.into_iter().map(|k| OneTimeKey { key: k.to_vec() }).collect()
    }

    fn one_time_key_count(&self) -> usize {
        self.account.stored_one_time_key_count()
    }

    fn fresh_bundle(&mut self) -> KeyBundle {
        let ids = self.identity_keys();
        KeyBundle {
            scheme: SCHEME_OLM_V1,
            identity_key: ids.curve25519.to_vec(),
            signing_key: ids.ed25519.to_vec(),
            signed_prekey: Some(self.signed_prekey.clone()),
            one_time_key: self.generate_one_time_keys(1).into_iter().next(),
        }
    }

    fn start_session(
        &mut self,
        peer: &str,
        bundle: &KeyBundle,
    ) -> Result<IdentityStatus, E2eeError> {
        let b = check(bundle)?;
        let session = self
            .account
            .create_outbound_session(Self::config(), b.identity, b.session_key)
            .map_err(|e| E2eeError::SessionCreation(e.to_string()))?;
        let status = self.note_identity(peer, b.identity, Some(b.signing));
        self.push_session(peer, session);
        Ok(status)
    }

    fn has_session(&self, peer: &str) -> bool {
        self.peers.get(peer).is_some_and(|p| !p.sessions.is_empty())
    }

    fn forget_sessions(&mut self, peer: &str) {
        self.changed.peer(peer);
        if let Some(p) = self.peers.get_mut(peer) {
            p.sessions.clear();
        }
    }

    fn encrypt(&mut self, peer: &str, plaintext: &[u8]) -> Result<Enc, E2eeError> {
        self.changed.peer(peer);
        let session = self
            .peers
            .get_mut(peer)
            .and_then(|p| p.sessions.first_mut())
            .ok_or_else(|| E2eeError::NoSession(peer.to_owned()))?;
        let msg = session.encrypt(plaintext).map_err(|e| E2eeError::Encrypt(e.to_string()))?;
        let (kind, ciphertext) = msg.to_parts();
        let r#type = if kind == 0 { EncType::Pkmsg } else { EncType::Msg };
        Ok(Enc {
            recipient: peer.to_owned(),
            r#type: r#type as i32,
            ciphertext,
            scheme: SCHEME_OLM_V1,
            ..Default::default()
        })
    }

    fn decrypt(&mut self, peer: &str, enc: &Enc) -> Result<Decrypted, E2eeError> {
        if enc.scheme != SCHEME_OLM_V1 {
            return Err(E2eeError::UnsupportedScheme(enc.scheme));
        }
        let kind = match EncType::try_from(enc.r#type) {
            Ok(EncType::Pkmsg) => 0,
            Ok(EncType::Msg) => 1,
            _ => return Err(E2eeError::Malformed("not a pairwise message type".into())),
        };
        let msg = OlmMessage::from_parts(kind, &enc.ciphertext)
            .map_err(|e| E2eeError::Malformed(e.to_string()))?;
        // An existing session first: a pre-key message may belong to one we already have.
        if let Some(p) = self.peers.get_mut(peer) {
            self.changed.peer(peer);
            let wanted = match &msg {
                OlmMessage::PreKey(m) => Some(m.session_id()),
                OlmMessage::Normal(_) => None,
            };
            for i in 0..p.sessions.len() {
                if wanted.as_ref().is_some_and(|id| *id != p.sessions[i].session_id()) {
                    continue;
                }
                if let Ok(plaintext) = p.sessions[i].decrypt(&msg) {
                    let s = p.sessions.remove(i);
                    p.sessions.insert(0, s);
                    return Ok(Decrypted { plaintext, identity: IdentityStatus::Known });
                }
            }
        }
        let pre_key = match &msg {
            OlmMessage::PreKey(m) => m,
            OlmMessage::Normal(_) => {
                return Err(if self.has_session(peer) {
                    E2eeError::Decrypt("no session could decrypt the message".into())
                } else {
                    E2eeError::NoSession(peer.to_owned())
                });
            }
        };
        // Uses up a one-time key of the account.
        self.changed.core = true;
        let created = self
            .account
            .create_inbound_session(Self::config(), pre_key.identity_key(), pre_key)
            .map_err(|e| E2eeError::SessionCreation(e.to_string()))?;
        let identity = self.note_identity(peer, pre_key.identity_key(), None);
        self.push_session(peer, created.session);
        Ok(Decrypted { plaintext: created.plaintext, identity })
    }

    fn sender_key(&mut self, group: &str) -> SenderKeyDistribution {
        self.changed.core = true;
        self.groups.outbound(group)
    }

    fn rotate_sender_key(&mut self, group: &str) -> SenderKeyDistribution {
        self.changed.core = true;
        self.groups.rotate(group)
    }

    fn encrypt_group(&mut self, group: &str, plaintext: &[u8]) -> Result<Enc, E2eeError> {
        self.changed.core = true;
        self.groups.encrypt(group, plaintext)
    }

    fn add_sender_key(
        &mut self,
        sender: &str,
        skd: &SenderKeyDistribution,
    ) -> Result<(), E2eeError> {
        self.changed.core = true;
        self.groups.add_inbound(sender, skd)
    }

    fn decrypt_group(
        &mut self,
        group: &str,
        sender: &str,
        enc: &Enc,
    ) -> Result<Vec<u8>, E2eeError> {
        self.changed.core = true;
        self.groups.decrypt(group, sender, enc)
    }

    fn pickle(&self, key: &PickleKey) -> Result<String, E2eeError> {
        super::pickle::save(self, key)
    }
}
