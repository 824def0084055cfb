//! Sender keys for groups, on vodozemac's Megolm.
//!
//! Each member encrypts a group message once with its own outbound Megolm
//! session; the server fans the single `skmsg` out. Members learn a sender's
//! key from a [`SenderKeyDistribution`] sent over pairwise sessions, and key
//! inbound sessions by (group, sender, session id) so a rotated key and the
//! old one both work during the change-over.

use std::collections::HashMap;

use vodozemac::megolm::{
    GroupSession, InboundGroupSession, MegolmMessage, SessionConfig, SessionKey,
};

use super::{E2eeError, SCHEME_OLM_V1};
use crate::content::SenderKeyDistribution;
use crate::stanza::{Enc, EncType};

/// (group, sender, session id)
pub(crate) type InboundKey = (String, String, String);

#[derive(Default)]
pub(crate) struct SenderKeys {
    pub outbound: HashMap<String, GroupSession>,
    pub inbound: HashMap<InboundKey, InboundGroupSession>,
}

fn distribution(group: &str, s: &GroupSession) -> SenderKeyDistribution {
    SenderKeyDistribution {
        group: group.to_owned(),
        session_id: s.session_id(),
        session_key: s.session_key().to_bytes(),
    }
}

impl SenderKeys {
    pub fn outbound(&mut self, group: &str) -> SenderKeyDistribution {
        let s = self
            .outbound
            .entry(group.to_owned())
            .or_insert_with(|| GroupSession::new(SessionConfig::version_1()));
        distribution(group, s)
    }

    pub fn rotate(&mut self, group: &str) -> SenderKeyDistribution {
        self.outbound.remove(group);
        self.outbound(group)
    }

    pub fn encrypt(&mut self, group: &str, plaintext: &[u8]) -> Result<Enc, E2eeError> {
        let s = self
            .outbound
            .get_mut(group)
            .ok_or_else(|| E2eeError::NoOutboundSenderKey(group.to_owned()))?;
        let msg = s.encrypt(plaintext);
        Ok(Enc {
            recipient: String::new(),
            r#type: EncType::Skmsg as i32,
            ciphertext: msg.to_bytes(),
            scheme: SCHEME_OLM_V1,
            sender_key_id: s.session_id(),
        })
    }

    pub fn add_inbound(
        &mut self,
        sender: &str,
        skd: &SenderKeyDistribution,
    ) -> Result<(), E2eeError> {
        let key = SessionKey::from_bytes(&skd.session_key)
            .map_err(|_| E2eeError::BadKey("sender key"))?;
        let session = InboundGroupSession::new(&key, SessionConfig::version_1());
        if session.session_id() != skd.session_id {
            return Err(E2eeError::BadKey("sender key id does not match its key"));
        }
        self.inbound
            .entry((skd.group.clone(), sender.to_owned(), skd.session_id.clone()))
            .or_insert(session);
        Ok(())
    }

    pub fn decrypt(&mut self, group: &str, sender: &str, enc: &Enc) -> Result<Vec<u8>, E2eeError> {
        if enc.scheme != SCHEME_OLM_V1 {
            return Err(E2eeError::UnsupportedScheme(enc.scheme));
        }
        let unknown =
            || E2eeError::UnknownSenderKey { group: group.to_owned(), sender: sender.to_owned() };
        let key = (group.to_owned(), sender.to_owned(), enc.sender_key_id.clone());
        let session = self.inbound.get_mut(&key).ok_or_else(unknown)?;
        let msg = MegolmMessage::from_bytes(&enc.ciphertext)
            .map_err(|e| E2eeError::Malformed(e.to_string()))?;
        session.decrypt(&msg).map(|d| d.plaintext).map_err(|e| E2eeError::Decrypt(e.to_string()))
    }
}
