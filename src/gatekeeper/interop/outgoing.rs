//! What the login sends: messages (with the key fetch a new contact needs first), read
//! receipts, typing, queries, one-time key top-ups, and resends after a retry receipt.
//!
//! Nothing here waits for the gatekeeper: a request is sent and its waiter noted in
//! [`Pending`](super::pending::Pending); the answer completes it when it arrives. The
//! encryption state is saved after every encryption (batched, see [`super::connection`]),
//! before the ciphertext leaves, so a restart never reuses a ratchet step.

use interop_proto::content::Envelope;
use interop_proto::e2ee::{E2ee, IdentityStatus, MAX_ONE_TIME_KEYS};
use interop_proto::stanza::{
    AckClass, ChatState, ChatStateKind, Iq, IqAnswer, IqQuery, KeyFetch, KeyUpload, MessageKind,
    MessageStanza, Receipt, ReceiptType, RetryInfo, Stanza,
};
use interop_proto::{UserId, now_ms};
use zeroize::Zeroizing;

use super::channel_task::Outcome;
use super::connection::Conn;
use super::errors::refusal;
use super::incoming::MAX_RETRIES;
use super::login::Command;
use super::pending::{AckWaiter, IqWaiter, PendingSend};
use crate::gatekeeper::{GatekeeperError, RemoteEvent};

/// Longest message id the protocol allows (spec §5.3).
const MAX_ID_LEN: usize = 64;

