//! Saving an [`OlmEndpoint`] so sessions survive restarts.
//!
//! Every vodozemac object is pickled with vodozemac's own authenticated
//! encryption under the caller's [`PickleKey`]. The JSON around them holds
//! only public data (peer ids, their public identity keys, group ids, the
//! public signed prekey), so the store never sees a private key in the clear.
//!
//! Two forms. The whole endpoint in one string (version 1), for a simple file.
//! Or in parts (version 2): the core (account, signed prekey, sender keys) and
//! one part per peer, so that a store writes only what a message changed — one
//! peer's sessions — instead of every session of every contact.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use vodozemac::megolm::{
    GroupSession, GroupSessionPickle, InboundGroupSession, InboundGroupSessionPickle,
};
use vodozemac::olm::{Account, AccountPickle, Session, SessionPickle};
use vodozemac::{Curve25519PublicKey, Ed25519PublicKey};

use super::group::SenderKeys;
use super::olm::{OlmEndpoint, Peer};
use super::{E2eeError, PickleKey};
use crate::stanza::SignedPrekey;

/// The whole endpoint in one string.
const PICKLE_VERSION: u32 = 1;
/// The core alone; the peers are parts of their own.
const CORE_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    account: String,
    signed_prekey_id: u32,
    signed_prekey: String,
    signed_prekey_signature: String,
    #[serde(default)]
    peers: HashMap<String, SavedPeer>,
    outbound_groups: HashMap<String, String>,
    inbound_groups: Vec<SavedInbound>,
}

