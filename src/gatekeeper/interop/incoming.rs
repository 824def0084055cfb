//! What the gatekeeper sends, handled: messages decrypted and handed to the bridge, receipts,
//! notifications, server info, typing, and the answers to our requests.
//!
//! For every stored stanza (message, receipt, notification) the order is the same: work out
//! the event; at the next save, hand it to the handler (with the others waiting) and await it,
//! then save the encryption state together with the handled-stanza record, and only then tell
//! the gatekeeper (`receipt DELIVERED` or `ack`). A stanza seen before is confirmed again
//! without being handled twice.

use interop_proto::content::{Content, Envelope, MAX_CONTENT_SIZE};
use interop_proto::e2ee::{E2ee, E2eeError, IdentityStatus, retry_info};
use interop_proto::stanza::{
    Ack, AckClass, ChatState, ChatStateKind, EncType, Ib, IbBody, IqAnswer, IqResult, MessageKind,
    MessageStanza, Notification, NotificationBody, Receipt, ReceiptType, Stanza,
};
use interop_proto::{CapabilitySet, now_ms};

use super::channel_task::{Outcome, lost};
use super::connection::Conn;
use super::errors::refusal;
use super::pending::{AckWaiter, IqWaiter};
use crate::gatekeeper::{GatekeeperError, RemoteEvent};

/// A message is resent at most this often after retry receipts (spec §5.4).
pub(super) const MAX_RETRIES: u32 = 5;

/// What decrypting a message gave.
enum Opened {
    Content(Box<Content>),
    /// Only a sender key, or nothing for us.
    Nothing,
    Failed(E2eeError),
}

