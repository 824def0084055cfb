//! [`InteropLogin`]: the handle the bridge holds for one connected user.
//!
//! The channel and the encryption state belong to the login's channel task alone; this handle
//! only sends it [`Command`]s and awaits the answer on a oneshot. While the channel is down,
//! calls that need it fail at once with `Disconnected`, so the caller queues and retries
//! instead of waiting for a reconnect. Media hosting needs no channel and works regardless.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use interop_proto::content::MediaRef;
use interop_proto::stanza::{IqAnswer, IqQuery, ProfileGet, Reachability};
use interop_proto::{Capability, CapabilitySet, PhoneNumber};
use tokio::sync::{mpsc, oneshot};

use super::{Context, errors::refusal, media};
use crate::gatekeeper::{
    Contact, GatekeeperError, GatekeeperLogin, OutgoingMessage, RemoteMessageId,
};

type Reply<T> = oneshot::Sender<Result<T, GatekeeperError>>;

/// What the handle asks of the channel task.
pub(crate) enum Command {
    Send {
        /// Boxed: content is large, and every command is as large as its largest kind.
        message: Box<OutgoingMessage>,
        reply: Reply<u64>,
    },
    ReadReceipt {
        to: String,
        ids: Vec<RemoteMessageId>,
        reply: Reply<()>,
    },
    Typing {
        to: String,
        typing: bool,
        reply: Reply<()>,
    },
    /// An `iq`; the answer (an error answer included) comes back as it is.
    Query {
        query: IqQuery,
        reply: Reply<IqAnswer>,
    },
    /// Close the channel and end the task.
    Disconnect {
        done: oneshot::Sender<()>,
    },
}

impl Command {
    /// Answers the command with `error` without doing it (a `Disconnect` is just confirmed).
    pub(crate) fn refuse(self, error: GatekeeperError) {
        match self {
            Self::Send { reply, .. } => drop(reply.send(Err(error))),
            Self::ReadReceipt { reply, .. } | Self::Typing { reply, .. } => {
                drop(reply.send(Err(error)))
            }
            Self::Query { reply, .. } => drop(reply.send(Err(error))),
            Self::Disconnect { done } => drop(done.send(())),
        }
    }
}

/// What the handle and the channel task both see.
#[derive(Debug, Default)]
pub(crate) struct LoginState {
    connected: AtomicBool,
    capabilities: RwLock<CapabilitySet>,
}

impl LoginState {
    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn capabilities(&self) -> CapabilitySet {
        self.capabilities.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stores the set; returns whether it changed.
    pub(crate) fn set_capabilities(&self, set: CapabilitySet) -> bool {
        let mut current = self.capabilities.write().unwrap_or_else(|p| p.into_inner());
        let changed = *current != set;
        *current = set;
        changed
    }
}

/// One connected user, as the bridge sees it. Dropping it does not end the connection:
/// [`GatekeeperLogin::disconnect`] (or the connector's `unenlist`/`shutdown`) does.
pub struct InteropLogin {
    ctx: Arc<Context>,
    user: String,
    remote_id: String,
    commands: mpsc::Sender<Command>,
    state: Arc<LoginState>,
}

impl std::fmt::Debug for InteropLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteropLogin")
            .field("user", &self.user)
            .field("remote_id", &self.remote_id)
            .field("connected", &self.state.is_connected())
            .finish_non_exhaustive()
    }
}

impl InteropLogin {
    pub(crate) fn new(
        ctx: Arc<Context>,
        user: String,
        remote_id: String,
        commands: mpsc::Sender<Command>,
        state: Arc<LoginState>,
    ) -> Self {
        Self { ctx, user, remote_id, commands, state }
    }

    /// Whether the channel is open right now.
    pub fn is_connected(&self) -> bool {
        self.state.is_connected()
    }

    /// A profile's avatar URL, if there is one on the gatekeeper's media host; any other is
    /// dropped, so the bridge never fetches it.
    fn media_url(&self, url: &str) -> Option<String> {
        if url.is_empty() {
            return None;
        }
        if url::Url::parse(url).is_ok_and(|parsed| self.ctx.media_hosts.allows(&parsed)) {
            return Some(url.to_owned());
        }
        tracing::warn!(user = %self.user, "ignored an avatar URL that is not on the gatekeeper's media host");
        None
    }

