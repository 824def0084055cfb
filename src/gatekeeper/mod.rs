//! The gatekeeper side of the bridge: what any gatekeeper connector must do.
//!
//! The bridge talks to WhatsApp, Messenger or the reference gatekeeper only through the two
//! traits below, so a connector for another gatekeeper API is a new module, not a rewrite.
//! [`GatekeeperConnector`] is the bridge-wide part (enlisting users, the partner identity);
//! [`GatekeeperLogin`] is one logged-in Matrix user's connection. Read them as the
//! specification of a connector: every method says what it must guarantee.

pub mod interop;
pub mod partner_identity;
pub mod unconfigured;

use std::sync::Arc;

use async_trait::async_trait;

/// The gatekeeper-internal id of a user or group (opaque; never parsed for meaning).
pub type RemoteId = String;
/// A message id, chosen by the message's sender; with the sender's id it names the message.
pub type RemoteMessageId = String;

/// What a connector can fail with. Every variant is something to tell the user about.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatekeeperError {
    /// The contact has not opted in to third-party chats (or opted out).
    #[error("{0} has not opted in to chats with other messaging services")]
    NotOptedIn(String),
    /// The contact blocked the user.
    #[error("{0} does not accept messages from you")]
    Blocked(String),
    #[error("no such user on the gatekeeper: {0}")]
    UnknownUser(String),
    #[error("the gatekeeper does not support {0}")]
    Unsupported(&'static str),
    #[error("rate limited by the gatekeeper; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("too large for the gatekeeper: {0}")]
    TooLarge(String),
    /// Not connected now; the caller queues and retries (nothing is lost).
    #[error("not connected to the gatekeeper: {0}")]
    Disconnected(String),
    /// The login is no longer valid (un-enlisted, credentials refused): log in again.
    #[error("the gatekeeper ended this login: {0}")]
    LoggedOut(String),
    /// A URL a contact's message or profile names is not on the gatekeeper's media host, so
    /// it was not fetched.
    #[error("{0} is not the gatekeeper's media host; not downloaded from there")]
    NotMediaHost(String),
    #[error("gatekeeper error: {0}")]
    Other(String),
}

/// The result of enlisting a Matrix user.
#[derive(Debug, Clone)]
pub struct Enlistment {
    /// The user's gatekeeper-internal id.
    pub remote_id: RemoteId,
}

/// A contact, as the gatekeeper describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub remote_id: RemoteId,
    pub display_name: String,
    /// Where the avatar can be fetched, if any.
    pub avatar_url: Option<String>,
}

/// Something that happened on the gatekeeper side for one login, in the order it happened.
#[derive(Debug, Clone)]
pub enum RemoteEvent {
    /// A decrypted message (text, media, reply, reaction, edit or delete). `content` is as the
    /// sender wrote it, not validated: check it with `Content::validate` and show its `text`
    /// when it is of a kind or version this build does not understand.
    Message {
        from: RemoteId,
        id: RemoteMessageId,
        timestamp_ms: u64,
        content: Box<interop_proto::content::Content>,
    },
    /// A message that could not be decrypted even after retries.
    Undecryptable {
        from: RemoteId,
        id: RemoteMessageId,
        timestamp_ms: u64,
    },
    /// The contact's device read (or received) our messages up to and including these ids.
    Receipt {
        from: RemoteId,
        ids: Vec<RemoteMessageId>,
        read: bool,
    },
    Typing {
        from: RemoteId,
        typing: bool,
    },
    /// A contact's security code changed (reinstall, new device).
    IdentityChanged {
        contact: RemoteId,
    },
    /// The gatekeeper's capability set changed.
    CapabilitiesChanged(interop_proto::CapabilitySet),
    /// The channel's state changed; shown in `status`.
    Connection(ConnectionState),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    /// Lost; reconnecting after `retry_in_ms` (backoff with jitter).
    Reconnecting {
        retry_in_ms: u64,
        reason: String,
    },
    /// Ended for good (e.g. un-enlisted); needs a new login.
    LoggedOut {
        reason: String,
    },
}

/// A message to send. `id` is chosen by the bridge from the Matrix event, so a resend after a
/// crash carries the same id and the gatekeeper drops the duplicate.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub to: RemoteId,
    pub id: RemoteMessageId,
    pub content: interop_proto::content::Content,
}

/// The bridge-wide part of a connector.
#[async_trait]
pub trait GatekeeperConnector: Send + Sync {
    /// The name users see ("WhatsApp").
    fn network_name(&self) -> &str;

