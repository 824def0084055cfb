//! [`Session`]: one device's end-to-end encrypted conversation over one
//! channel, for native users (`gk`) and, given a partner channel, for test
//! partners too.
//!
//! A session owns its channel and reads it from one task. While a request
//! waits for its answer (`iq_result`, `ack`), other stanzas are kept in a
//! backlog and handled afterwards in order, so nothing is lost or reordered.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use interop_proto::content::{Content, Envelope};
use interop_proto::e2ee::{E2ee, IdentityStatus, OlmEndpoint};
use interop_proto::stanza::{
    Ack, AckClass, ChatState, ChatStateKind, Iq, IqAnswer, IqQuery, KeyFetch, MessageKind,
    MessageStanza, Reachability, Receipt, ReceiptType, Stanza,
};
use interop_proto::transport::{Channel, ClientConfig, ClientHello, NativeAuth, ServerHello};
use interop_proto::{CapabilitySet, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};

use super::ClientError;
use super::home::{Credentials, Home};
use super::register::MediaAccess;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
const SEEN_LIMIT: usize = 20_000;
const SENT_LIMIT: usize = 1000;

/// Session state kept across runs (besides the Olm pickle).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Persisted {
    /// `from|id` of handled messages, oldest first (de-duplication).
    pub seen: VecDeque<String>,
    /// `group|member|session_id`: sender keys already handed out.
    pub sender_keys_sent: Vec<String>,
    /// Phone number → internal id.
    pub contacts: BTreeMap<String, String>,
    /// Message id → its sender, for replies and reactions.
    pub senders: BTreeMap<String, String>,
}

/// A message the gatekeeper accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub id: String,
    pub to: String,
    pub timestamp: u64,
}

/// Kept so a retry receipt can be answered by re-encrypting.
pub(crate) struct SentRecord {
    pub to: String,
    pub envelope: Vec<u8>,
}

pub struct Session {
    pub(crate) channel: Channel,
    pub(crate) e2ee: OlmEndpoint,
    pub(crate) me: String,
    pub(crate) capabilities: CapabilitySet,
    pub(crate) backlog: VecDeque<Stanza>,
    pub(crate) state: Persisted,
    pub(crate) seen_set: HashSet<String>,
    pub(crate) sent: HashMap<String, SentRecord>,
    pub(crate) sent_order: VecDeque<String>,
    pub(crate) media: Option<MediaAccess>,
    next_iq: u64,
    home: Option<(Home, Credentials)>,
    autosave: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session {{ me: {:?} }}", self.me)
    }
}

impl Session {
    /// Wraps an open channel (native or partner) and an E2EE endpoint.
    pub fn new(channel: Channel, hello: &ServerHello, e2ee: OlmEndpoint, state: Persisted) -> Self {
        let seen_set = state.seen.iter().cloned().collect();
        Self {
            channel,
            e2ee,
            me: hello.user.clone(),
            capabilities: CapabilitySet::from_wire(&hello.capabilities),
            backlog: VecDeque::new(),
            state,
            seen_set,
            sent: HashMap::new(),
            sent_order: VecDeque::new(),
            media: None,
            next_iq: 0,
            home: None,
            autosave: true,
        }
    }

    /// Connects the device stored in `home` (native log-in).
    pub async fn connect_home(home: &Home) -> Result<Self, ClientError> {
        let (creds, e2ee, state) = home.load()?;
        let hello = ClientHello {
            version: PROTOCOL_VERSION,
            client: concat!("gk/", env!("CARGO_PKG_VERSION")).into(),
            auth: Some(interop_proto::transport::ClientAuth::Native(NativeAuth {
                phone: creds.phone.clone(),
                token: creds.token.clone(),
            })),
        };
        let mut config = ClientConfig::new(creds.noise_keypair()?, hello);
        config.server_key = creds.pinned_server_key();
        let (channel, server_hello) =
            interop_proto::transport::connect(&creds.chat_url, &config).await?;
        let mut s = Self::new(channel, &server_hello, e2ee, state);
        s.media = Some(MediaAccess::from_credentials(&creds, home.files_dir()));
        s.home = Some((home.clone(), creds));
        Ok(s)
    }

    pub fn user(&self) -> &str {
        &self.me
    }

