//! Turning received stanzas into [`Event`]s: decrypt, de-duplicate, answer
//! with `receipt DELIVERED` (or RETRY when decryption fails) and ack
//! receipts and notifications, as spec §5 and §7.6 require.

use interop_proto::content::{Content, ContentKind, Envelope, MediaKind};
use interop_proto::e2ee::{E2ee, E2eeError, IdentityStatus, MAX_ONE_TIME_KEYS, retry_info};
use interop_proto::stanza::{
    Ack, AckClass, ChatStateKind, EncType, IbBody, Inbox, IqQuery, KeyUpload, MessageKind,
    MessageStanza, NotificationBody, Receipt, ReceiptType, RetryInfo, Stanza,
};

use super::ClientError;
use super::events::{Event, MediaInfo};
use super::session::Session;

const MAX_RETRIES: u32 = 5;

/// What decrypting one message gave.
enum Opened {
    Content(Box<Content>),
    /// Only a sender key (or nothing to show).
    Nothing,
    Failed(E2eeError),
}

impl Session {
    /// Waits for the next stanza and handles it.
    pub async fn next_events(&mut self) -> Result<Vec<Event>, ClientError> {
        let s = self.recv_stanza().await?;
        self.handle(s).await
    }

    /// Handles one received stanza; returns what the user should see.
    pub async fn handle(&mut self, stanza: Stanza) -> Result<Vec<Event>, ClientError> {
        let mut events = Vec::new();
        match stanza {
            Stanza::Message(m) => self.on_message(m, &mut events).await?,
            Stanza::Receipt(r) => {
                let ack = Ack {
                    id: r.id.clone(),
                    class: AckClass::Receipt as i32,
                    peer: r.from.clone(),
                    ..Default::default()
                };
                let kind = ReceiptType::try_from(r.r#type).unwrap_or(ReceiptType::Unspecified);
                if kind == ReceiptType::Retry {
                    self.on_retry(&r).await;
                }
                let (from, chat) = if r.participant.is_empty() {
                    (r.from.clone(), r.from.clone())
                } else {
                    (r.participant.clone(), r.from.clone())
                };
                let mut ids = vec![r.id.clone()];
                ids.extend(r.more_ids.iter().cloned());
                let receipt = match kind {
                    ReceiptType::Delivered => "delivered",
                    ReceiptType::Read => "read",
                    ReceiptType::Retry => "retry",
                    ReceiptType::Unspecified => "unknown",
                };
                events.push(Event::Receipt { from, chat, ids, receipt: receipt.into() });
                self.confirm(Stanza::Ack(ack)).await;
            }
            Stanza::Notification(n) => {
                let ack = Ack {
                    id: n.id.clone(),
                    class: AckClass::Notification as i32,
                    ..Default::default()
                };
                let low = match &n.body {
                    Some(NotificationBody::LowKeys(l)) => Some(l.remaining),
                    _ => None,
                };
                if let Some(body) = n.body {
                    self.on_notification(body, &mut events);
                }
                self.confirm(Stanza::Ack(ack)).await;
                if let Some(remaining) = low {
                    self.top_up_keys(remaining).await?;
                }
            }
            Stanza::ChatState(c) => {
                let state =
                    match ChatStateKind::try_from(c.state).unwrap_or(ChatStateKind::Unspecified) {
                        ChatStateKind::Composing => "composing",
                        ChatStateKind::Paused => "paused",
                        ChatStateKind::RecordingAudio => "recording_audio",
                        ChatStateKind::Unspecified => "unknown",
                    };
                let (from, chat) = if c.participant.is_empty() {
                    (c.from.clone(), c.from)
                } else {
                    (c.participant, c.from)
                };
                events.push(Event::Typing { from, chat, state: state.into() });
            }
            Stanza::Ib(ib) => {
                if let Some(IbBody::OfflineComplete(c)) = ib.body {
                    events.push(Event::OfflineComplete { count: c.count });
                }
            }
            Stanza::Ack(_) | Stanza::IqResult(_) | Stanza::Iq(_) | Stanza::Close(_) => {}
        }
        Ok(events)
    }

    /// Uploads fresh one-time keys after a `low_keys` warning (spec §7.2).
    async fn top_up_keys(&mut self, remaining: u32) -> Result<(), ClientError> {
        let want = MAX_ONE_TIME_KEYS.saturating_sub(remaining as usize);
        if want == 0 {
            return Ok(());
        }
        let one_time_keys = self.e2ee.generate_one_time_keys(want);
        self.request(IqQuery::KeyUpload(KeyUpload { signed_prekey: None, one_time_keys })).await?;
        self.autosave()
    }

    fn on_notification(&mut self, body: NotificationBody, events: &mut Vec<Event>) {
        match body {
            NotificationBody::IdentityChange(c) => {
                // Old sessions are void; the next message starts a new one.
                self.e2ee.forget_sessions(&c.user);
                events.push(Event::IdentityChange { user: c.user });
            }
            NotificationBody::LowKeys(l) => events.push(Event::LowKeys { remaining: l.remaining }),
            NotificationBody::OptInChange(o) => {
                let inbox = match Inbox::try_from(o.inbox).unwrap_or(Inbox::Unspecified) {
                    Inbox::Separate => "separate",
                    Inbox::Combined => "combined",
                    Inbox::Unspecified => "none",
                };
                events.push(Event::OptInChange {
                    user: o.user,
                    opted_in: o.opted_in,
                    inbox: inbox.into(),
                });
            }
            NotificationBody::BlocklistChange(b) => {
                events.push(Event::BlocklistChange { users: b.users })
            }
            NotificationBody::GroupChange(g) => {
                let info = g.group.unwrap_or_default();
                // Someone may have left: a new sender key keeps them out of what follows.
                let prefix = format!("{}|", info.group);
                let had: Vec<String> = self
                    .state
                    .sender_keys_sent
                    .iter()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned()
                    .collect();
                let departed = had.iter().any(|k| {
                    let member = k.split('|').nth(1).unwrap_or_default();
                    !info.participants.iter().any(|p| p == member)
                });
                if departed {
                    self.e2ee.rotate_sender_key(&info.group);
                    self.state.sender_keys_sent.retain(|k| !k.starts_with(&prefix));
                }
                events.push(Event::GroupChange {
                    group: info.group,
                    subject: info.subject,
                    participants: info.participants,
                    actor: g.actor,
                });
            }
            NotificationBody::Unenlisted(u) => events.push(Event::Unenlisted { reason: u.reason }),
            NotificationBody::CapabilitiesChange(c) => {
                self.capabilities = interop_proto::CapabilitySet::from_wire(&c.capabilities)
            }
        }
    }

    async fn on_message(
        &mut self,
        m: MessageStanza,
        events: &mut Vec<Event>,
    ) -> Result<(), ClientError> {
        let group = m.kind == MessageKind::Group as i32;
        let sender = if group { m.participant.clone() } else { m.from.clone() };
        let key = format!("{}|{}|{}", m.from, sender, m.id);
        if self.seen_set.contains(&key) {
            // Already handled (a redelivery): confirm again so the mailbox lets go.
            return self.delivered(&m).await;
        }
        match self.open(&m, &sender, events) {
            Opened::Failed(e) if e.is_retryable() && m.retry_count < MAX_RETRIES => {
                let info = retry_info(&mut self.e2ee, &e, m.retry_count + 1, m.timestamp);
                tracing::info!(from = %sender, id = %m.id, reason = %info.reason, "cannot decrypt; asking for a retry");
                let r = Receipt {
                    id: m.id.clone(),
                    to: m.from.clone(),
                    participant: if group { sender.clone() } else { String::new() },
                    r#type: ReceiptType::Retry as i32,
                    timestamp: interop_proto::now_ms(),
                    retry: Some(info),
                    ..Default::default()
                };
                self.send_receipt(r).await?;
                return Ok(());
            }
            Opened::Failed(e) => {
                events.push(Event::Undecryptable {
                    id: m.id.clone(),
                    from: sender.clone(),
                    chat: m.from.clone(),
                    reason: e.to_string(),
                });
            }
            Opened::Nothing => {}
            Opened::Content(c) => {
                let ev = self.content_event(&m, &sender, *c).await;
                events.push(ev);
            }
        }
        self.mark_seen(key);
        self.state.senders.insert(m.id.clone(), sender);
        self.autosave()?;
        let receipt = self.delivered_receipt(&m);
        self.confirm(receipt).await;
        Ok(())
    }

    /// Sends a confirmation for a stanza whose events are already taken (and, for a message,
    /// marked seen and saved). If it cannot go, the channel is broken: the caller's next read
    /// says so, and the gatekeeper delivers the stanza again on the next connection, where it
    /// is confirmed without being shown twice. Failing here instead would lose the events.
    async fn confirm(&mut self, stanza: Stanza) {
        if let Err(e) = self.channel.send(&stanza).await {
            tracing::debug!(error = %e, "could not confirm a stanza; it comes again");
        }
    }

    /// Confirms a message. The server's ack for it is not awaited (it only
    /// matters on failure, which the next connection repairs by redelivery).
    async fn delivered(&mut self, m: &MessageStanza) -> Result<(), ClientError> {
        let receipt = self.delivered_receipt(m);
        Ok(self.channel.send(&receipt).await?)
    }

    fn delivered_receipt(&self, m: &MessageStanza) -> Stanza {
        let group = m.kind == MessageKind::Group as i32;
        Stanza::Receipt(Receipt {
            id: m.id.clone(),
            to: m.from.clone(),
            participant: if group { m.participant.clone() } else { String::new() },
            r#type: ReceiptType::Delivered as i32,
            timestamp: interop_proto::now_ms(),
            ..Default::default()
        })
    }

    /// Decrypts a message's parts meant for us.
    fn open(&mut self, m: &MessageStanza, sender: &str, events: &mut Vec<Event>) -> Opened {
        let group = m.kind == MessageKind::Group as i32;
        let mut content = None;
        // Pairwise parts first: they may carry the sender key the `skmsg` needs.
        let mut parts: Vec<_> = m.enc.iter().collect();
        parts.sort_by_key(|e| e.r#type == EncType::Skmsg as i32);
        for enc in parts {
            let ty = EncType::try_from(enc.r#type).unwrap_or(EncType::Unspecified);
            let plain = match ty {
                EncType::Pkmsg | EncType::Msg
                    if enc.recipient.is_empty() || enc.recipient == self.me =>
                {
                    match self.e2ee.decrypt(sender, enc) {
                        Ok(d) => {
                            if d.identity == IdentityStatus::Changed {
                                events.push(Event::IdentityChange { user: sender.to_owned() });
                            }
                            d.plaintext
                        }
                        Err(e) => return Opened::Failed(e),
                    }
                }
                EncType::Skmsg if group => match self.e2ee.decrypt_group(&m.from, sender, enc) {
                    Ok(p) => p,
                    Err(e) => return Opened::Failed(e),
                },
                _ => continue,
            };
            let env = match Envelope::decode(&plain) {
                Ok(e) => e,
                Err(e) => return Opened::Failed(E2eeError::Malformed(e.to_string())),
            };
            if let Some(skd) = env.sender_key
                && let Err(e) = self.e2ee.add_sender_key(sender, &skd)
            {
                return Opened::Failed(e);
            }
            if env.content.is_some() {
                content = env.content;
            }
        }
        match content {
            Some(c) => Opened::Content(Box::new(c)),
            None => Opened::Nothing,
        }
    }

    async fn content_event(&mut self, m: &MessageStanza, sender: &str, c: Content) -> Event {
        let (id, from, chat) = (m.id.clone(), sender.to_owned(), m.from.clone());
        let kind = c.validate();
        match kind {
            Ok(ContentKind::Reaction) => {
                let r = c.reaction.unwrap_or_default();
                let target = r.target.map(|t| t.id).unwrap_or_default();
                Event::Reaction { id, from, chat, target, emoji: r.emoji, revoke: r.revoke }
            }
            Ok(ContentKind::Edit) => {
                let target = c.replaces.map(|t| t.id).unwrap_or_default();
                Event::Edit { id, from, chat, target, text: c.text }
            }
            Ok(ContentKind::Delete) => {
                let target = c.delete.map(|t| t.id).unwrap_or_default();
                Event::Delete { id, from, chat, target }
            }
            Ok(ContentKind::Media) | Ok(ContentKind::Text) => {
                let media = match c.media {
                    Some(media) => Some(self.fetch_media(&media, sender, &m.id).await),
                    None => None,
                };
                let reply_to = c.in_reply_to.map(|r| r.id);
                Event::Message {
                    id,
                    from,
                    chat,
                    timestamp: m.timestamp,
                    offline: m.offline,
                    text: c.text,
                    reply_to,
                    media,
                }
            }
            Err(e) => {
                let text =
                    if c.text.is_empty() { format!("unsupported message: {e}") } else { c.text };
                Event::Message {
                    id,
                    from,
                    chat,
                    timestamp: m.timestamp,
                    offline: m.offline,
                    text,
                    reply_to: None,
                    media: None,
                }
            }
        }
    }

    async fn fetch_media(
        &mut self,
        media: &interop_proto::content::MediaRef,
        sender: &str,
        id: &str,
    ) -> MediaInfo {
        let kind = match MediaKind::try_from(media.kind).unwrap_or(MediaKind::Unspecified) {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice",
            MediaKind::File => "file",
            MediaKind::Unspecified => "unknown",
        };
        let mut info = MediaInfo {
            kind: kind.into(),
            mime: media.mime.clone(),
            filename: media.filename.clone(),
            size: media.size,
            path: None,
            error: None,
        };
        let Some(access) = self.media.clone() else { return info };
        let result = async {
            let blob = access.download(media, sender).await?;
            let plain = interop_proto::media_crypto::decrypt_ref(media, &blob)
                .map_err(|e| ClientError::Media(e.to_string()))?;
            std::fs::create_dir_all(&access.files_dir)?;
            let safe: String = media
                .filename
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            let path = access
                .files_dir
                .join(format!("{id}-{}", if safe.is_empty() { "file".into() } else { safe }));
            std::fs::write(&path, plain)?;
            Ok::<_, ClientError>(path.display().to_string())
        }
        .await;
        match result {
            Ok(p) => info.path = Some(p),
            Err(e) => info.error = Some(e.to_string()),
        }
        info
    }

    /// A peer could not decrypt one of our messages: new session from the
    /// bundle it sent, same content, same id, higher `retry_count`. For a
    /// group message the member also gets our sender key again.
    async fn on_retry(&mut self, r: &Receipt) {
        let Some(RetryInfo { count, bundle: Some(bundle), .. }) = r.retry.clone() else { return };
        let Some(rec) = self.sent.get(&r.id) else {
            tracing::info!(id = %r.id, "retry requested for a message no longer kept");
            return;
        };
        let (to, envelope) = (rec.to.clone(), rec.envelope.clone());
        let group = to.ends_with("@group");
        let peer = if group { r.participant.clone() } else { to.clone() };
        if count > MAX_RETRIES || peer.is_empty() {
            return;
        }
        self.e2ee.forget_sessions(&peer);
        let result = async {
            self.e2ee.start_session(&peer, &bundle)?;
            let (kind, enc) = if group {
                let skd = self.e2ee.sender_key(&to);
                let key_env =
                    Envelope { sender_key: Some(skd), ..Default::default() }.encode_padded();
                let part = self.e2ee.encrypt(&peer, &key_env)?;
                (MessageKind::Group, vec![part, self.e2ee.encrypt_group(&to, &envelope)?])
            } else {
                (MessageKind::Chat, vec![self.e2ee.encrypt(&peer, &envelope)?])
            };
            let m = MessageStanza {
                id: r.id.clone(),
                to: to.clone(),
                kind: kind as i32,
                enc,
                retry_count: count,
                ..Default::default()
            };
            self.channel.send(&Stanza::Message(m)).await?;
            Ok::<_, ClientError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(id = %r.id, error = %e, "resend after retry failed");
        }
    }
}