impl Conn<'_> {
    pub async fn on_command(&mut self, command: Command) -> Result<(), Outcome> {
        match command {
            Command::Send { message, reply } => {
                self.send_message(PendingSend { message, reply }).await
            }
            Command::ReadReceipt { to, ids, reply } => {
                let Some((first, more)) = ids.split_first() else {
                    let _ = reply.send(Ok(()));
                    return Ok(());
                };
                let receipt = Receipt {
                    id: first.clone(),
                    more_ids: more.to_vec(),
                    to: to.clone(),
                    r#type: ReceiptType::Read as i32,
                    timestamp: now_ms(),
                    ..Default::default()
                };
                self.pending.add_ack(AckClass::Receipt, first, AckWaiter::Receipt { to, reply });
                self.send(Stanza::Receipt(receipt)).await
            }
            Command::Typing { to, typing, reply } => {
                let state = if typing { ChatStateKind::Composing } else { ChatStateKind::Paused };
                let chat = ChatState { to, state: state as i32, ..Default::default() };
                let sent = self.send(Stanza::ChatState(chat)).await;
                let _ = reply.send(Ok(()));
                sent
            }
            Command::Query { query, reply } => {
                let id = self.pending.add_iq(IqWaiter::Reply(reply));
                self.send(Stanza::Iq(Iq { id, query: Some(query) })).await
            }
            Command::Disconnect { done } => Err(Outcome::Stopped(Some(done))),
        }
    }

    /// Sends at once on an existing session, or fetches the recipient's keys first.
    async fn send_message(&mut self, send: PendingSend) -> Result<(), Outcome> {
        let (to, id) = (send.message.to.clone(), send.message.id.as_str());
        if UserId::parse(&to).is_err() {
            let _ = send.reply.send(Err(GatekeeperError::UnknownUser(to)));
            return Ok(());
        }
        if id.is_empty() || id.len() > MAX_ID_LEN {
            let error = GatekeeperError::Other(format!("message id {id:?} is not 1 to 64 bytes"));
            let _ = send.reply.send(Err(error));
            return Ok(());
        }
        if to.ends_with("@group") {
            let _ = send.reply.send(Err(GatekeeperError::Unsupported("group messages")));
            return Ok(());
        }
        if self.keys.e2ee.has_session(&to) {
            return self.encrypt_and_send(send).await;
        }
        let fetching = self.pending.is_fetching_keys(&to);
        self.pending.wait_for_keys(&to, send);
        if !fetching {
            let id = self.pending.add_iq(IqWaiter::KeyFetch { peer: to.clone() });
            let query = IqQuery::KeyFetch(KeyFetch { users: vec![to] });
            self.send(Stanza::Iq(Iq { id, query: Some(query) })).await?;
        }
        Ok(())
    }

    async fn encrypt_and_send(&mut self, send: PendingSend) -> Result<(), Outcome> {
        let PendingSend { message, reply } = send;
        let message = *message;
        let envelope = Envelope { content: Some(message.content), ..Default::default() };
        let envelope = Zeroizing::new(envelope.encode_padded());
        let enc = match self.keys.e2ee.encrypt(&message.to, &envelope) {
            Ok(enc) => enc,
            Err(e) => {
                let _ = reply.send(Err(GatekeeperError::Other(format!("cannot encrypt: {e}"))));
                return Ok(());
            }
        };
        // Leaves once the new state is saved (`Conn::save`), so a restart never reuses a
        // ratchet step; should the save fail, the connection's end fails the waiter.
        self.unsaved(None);
        let stanza = MessageStanza {
            id: message.id.clone(),
            to: message.to.clone(),
            kind: MessageKind::Chat as i32,
            enc: vec![enc],
            ..Default::default()
        };
        self.actor.sent.remember(&message.id, &message.to, envelope);
        let waiter = AckWaiter::Message { to: message.to, reply };
        self.pending.add_ack(AckClass::Message, &message.id, waiter);
        self.send_after_save(Stanza::Message(stanza));
        Ok(())
    }

    /// The answer to a key fetch: start the session and send what waited for it.
    pub async fn on_key_bundles(
        &mut self,
        peer: &str,
        answer: Option<IqAnswer>,
    ) -> Result<(), Outcome> {
        let waiting = self.pending.take_key_waits(peer);
        let bundle = match answer {
            Some(IqAnswer::KeyBundles(list)) => {
                match list.bundles.into_iter().find(|b| b.user == peer) {
                    Some(found) => match (found.error, found.bundle) {
                        (Some(e), _) => Err(refusal(&e, peer)),
                        (None, Some(bundle)) => Ok(bundle),
                        (None, None) => Err(GatekeeperError::Other(format!("no keys for {peer}"))),
                    },
                    None => Err(GatekeeperError::Other(format!("no keys for {peer}"))),
                }
            }
            Some(IqAnswer::Error(e)) => Err(refusal(&e, peer)),
            _ => Err(GatekeeperError::Other("unexpected answer to a key fetch".into())),
        };
        let started = bundle.and_then(|bundle| {
            self.keys.e2ee.start_session(peer, &bundle).map_err(|e| {
                GatekeeperError::Other(format!("the keys of {peer} are not valid: {e}"))
            })
        });
        let status = match started {
            Ok(status) => status,
            Err(error) => {
                for send in waiting {
                    let _ = send.reply.send(Err(error.clone()));
                }
                return Ok(());
            }
        };
        if status == IdentityStatus::Changed {
            self.actor.tell(RemoteEvent::IdentityChanged { contact: peer.to_owned() }).await;
        }
        if waiting.is_empty() {
            return self.save(None).await;
        }
        for send in waiting {
            self.encrypt_and_send(send).await?;
        }
        Ok(())
    }

    /// Generates one-time keys up to the account's maximum, saves them, then uploads them.
    pub async fn top_up_keys(&mut self, remaining: u32) -> Result<(), Outcome> {
        let want = MAX_ONE_TIME_KEYS.saturating_sub(remaining as usize);
        if want == 0 {
            return Ok(());
        }
        let one_time_keys = self.keys.e2ee.generate_one_time_keys(want);
        self.save(None).await?;
        tracing::info!(user = %self.actor.user, remaining, adding = one_time_keys.len(), "topping up one-time keys");
        let id = self.pending.add_iq(IqWaiter::KeyUpload);
        let query = IqQuery::KeyUpload(KeyUpload { signed_prekey: None, one_time_keys });
        self.send(Stanza::Iq(Iq { id, query: Some(query) })).await
    }

    /// A contact could not decrypt one of our messages: a new session from the bundle it sent,
    /// the same envelope, the same id, the retry count it asked for.
    pub async fn resend_after_retry(&mut self, r: &Receipt) -> Result<(), Outcome> {
        let Some(RetryInfo { count, bundle: Some(bundle), .. }) = r.retry.clone() else {
            return Ok(());
        };
        let Some(record) = self.actor.sent.get(&r.id) else {
            tracing::info!(id = %r.id, "a retry was asked for a message no longer kept");
            return Ok(());
        };
        // Only the recipient may ask, and only so often.
        if record.to != r.from || count > MAX_RETRIES {
            return Ok(());
        }
        let (peer, envelope) = (record.to.clone(), record.envelope.clone());
        self.keys.e2ee.forget_sessions(&peer);
        let status = match self.keys.e2ee.start_session(&peer, &bundle) {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%peer, %error, "the keys in a retry receipt are not valid");
                return Ok(());
            }
        };
        if status == IdentityStatus::Changed {
            self.deliver(RemoteEvent::IdentityChanged { contact: peer.clone() });
        }
        let enc = match self.keys.e2ee.encrypt(&peer, &envelope) {
            Ok(enc) => enc,
            Err(error) => {
                tracing::warn!(%peer, %error, "cannot encrypt a resend");
                return Ok(());
            }
        };
        self.save(None).await?;
        tracing::info!(%peer, id = %r.id, count, "resending after a retry receipt");
        let stanza = MessageStanza {
            id: r.id.clone(),
            to: peer,
            kind: MessageKind::Chat as i32,
            enc: vec![enc],
            retry_count: count,
            ..Default::default()
        };
        self.pending.add_ack(AckClass::Message, &r.id, AckWaiter::Nobody);
        self.send(Stanza::Message(stanza)).await
    }
}