#[derive(Serialize, Deserialize)]
struct SavedPeer {
    identity: String,
    signing: Option<String>,
    sessions: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedInbound {
    group: String,
    sender: String,
    session_id: String,
    pickle: String,
}

fn b64(bytes: &[u8]) -> String {
    vodozemac::base64_encode(bytes)
}

fn unb64(s: &str) -> Result<Vec<u8>, E2eeError> {
    vodozemac::base64_decode(s).map_err(|e| E2eeError::Pickle(e.to_string()))
}

fn bad(e: impl std::fmt::Display) -> E2eeError {
    E2eeError::Pickle(e.to_string())
}

fn save_peer(p: &Peer, k: &[u8; 32]) -> SavedPeer {
    SavedPeer {
        identity: p.identity.to_base64(),
        signing: p.signing.map(|s| s.to_base64()),
        sessions: p.sessions.iter().map(|s| s.pickle().encrypt(k)).collect(),
    }
}

fn save_with(
    e: &OlmEndpoint,
    k: &[u8; 32],
    version: u32,
    peers: HashMap<String, SavedPeer>,
) -> Saved {
    Saved {
        version,
        account: e.account.pickle().encrypt(k),
        signed_prekey_id: e.signed_prekey.id,
        signed_prekey: b64(&e.signed_prekey.key),
        signed_prekey_signature: b64(&e.signed_prekey.signature),
        peers,
        outbound_groups: e
            .groups
            .outbound
            .iter()
            .map(|(g, s)| (g.clone(), s.pickle().encrypt(k)))
            .collect(),
        inbound_groups: e
            .groups
            .inbound
            .iter()
            .map(|((group, sender, session_id), s)| SavedInbound {
                group: group.clone(),
                sender: sender.clone(),
                session_id: session_id.clone(),
                pickle: s.pickle().encrypt(k),
            })
            .collect(),
    }
}

/// The whole endpoint (version 1).
pub(crate) fn save(e: &OlmEndpoint, key: &PickleKey) -> Result<String, E2eeError> {
    let k = key.bytes();
    let peers = e.peers.iter().map(|(id, p)| (id.clone(), save_peer(p, k))).collect();
    serde_json::to_string(&save_with(e, k, PICKLE_VERSION, peers)).map_err(bad)
}

/// The core alone (version 2).
pub(crate) fn save_core(e: &OlmEndpoint, key: &PickleKey) -> Result<String, E2eeError> {
    let saved = save_with(e, key.bytes(), CORE_VERSION, HashMap::new());
    serde_json::to_string(&saved).map_err(bad)
}

/// One peer's part; `None` for a peer the endpoint does not know.
pub(crate) fn save_peer_part(
    e: &OlmEndpoint,
    peer: &str,
    key: &PickleKey,
) -> Result<Option<String>, E2eeError> {
    e.peers
        .get(peer)
        .map(|p| serde_json::to_string(&save_peer(p, key.bytes())).map_err(bad))
        .transpose()
}

fn restore_peer(saved: SavedPeer, k: &[u8; 32]) -> Result<Peer, E2eeError> {
    let identity = Curve25519PublicKey::from_base64(&saved.identity).map_err(bad)?;
    let signing =
        saved.signing.map(|s| Ed25519PublicKey::from_base64(&s)).transpose().map_err(bad)?;
    let sessions = saved
        .sessions
        .iter()
        .map(|s| SessionPickle::from_encrypted(s, k).map(Session::from_pickle).map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Peer { identity, signing, sessions })
}

/// Restores a core (version 2) with its peers' parts, each `(peer, part)`. A whole pickle
/// (version 1, with no parts) is read too, with everything marked changed, so that the next
/// save moves it into parts.
pub(crate) fn restore_parts<P: AsRef<str>>(
    core: &str,
    peers: impl IntoIterator<Item = (String, P)>,
    key: &PickleKey,
) -> Result<OlmEndpoint, E2eeError> {
    let saved: Saved = serde_json::from_str(core).map_err(bad)?;
    let mut peers = peers.into_iter().peekable();
    if saved.version == PICKLE_VERSION && peers.peek().is_none() {
        let mut e = restore_saved(saved, key)?;
        e.mark_all_changed();
        return Ok(e);
    }
    if saved.version != CORE_VERSION {
        return Err(E2eeError::Pickle(format!("not a core pickle (version {})", saved.version)));
    }
    let mut e = restore_saved(saved, key)?;
    for (id, part) in peers {
        let saved: SavedPeer = serde_json::from_str(part.as_ref()).map_err(bad)?;
        e.peers.insert(id, restore_peer(saved, key.bytes())?);
    }
    Ok(e)
}

/// Restores a whole endpoint (version 1).
pub(crate) fn restore(pickle: &str, key: &PickleKey) -> Result<OlmEndpoint, E2eeError> {
    let saved: Saved = serde_json::from_str(pickle).map_err(bad)?;
    if saved.version != PICKLE_VERSION {
        return Err(E2eeError::Pickle(format!("unknown pickle version {}", saved.version)));
    }
    restore_saved(saved, key)
}

fn restore_saved(saved: Saved, key: &PickleKey) -> Result<OlmEndpoint, E2eeError> {
    let k = key.bytes();
    let account =
        Account::from_pickle(AccountPickle::from_encrypted(&saved.account, k).map_err(bad)?);
    let mut peers = HashMap::new();
    for (id, p) in saved.peers {
        peers.insert(id, restore_peer(p, k)?);
    }
    let mut groups = SenderKeys::default();
    for (g, s) in saved.outbound_groups {
        let s = GroupSessionPickle::from_encrypted(&s, k).map_err(bad)?;
        groups.outbound.insert(g, GroupSession::from_pickle(s));
    }
    for i in saved.inbound_groups {
        let s = InboundGroupSessionPickle::from_encrypted(&i.pickle, k).map_err(bad)?;
        groups
            .inbound
            .insert((i.group, i.sender, i.session_id), InboundGroupSession::from_pickle(s));
    }
    let signed_prekey = SignedPrekey {
        id: saved.signed_prekey_id,
        key: unb64(&saved.signed_prekey)?,
        signature: unb64(&saved.signed_prekey_signature)?,
    };
    Ok(OlmEndpoint { account, signed_prekey, peers, groups, changed: Default::default() })
}
