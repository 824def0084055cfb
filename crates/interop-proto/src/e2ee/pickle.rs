//! Saving an [`OlmEndpoint`] so sessions survive restarts.
//!
//! Every vodozemac object is pickled with vodozemac's own authenticated
//! encryption under the caller's [`PickleKey`]. The JSON around them holds
//! only public data (peer ids, their public identity keys, group ids, the
//! public signed prekey), so the store never sees a private key in the clear.

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

const PICKLE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    account: String,
    signed_prekey_id: u32,
    signed_prekey: String,
    signed_prekey_signature: String,
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

pub(crate) fn save(e: &OlmEndpoint, key: &PickleKey) -> Result<String, E2eeError> {
    let k = key.bytes();
    let saved = Saved {
        version: PICKLE_VERSION,
        account: e.account.pickle().encrypt(k),
        signed_prekey_id: e.signed_prekey.id,
        signed_prekey: b64(&e.signed_prekey.key),
        signed_prekey_signature: b64(&e.signed_prekey.signature),
        peers: e
            .peers
            .iter()
            .map(|(id, p)| {
                let sp = SavedPeer {
                    identity: p.identity.to_base64(),
                    signing: p.signing.map(|s| s.to_base64()),
                    sessions: p.sessions.iter().map(|s| s.pickle().encrypt(k)).collect(),
                };
                (id.clone(), sp)
            })
            .collect(),
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
    };
    serde_json::to_string(&saved).map_err(bad)
}

pub(crate) fn restore(pickle: &str, key: &PickleKey) -> Result<OlmEndpoint, E2eeError> {
    let k = key.bytes();
    let saved: Saved = serde_json::from_str(pickle).map_err(bad)?;
    if saved.version != PICKLE_VERSION {
        return Err(E2eeError::Pickle(format!("unknown pickle version {}", saved.version)));
    }
    let account =
        Account::from_pickle(AccountPickle::from_encrypted(&saved.account, k).map_err(bad)?);
    let mut peers = HashMap::new();
    for (id, p) in saved.peers {
        let identity = Curve25519PublicKey::from_base64(&p.identity).map_err(bad)?;
        let signing =
            p.signing.map(|s| Ed25519PublicKey::from_base64(&s)).transpose().map_err(bad)?;
        let sessions = p
            .sessions
            .iter()
            .map(|s| SessionPickle::from_encrypted(s, k).map(Session::from_pickle).map_err(bad))
            .collect::<Result<Vec<_>, _>>()?;
        peers.insert(id, Peer { identity, signing, sessions });
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
    Ok(OlmEndpoint { account, signed_prekey, peers, groups })
}