    pub fn capabilities(&self) -> &CapabilitySet {
        &self.capabilities
    }

    pub fn set_media(&mut self, media: MediaAccess) {
        self.media = Some(media);
    }

    pub fn e2ee(&mut self) -> &mut OlmEndpoint {
        &mut self.e2ee
    }

    /// By default every handled message and every encryption is saved at
    /// once (crash-safe, a file write each); benchmarks turn that off and
    /// call [`Self::save`].
    pub fn set_autosave(&mut self, on: bool) {
        self.autosave = on;
    }

    pub(crate) fn autosave(&self) -> Result<(), ClientError> {
        if self.autosave { self.save() } else { Ok(()) }
    }

    /// Handles everything that arrived while requests waited for answers.
    ///
    /// Stops at the first stanza that fails. The events of the stanzas before it are returned
    /// all the same (they are handled and confirmed; dropping them would lose them for good);
    /// the error is returned only when there are none, and otherwise shows at the next read.
    pub async fn process_backlog(&mut self) -> Result<Vec<super::Event>, ClientError> {
        let mut events = Vec::new();
        while let Some(s) = self.backlog.pop_front() {
            match self.handle(s).await {
                Ok(more) => events.extend(more),
                Err(e) if events.is_empty() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "a stanza of the backlog failed");
                    break;
                }
            }
        }
        Ok(events)
    }

    /// Saves the device state if this session belongs to a home.
    pub fn save(&self) -> Result<(), ClientError> {
        if let Some((home, creds)) = &self.home {
            home.save(creds, &self.e2ee, &self.state)?;
        }
        Ok(())
    }

    /// Closes the channel cleanly.
    pub async fn close(self) {
        self.channel.close(interop_proto::stanza::CloseCode::Normal, "bye").await;
    }

    /// The next raw stanza: the backlog first, then the channel. Cancel-safe.
    pub async fn recv_stanza(&mut self) -> Result<Stanza, ClientError> {
        if let Some(s) = self.backlog.pop_front() {
            return Ok(s);
        }
        Ok(self.channel.recv().await?)
    }

    /// Sends an `iq` and waits for its answer; a refusal is an error.
    pub async fn request(&mut self, query: IqQuery) -> Result<IqAnswer, ClientError> {
        self.next_iq += 1;
        let id = format!("q{}", self.next_iq);
        self.channel.send(&Stanza::Iq(Iq { id: id.clone(), query: Some(query) })).await?;
        let answer = self
            .wait_for(|s| match s {
                Stanza::IqResult(r) if r.id == id => Some(r.answer.clone()),
                _ => None,
            })
            .await?;
        match answer {
            Some(IqAnswer::Error(e)) => Err(ClientError::Refused(e)),
            Some(a) => Ok(a),
            None => Err(ClientError::Corrupt("empty iq answer".into())),
        }
    }

    /// Reads until `pick` matches, keeping everything else for later.
    async fn wait_for<T>(&mut self, pick: impl Fn(&Stanza) -> Option<T>) -> Result<T, ClientError> {
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            let s = tokio::time::timeout_at(deadline, self.channel.recv())
                .await
                .map_err(|_| ClientError::Timeout)??;
            if let Some(t) = pick(&s) {
                return Ok(t);
            }
            self.backlog.push_back(s);
        }
    }

    /// Sends a message stanza and waits for the server's `ack`.
    pub async fn send_stanza(&mut self, m: MessageStanza) -> Result<Sent, ClientError> {
        let (id, to) = (m.id.clone(), m.to.clone());
        let ack = self.send_acked(Stanza::Message(m), &id, AckClass::Message).await?;
        self.state.senders.insert(id.clone(), self.me.clone());
        Ok(Sent { id, to, timestamp: ack.timestamp })
    }

    /// Resolves a phone number (E.164) to an internal id; ids pass through.
    pub async fn resolve(&mut self, to: &str) -> Result<String, ClientError> {
        if !to.starts_with('+') {
            return Ok(to.to_owned());
        }
        if let Some(id) = self.state.contacts.get(to) {
            return Ok(id.clone());
        }
        let q = IqQuery::Reachability(Reachability { phone: to.to_owned(), user: String::new() });
        match self.request(q).await? {
            IqAnswer::Reachability(r) if !r.user.is_empty() => {
                self.state.contacts.insert(to.to_owned(), r.user.clone());
                Ok(r.user)
            }
            _ => Err(ClientError::Refused(interop_proto::stanza::StanzaError::new(
                interop_proto::ErrorCode::NotFound,
                format!("not_found: nobody has the number {to}"),
            ))),
        }
    }

    /// Makes sure a pairwise session with `peer` exists (fetching its keys).
    pub async fn ensure_session(&mut self, peer: &str) -> Result<(), ClientError> {
        if self.e2ee.has_session(peer) {
            return Ok(());
        }
        let q = IqQuery::KeyFetch(KeyFetch { users: vec![peer.to_owned()] });
        let IqAnswer::KeyBundles(b) = self.request(q).await? else {
            return Err(ClientError::Corrupt("unexpected answer to key_fetch".into()));
        };
        let entry = b.bundles.into_iter().find(|u| u.user == peer).ok_or(ClientError::Timeout)?;
        if let Some(e) = entry.error {
            return Err(ClientError::Refused(e));
        }
        let bundle = entry.bundle.ok_or_else(|| ClientError::Corrupt("bundle missing".into()))?;
        if self.e2ee.start_session(peer, &bundle)? == IdentityStatus::Changed {
            tracing::warn!(%peer, "the contact's security code changed");
        }
        Ok(())
    }

    /// Encrypts `content` for one user and sends it with a fresh id.
    pub async fn send_content(&mut self, to: &str, content: Content) -> Result<Sent, ClientError> {
        self.send_content_with_id(to, content, super::new_message_id()).await
    }

    pub async fn send_content_with_id(
        &mut self,
        to: &str,
        content: Content,
        id: String,
    ) -> Result<Sent, ClientError> {
        if to.ends_with("@group") {
            return self.send_group(to, content, id).await;
        }
        self.ensure_session(to).await?;
        let envelope = Envelope { content: Some(content), ..Default::default() }.encode_padded();
        let enc = self.e2ee.encrypt(to, &envelope)?;
        // Saved before the ciphertext leaves: a device that restarts must never reuse this
        // ratchet step (the peer would refuse a second message on it).
        self.autosave()?;
        let m = MessageStanza {
            id: id.clone(),
            to: to.to_owned(),
            kind: MessageKind::Chat as i32,
            enc: vec![enc],
            ..Default::default()
        };
        let sent = self.send_stanza(m).await?;
        self.remember_sent(&id, to, envelope);
        Ok(sent)
    }

    /// Pipelining: encrypts and sends without waiting for the `ack`;
    /// collect acks with [`Self::wait_acks`]. Returns the message id.
    pub async fn send_content_nowait(
        &mut self,
        to: &str,
        content: Content,
    ) -> Result<String, ClientError> {
        self.ensure_session(to).await?;
        let id = super::new_message_id();
        let envelope = Envelope { content: Some(content), ..Default::default() }.encode_padded();
        let enc = self.e2ee.encrypt(to, &envelope)?;
        self.autosave()?;
        let m = MessageStanza {
            id: id.clone(),
            to: to.to_owned(),
            kind: MessageKind::Chat as i32,
            enc: vec![enc],
            ..Default::default()
        };
        self.channel.send(&Stanza::Message(m)).await?;
        self.remember_sent(&id, to, envelope);
        Ok(id)
    }

    /// Waits for `n` message acks (in any order); the first refusal is an error.
    pub async fn wait_acks(&mut self, n: usize) -> Result<Vec<Sent>, ClientError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let ack: Ack = self
                .wait_for(|s| match s {
                    Stanza::Ack(a) if a.class == AckClass::Message as i32 => Some(a.clone()),
                    _ => None,
                })
                .await?;
            if let Some(e) = ack.error {
                return Err(ClientError::Refused(e));
            }
            out.push(Sent { id: ack.id, to: ack.peer, timestamp: ack.timestamp });
        }
        Ok(out)
    }

    fn remember_sent(&mut self, id: &str, to: &str, envelope: Vec<u8>) {
        self.sent.insert(id.to_owned(), SentRecord { to: to.to_owned(), envelope });
        self.sent_order.push_back(id.to_owned());
        while self.sent_order.len() > SENT_LIMIT {
            if let Some(old) = self.sent_order.pop_front() {
                self.sent.remove(&old);
            }
        }
    }

    /// Encrypts once with our sender key, handing the key to members who lack it.
    async fn send_group(
        &mut self,
        group: &str,
        content: Content,
        id: String,
    ) -> Result<Sent, ClientError> {
        let info = match self
            .request(IqQuery::GroupGet(interop_proto::stanza::GroupGet { group: group.to_owned() }))
            .await?
        {
            IqAnswer::Group(g) => g,
            _ => return Err(ClientError::Corrupt("unexpected answer to group_get".into())),
        };
        let skd = self.e2ee.sender_key(group);
        let mut enc = Vec::new();
        let mut handed = Vec::new();
        let me = self.me.clone();
        for member in info.participants.iter().filter(|m| **m != me) {
            let mark = format!("{group}|{member}|{}", skd.session_id);
            if self.state.sender_keys_sent.contains(&mark) {
                continue;
            }
            if let Err(e) = self.ensure_session(member).await {
                tracing::warn!(%member, error = %e, "cannot hand our sender key to a member");
                continue;
            }
            let env =
                Envelope { sender_key: Some(skd.clone()), ..Default::default() }.encode_padded();
            enc.push(self.e2ee.encrypt(member, &env)?);
            handed.push(mark);
        }
        let env = Envelope { content: Some(content), ..Default::default() }.encode_padded();
        enc.push(self.e2ee.encrypt_group(group, &env)?);
        self.autosave()?;
        let m = MessageStanza {
            id: id.clone(),
            to: group.to_owned(),
            kind: MessageKind::Group as i32,
            enc,
            ..Default::default()
        };
        let sent = self.send_stanza(m).await?;
        self.state.sender_keys_sent.extend(handed);
        self.remember_sent(&id, group, env);
        Ok(sent)
    }

    /// Typing on (`composing`) or off (`paused`).
    pub async fn typing(&mut self, to: &str, on: bool) -> Result<(), ClientError> {
        let state = if on { ChatStateKind::Composing } else { ChatStateKind::Paused };
        let c = ChatState { to: to.to_owned(), state: state as i32, ..Default::default() };
        Ok(self.channel.send(&Stanza::ChatState(c)).await?)
    }

    /// Sends a receipt and waits for the server's ack.
    pub async fn receipt(
        &mut self,
        to: &str,
        ids: &[String],
        kind: ReceiptType,
    ) -> Result<(), ClientError> {
        let Some((first, more)) = ids.split_first() else { return Ok(()) };
        let r = Receipt {
            id: first.clone(),
            more_ids: more.to_vec(),
            to: to.to_owned(),
            r#type: kind as i32,
            timestamp: interop_proto::now_ms(),
            ..Default::default()
        };
        self.send_receipt(r).await
    }

    pub(crate) async fn send_receipt(&mut self, r: Receipt) -> Result<(), ClientError> {
        let id = r.id.clone();
        self.send_acked(Stanza::Receipt(r), &id, AckClass::Receipt).await.map(|_| ())
    }

    /// Sends a stanza the server answers with an `ack` of `class`, and waits for it; an ack
    /// carrying an error is a refusal.
    async fn send_acked(
        &mut self,
        stanza: Stanza,
        id: &str,
        class: AckClass,
    ) -> Result<Ack, ClientError> {
        self.channel.send(&stanza).await?;
        let ack: Ack = self
            .wait_for(|s| match s {
                Stanza::Ack(a) if a.id == id && a.class == class as i32 => Some(a.clone()),
                _ => None,
            })
            .await?;
        match ack.error {
            Some(e) => Err(ClientError::Refused(e)),
            None => Ok(ack),
        }
    }

    pub(crate) fn mark_seen(&mut self, key: String) {
        if self.seen_set.insert(key.clone()) {
            self.state.seen.push_back(key);
            while self.state.seen.len() > SEEN_LIMIT {
                if let Some(old) = self.state.seen.pop_front() {
                    self.seen_set.remove(&old);
                }
            }
        }
    }

    /// The sender of a known message id (ours or received), for replies.
    pub fn sender_of(&self, id: &str) -> Option<&str> {
        self.state.senders.get(id).map(String::as_str)
    }
}