    /// Sends a command to the channel task and waits for its answer.
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, GatekeeperError> {
        let down = || {
            GatekeeperError::Disconnected(format!(
                "the channel to {} is not open right now",
                self.ctx.network_name
            ))
        };
        if !self.state.is_connected() {
            return Err(down());
        }
        let (reply, answer) = oneshot::channel();
        self.commands.send(make(reply)).await.map_err(|_| down())?;
        // The task answers by itself after `request_timeout` (twice for a send that fetches
        // keys first); this is only a safety net.
        let limit = self.ctx.tuning.request_timeout * 3;
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(down()),
            Err(_) => Err(GatekeeperError::Disconnected("no answer from the gatekeeper".into())),
        }
    }

    async fn query(&self, query: IqQuery) -> Result<IqAnswer, GatekeeperError> {
        self.call(|reply| Command::Query { query, reply }).await
    }

    fn require(&self, capability: Capability, what: &'static str) -> Result<(), GatekeeperError> {
        if self.state.capabilities().contains(&capability) {
            Ok(())
        } else {
            Err(GatekeeperError::Unsupported(what))
        }
    }
}

fn unexpected(what: &str) -> GatekeeperError {
    GatekeeperError::Other(format!("the gatekeeper gave an unexpected answer to {what}"))
}

#[async_trait]
impl GatekeeperLogin for InteropLogin {
    fn remote_id(&self) -> &str {
        &self.remote_id
    }

    fn capabilities(&self) -> CapabilitySet {
        self.state.capabilities()
    }

    async fn resolve_phone(&self, phone: &str) -> Result<Contact, GatekeeperError> {
        let number = PhoneNumber::parse(phone).map_err(|e| {
            GatekeeperError::UnknownUser(format!("{phone} ({e}, e.g. +4915112345678)"))
        })?;
        self.require(Capability::Reachability, "looking up phone numbers")?;
        let query = IqQuery::Reachability(Reachability {
            phone: number.as_str().to_owned(),
            user: String::new(),
        });
        let found = match self.query(query).await? {
            IqAnswer::Reachability(found) => found,
            IqAnswer::Error(e) => return Err(refusal(&e, phone)),
            _ => return Err(unexpected("a reachability query")),
        };
        if found.user.is_empty() {
            return Err(GatekeeperError::UnknownUser(phone.to_owned()));
        }
        if !found.opted_in {
            return Err(GatekeeperError::NotOptedIn(phone.to_owned()));
        }
        if !found.reachable {
            return Err(GatekeeperError::Blocked(phone.to_owned()));
        }
        match self.profile(&found.user).await {
            Ok(contact) => Ok(contact),
            Err(error) => {
                tracing::debug!(%error, "no profile for a reachable contact; using its id");
                Ok(Contact { remote_id: found.user, display_name: String::new(), avatar_url: None })
            }
        }
    }

    async fn profile(&self, remote_id: &str) -> Result<Contact, GatekeeperError> {
        let query = IqQuery::ProfileGet(ProfileGet { user: remote_id.to_owned() });
        match self.query(query).await? {
            IqAnswer::Profile(p) => Ok(Contact {
                remote_id: if p.user.is_empty() { remote_id.to_owned() } else { p.user },
                display_name: p.display_name,
                avatar_url: self.media_url(&p.avatar_url),
            }),
            IqAnswer::Error(e) => Err(refusal(&e, remote_id)),
            _ => Err(unexpected("a profile query")),
        }
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<u64, GatekeeperError> {
        let message = Box::new(message.clone());
        self.call(|reply| Command::Send { message, reply }).await
    }

    async fn send_read_receipt(
        &self,
        to: &str,
        ids: &[RemoteMessageId],
    ) -> Result<(), GatekeeperError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.require(Capability::ReadReceipts, "read receipts")?;
        let (to, ids) = (to.to_owned(), ids.to_vec());
        self.call(|reply| Command::ReadReceipt { to, ids, reply }).await
    }

    async fn send_typing(&self, to: &str, typing: bool) -> Result<(), GatekeeperError> {
        self.require(Capability::Typing, "typing notifications")?;
        let to = to.to_owned();
        self.call(|reply| Command::Typing { to, typing, reply }).await
    }

    async fn host_media(&self, ciphertext: Vec<u8>) -> Result<String, GatekeeperError> {
        media::host(&self.ctx, &self.user, &ciphertext).await
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<Vec<u8>, GatekeeperError> {
        media::fetch(&self.ctx, media).await
    }

    async fn disconnect(&self) {
        let (done, stopped) = oneshot::channel();
        if self.commands.send(Command::Disconnect { done }).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), stopped).await;
        }
    }
}