impl Conn<'_> {
    pub async fn on_stanza(&mut self, stanza: Stanza) -> Result<(), Outcome> {
        match stanza {
            Stanza::Message(m) => self.on_message(m).await,
            Stanza::Receipt(r) => self.on_receipt(r).await,
            Stanza::Notification(n) => self.on_notification(n).await,
            Stanza::Ack(a) => {
                self.on_ack(a);
                Ok(())
            }
            Stanza::IqResult(r) => self.on_iq_result(r).await,
            Stanza::Ib(ib) => {
                self.on_ib(ib).await;
                Ok(())
            }
            Stanza::ChatState(c) => {
                self.on_chatstate(c).await;
                Ok(())
            }
            // Client-to-server stanzas; `close` arrives as the end of the channel.
            Stanza::Iq(_) | Stanza::Close(_) => Ok(()),
        }
    }

    async fn on_message(&mut self, m: MessageStanza) -> Result<(), Outcome> {
        let group = m.kind == MessageKind::Group as i32;
        let sender = if group { m.participant.clone() } else { m.from.clone() };
        // Group message ids are unique per member, not per group.
        let seen_as = if group { format!("{}|{sender}", m.from) } else { m.from.clone() };
        let store = &self.actor.ctx.store;
        let seen = self.unsaved.has_seen(&seen_as, &m.id)
            || store
                .remote_seen(&self.actor.user, &seen_as, &m.id)
                .await
                .map_err(|e| lost(format!("cannot read handled stanzas: {e}")))?;
        if seen {
            tracing::debug!(from = %m.from, id = %m.id, "a repeat; confirming it again");
            self.delivered(&m);
            return Ok(());
        }
        let (opened, identity_changed) = self.open(&m, &sender);
        let mut events = Vec::new();
        if identity_changed {
            events.push(RemoteEvent::IdentityChanged { contact: sender.clone() });
        }
        match opened {
            Opened::Failed(error) if error.is_retryable() && m.retry_count < MAX_RETRIES => {
                return self.ask_for_retry(&m, &sender, &error).await;
            }
            Opened::Failed(error) => {
                tracing::warn!(from = %sender, id = %m.id, %error, "a message cannot be decrypted");
                events.push(RemoteEvent::Undecryptable {
                    from: sender.clone(),
                    id: m.id.clone(),
                    timestamp_ms: m.timestamp,
                });
            }
            Opened::Content(content) if !group => events.push(RemoteEvent::Message {
                from: sender.clone(),
                id: m.id.clone(),
                timestamp_ms: m.timestamp,
                content,
            }),
            Opened::Content(_) => {
                tracing::warn!(group = %m.from, id = %m.id, "group messages are not bridged yet");
            }
            Opened::Nothing => {}
        }
        for event in events {
            self.deliver(event);
        }
        // Saved and confirmed together with whatever else is waiting (`Conn::save`).
        self.unsaved(Some((seen_as, m.id.clone())));
        self.delivered(&m);
        Ok(())
    }

    /// Decrypts the parts meant for us: pairwise first (they may carry a sender key the group
    /// part needs). Also says whether the sender's identity key changed.
    fn open(&mut self, m: &MessageStanza, sender: &str) -> (Opened, bool) {
        let group = m.kind == MessageKind::Group as i32;
        let mut parts: Vec<_> = m.enc.iter().collect();
        parts.sort_by_key(|e| e.r#type == EncType::Skmsg as i32);
        let (mut content, mut identity_changed) = (None, false);
        for enc in parts {
            let kind = EncType::try_from(enc.r#type).unwrap_or(EncType::Unspecified);
            let mine = enc.recipient.is_empty() || enc.recipient == self.keys.remote_id;
            let plaintext = match kind {
                EncType::Pkmsg | EncType::Msg if mine => {
                    match self.keys.e2ee.decrypt(sender, enc) {
                        Ok(d) => {
                            identity_changed |= d.identity == IdentityStatus::Changed;
                            d.plaintext
                        }
                        Err(e) => return (Opened::Failed(e), identity_changed),
                    }
                }
                EncType::Skmsg if group => match self.keys.e2ee.decrypt_group(&m.from, sender, enc)
                {
                    Ok(p) => p,
                    Err(e) => return (Opened::Failed(e), identity_changed),
                },
                _ => continue,
            };
            // Not `Envelope::decode`: content this build finds invalid (e.g. a newer version)
            // still goes to the bridge, which shows its text fallback.
            let envelope = match (plaintext.len() <= MAX_CONTENT_SIZE)
                .then(|| <Envelope as prost::Message>::decode(plaintext.as_slice()))
            {
                Some(Ok(envelope)) => envelope,
                Some(Err(e)) => {
                    return (Opened::Failed(E2eeError::Malformed(e.to_string())), identity_changed);
                }
                None => {
                    let e = E2eeError::Malformed("envelope too large".into());
                    return (Opened::Failed(e), identity_changed);
                }
            };
            if let Some(key) = &envelope.sender_key
                && let Err(e) = self.keys.e2ee.add_sender_key(sender, key)
            {
                return (Opened::Failed(e), identity_changed);
            }
            if envelope.content.is_some() {
                content = envelope.content;
            }
        }
        let opened = match content {
            Some(c) => Opened::Content(Box::new(c)),
            None => Opened::Nothing,
        };
        (opened, identity_changed)
    }

    /// Decryption failed in a way a new session can repair: send `receipt RETRY` with a fresh
    /// bundle (its new one-time key saved first) and leave the message unconfirmed.
    async fn ask_for_retry(
        &mut self,
        m: &MessageStanza,
        sender: &str,
        error: &E2eeError,
    ) -> Result<(), Outcome> {
        let group = m.kind == MessageKind::Group as i32;
        let info = retry_info(&mut self.keys.e2ee, error, m.retry_count + 1, m.timestamp);
        tracing::info!(from = %sender, id = %m.id, reason = %info.reason, "cannot decrypt; asking for a retry");
        self.save(None).await?;
        let receipt = Receipt {
            id: m.id.clone(),
            to: m.from.clone(),
            participant: if group { sender.to_owned() } else { String::new() },
            r#type: ReceiptType::Retry as i32,
            timestamp: now_ms(),
            retry: Some(info),
            ..Default::default()
        };
        self.pending.add_ack(AckClass::Receipt, &m.id, AckWaiter::Nobody);
        self.send(Stanza::Receipt(receipt)).await
    }

    /// `receipt DELIVERED`: we stored it; the gatekeeper may drop it from the mailbox. Sent
    /// once what was handled up to here is saved.
    fn delivered(&mut self, m: &MessageStanza) {
        let group = m.kind == MessageKind::Group as i32;
        let receipt = Receipt {
            id: m.id.clone(),
            to: m.from.clone(),
            participant: if group { m.participant.clone() } else { String::new() },
            r#type: ReceiptType::Delivered as i32,
            timestamp: now_ms(),
            ..Default::default()
        };
        self.pending.add_ack(AckClass::Receipt, &m.id, AckWaiter::Nobody);
        self.send_after_save(Stanza::Receipt(receipt));
    }

    async fn on_receipt(&mut self, r: Receipt) -> Result<(), Outcome> {
        let from = if r.participant.is_empty() { r.from.clone() } else { r.participant.clone() };
        let mut ids = vec![r.id.clone()];
        ids.extend(r.more_ids.iter().cloned());
        match ReceiptType::try_from(r.r#type).unwrap_or(ReceiptType::Unspecified) {
            ReceiptType::Delivered => self.deliver(RemoteEvent::Receipt { from, ids, read: false }),
            ReceiptType::Read => self.deliver(RemoteEvent::Receipt { from, ids, read: true }),
            ReceiptType::Retry => self.resend_after_retry(&r).await?,
            ReceiptType::Unspecified => {}
        }
        let ack = Ack {
            id: r.id.clone(),
            class: AckClass::Receipt as i32,
            peer: r.from.clone(),
            ..Default::default()
        };
        // Confirmed once the receipt's event is stored, with the next save.
        self.send_after_save(Stanza::Ack(ack));
        Ok(())
    }

    async fn on_notification(&mut self, n: Notification) -> Result<(), Outcome> {
        let mut logged_out = None;
        match n.body {
            Some(NotificationBody::IdentityChange(change)) => {
                // Old sessions are void; the next message starts a new one.
                self.keys.e2ee.forget_sessions(&change.user);
                self.deliver(RemoteEvent::IdentityChanged { contact: change.user });
                self.save(None).await?;
            }
            Some(NotificationBody::LowKeys(low)) => self.top_up_keys(low.remaining).await?,
            Some(NotificationBody::CapabilitiesChange(change)) => {
                let set = CapabilitySet::from_wire(&change.capabilities);
                self.actor.state.set_capabilities(set.clone());
                self.deliver(RemoteEvent::CapabilitiesChanged(set));
            }
            Some(NotificationBody::Unenlisted(u)) => {
                let reason = if u.reason.is_empty() { "un-enlisted".into() } else { u.reason };
                logged_out = Some(format!("the gatekeeper ended this login: {reason}"));
            }
            // Opt-in, blocklist and group changes have no event yet; unknown bodies are
            // acknowledged and ignored (spec §12).
            Some(_) | None => {}
        }
        let ack =
            Ack { id: n.id.clone(), class: AckClass::Notification as i32, ..Default::default() };
        match logged_out {
            // The login ends here, so there is no later save to wait for.
            Some(reason) => {
                self.send(Stanza::Ack(ack)).await?;
                Err(Outcome::LoggedOut(reason))
            }
            // Confirmed once its event is stored, with the next save.
            None => {
                self.send_after_save(Stanza::Ack(ack));
                Ok(())
            }
        }
    }

    fn on_ack(&mut self, a: Ack) {
        let result = |to: &str| match &a.error {
            Some(e) => Err(refusal(e, to)),
            None => Ok(()),
        };
        match self.pending.take_ack(a.class, &a.id) {
            Some(AckWaiter::Message { to, reply }) => {
                let _ = reply.send(result(&to).map(|()| a.timestamp));
            }
            Some(AckWaiter::Receipt { to, reply }) => {
                let _ = reply.send(result(&to));
            }
            Some(AckWaiter::Nobody) | None => {
                if let Some(e) = &a.error {
                    tracing::debug!(id = %a.id, error = %e, "the gatekeeper refused a stanza");
                }
            }
        }
    }

    async fn on_iq_result(&mut self, r: IqResult) -> Result<(), Outcome> {
        match self.pending.take_iq(&r.id) {
            Some(IqWaiter::Reply(reply)) => {
                let answer = r.answer.ok_or_else(|| {
                    GatekeeperError::Other("the gatekeeper sent an empty answer".into())
                });
                let _ = reply.send(answer);
                Ok(())
            }
            Some(IqWaiter::KeyFetch { peer }) => self.on_key_bundles(&peer, r.answer).await,
            Some(IqWaiter::KeyCount) => match r.answer {
                Some(IqAnswer::KeyCount(count)) if count.count < count.low_watermark => {
                    self.top_up_keys(count.count).await
                }
                _ => Ok(()),
            },
            Some(IqWaiter::KeyUpload) => {
                match r.answer {
                    Some(IqAnswer::KeyCount(count)) => {
                        tracing::info!(user = %self.actor.user, held = count.count, "one-time keys topped up")
                    }
                    Some(IqAnswer::Error(error)) => {
                        tracing::warn!(%error, "the gatekeeper refused our one-time keys")
                    }
                    _ => tracing::warn!("unexpected answer to a one-time key upload"),
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    async fn on_ib(&mut self, ib: Ib) {
        match ib.body {
            Some(IbBody::ServerInfo(info)) => {
                self.actor.ctx.media_hosts.announce(&info.media_host);
                self.capabilities(CapabilitySet::from_wire(&info.capabilities)).await
            }
            Some(IbBody::OfflinePending(p)) => {
                tracing::debug!(user = %self.actor.user, count = p.count, "mailbox delivery starts")
            }
            Some(IbBody::OfflineComplete(c)) => {
                tracing::debug!(user = %self.actor.user, count = c.count, "mailbox delivered");
                // The connection works and is drained: the next loss starts a fresh backoff.
                self.actor.backoff.reset();
            }
            None => {}
        }
    }

    async fn on_chatstate(&mut self, c: ChatState) {
        if !c.participant.is_empty() {
            return; // typing in groups: no event for it yet
        }
        let state = ChatStateKind::try_from(c.state).unwrap_or(ChatStateKind::Unspecified);
        let typing = matches!(state, ChatStateKind::Composing | ChatStateKind::RecordingAudio);
        self.actor.tell(RemoteEvent::Typing { from: c.from, typing }).await;
    }
}