    /// Registers `matrix_user_id` with the gatekeeper, creating its encryption identity.
    /// Enlisting an already enlisted user replaces its keys and keeps its remote id.
    async fn enlist(&self, matrix_user_id: &str) -> Result<Enlistment, GatekeeperError>;

    /// Removes the user from the gatekeeper and deletes its keys here.
    async fn unenlist(&self, matrix_user_id: &str) -> Result<(), GatekeeperError>;

    /// Starts the connection of an enlisted user and returns at once; the channel opens in
    /// the background. The connector reconnects by itself (capped exponential backoff with
    /// jitter) and reports each change as [`RemoteEvent::Connection`].
    ///
    /// Events go to `handler`, one at a time, in the order they happened. The connector tells
    /// the gatekeeper an event was received only after `handler` returned `Ok`, and saves its
    /// encryption state only then too; if `handler` fails, the connector reconnects and the
    /// gatekeeper delivers the event again. So an event is never lost to a crash, and the
    /// handler must accept seeing an event twice (it de-duplicates by sender and id).
    /// The connection waits while the handler runs, so the handler must not wait for calls on
    /// the same login (store the event and return; act on it elsewhere).
    async fn connect(
        &self,
        matrix_user_id: &str,
        handler: Arc<dyn RemoteEventHandler>,
    ) -> Result<Arc<dyn GatekeeperLogin>, GatekeeperError>;

    /// Wakes the connection of `matrix_user_id` at once if it is waiting to reconnect
    /// (the gatekeeper pushed: messages wait for it). Returns false for an unknown user.
    async fn wake(&self, matrix_user_id: &str) -> bool;

    /// Whether `url` is on the gatekeeper's media host: the only place the bridge downloads a
    /// contact's media or avatar from. A message or profile could name any URL, including
    /// services inside the bridge's own network; those are never fetched. None by default.
    fn is_media_url(&self, url: &url::Url) -> bool {
        let _ = url;
        false
    }
}

/// Where a login's events go: the bridge. Returning `Ok` means the event is stored durably.
#[async_trait]
pub trait RemoteEventHandler: Send + Sync {
    async fn handle(&self, matrix_user_id: &str, event: RemoteEvent) -> Result<(), HandlerError>;

    /// Several events of one login, in order, as [`Self::handle`] would take them one by one.
    /// `Ok` means every one is stored; after an error, any of them may have to come again. A
    /// handler that can store them together (one write) should.
    async fn handle_all(
        &self,
        matrix_user_id: &str,
        events: Vec<RemoteEvent>,
    ) -> Result<(), HandlerError> {
        for event in events {
            self.handle(matrix_user_id, event).await?;
        }
        Ok(())
    }
}

/// The bridge could not store an event now; the connector will have it delivered again.
#[derive(Debug, thiserror::Error)]
#[error("the bridge could not take the event: {0}")]
pub struct HandlerError(pub String);

/// One logged-in user's connection to the gatekeeper.
#[async_trait]
pub trait GatekeeperLogin: Send + Sync {
    /// The user's own remote id.
    fn remote_id(&self) -> &str;

    /// The capability set the gatekeeper offers now; content that needs a missing capability
    /// must be degraded by the caller, not sent.
    fn capabilities(&self) -> interop_proto::CapabilitySet;

    /// Finds the contact with this E.164 phone number, checking that it can be messaged
    /// (opted in, not blocking). Errors name the reason.
    async fn resolve_phone(&self, phone: &str) -> Result<Contact, GatekeeperError>;

    /// The contact's current profile.
    async fn profile(&self, remote_id: &str) -> Result<Contact, GatekeeperError>;

    /// Encrypts and sends a message; returns once the gatekeeper accepted it, with its
    /// timestamp. Sending the same `id` again must not deliver it twice.
    async fn send(&self, message: &OutgoingMessage) -> Result<u64, GatekeeperError>;

    /// Tells `to` that the user read these messages.
    async fn send_read_receipt(
        &self,
        to: &str,
        ids: &[RemoteMessageId],
    ) -> Result<(), GatekeeperError>;

    /// Starts or stops the user's typing indicator towards `to`.
    async fn send_typing(&self, to: &str, typing: bool) -> Result<(), GatekeeperError>;

    /// Uploads an encrypted blob for a message and returns where recipients fetch it.
    async fn host_media(&self, ciphertext: Vec<u8>) -> Result<String, GatekeeperError>;

    /// Downloads a contact's encrypted blob (checked against size and hash by the caller).
    async fn fetch_media(
        &self,
        media: &interop_proto::content::MediaRef,
    ) -> Result<Vec<u8>, GatekeeperError>;

    /// Closes the connection cleanly.
    async fn disconnect(&self);
}
