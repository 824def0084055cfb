//! The connector for the interop protocol (`docs/interop-protocol.md`): the bridge's side of a
//! DMA gatekeeper such as the reference gatekeeper.
//!
//! # Layout
//!
//! - this file: [`InteropConnector`], the [`GatekeeperConnector`]: enlisting users, starting
//!   and stopping their channels, waking them on push, checking the gatekeeper's tokens.
//! - `enlist`: the HTTPS enlistment and un-enlistment calls (§3.1).
//! - `keys`: a login's Noise key and Olm state, sealed in the store.
//! - `login`: [`InteropLogin`], the [`GatekeeperLogin`] handle the bridge holds; every call is
//!   a command to the login's channel task.
//! - `channel_task`: the task that owns one login's channel: connect, and reconnect after a
//!   wait (`backoff`). `connection` is the loop serving one open channel; `incoming` and
//!   `outgoing` are its two halves, `pending` the requests waiting for answers, `sent` what a
//!   retry receipt may ask for.
//! - `info` (`/v1/info`: channel URL, server key) and `jwks` (the gatekeeper's token keys).
//! - `media`: partner-hosted blobs and native media downloads; `errors`: refusal mapping.
//!
//! # Guarantees
//!
//! - One task per login owns its channel and encryption state; events reach the
//!   [`RemoteEventHandler`] in order (those of stored stanzas in batches, just before the
//!   save that records the stanzas handled).
//! - A stored stanza (message, receipt, notification) is confirmed to the gatekeeper only after
//!   the handler returned `Ok` and the encryption state was saved with a handled-record; a
//!   failure drops the connection unconfirmed, and the next one starts from the saved state.
//! - The encryption state is saved after every encryption, before the ciphertext leaves.

mod backoff;
mod channel_task;
mod connection;
mod enlist;
mod errors;
mod incoming;
mod info;
mod jwks;
mod keys;
mod login;
mod media;
mod outgoing;
mod pending;
mod sent;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use interop_proto::auth::{Claims, Expected, JwtSigner, Scope};
use tokio::sync::{Notify, mpsc, oneshot};
use url::Url;

pub use jwks::TokenError;
pub use login::InteropLogin;

use self::{channel_task::Actor, info::InfoCache, jwks::GatekeeperJwks, login::Command};
use super::{
    Enlistment, GatekeeperConnector, GatekeeperError, GatekeeperLogin, RemoteEventHandler,
    partner_identity::StorageKey,
};
use crate::{
    config::GatekeeperConfig,
    store::{Store, StoredMedia},
};

/// Timings; the defaults follow the protocol document. Tests shorten or lengthen them.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// First reconnect wait cap; doubles per failure up to `backoff_max` (full jitter).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// No reconnect wait is shorter than this.
    pub backoff_min: Duration,
    /// How long a request (key fetch, ack, query) may wait for the gatekeeper's answer.
    pub request_timeout: Duration,
    /// Lifetime of the tokens we sign for the gatekeeper.
    pub token_ttl_secs: u64,
    /// How many channels may be opening (fetching info, handshaking) at once, over all logins.
    /// When the gatekeeper comes back, or the bridge starts, every login wants to connect at
    /// the same moment; jittered backoff spreads them, and this bound keeps the gatekeeper
    /// (and our CPU, the Noise handshakes) from a storm however many logins there are.
    pub max_concurrent_connects: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            backoff_min: Duration::from_millis(100),
            request_timeout: Duration::from_secs(20),
            token_ttl_secs: 300,
            max_concurrent_connects: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorSetupError {
    #[error("gatekeeper.address {0:?} is not an http(s) URL")]
    BadAddress(String),
}

/// What every part of the connector shares.
pub(crate) struct Context {
    pub network_name: String,
    pub address: Url,
    pub gatekeeper_id: String,
    pub partner_id: String,
    pub signer: Arc<JwtSigner>,
    pub storage: StorageKey,
    pub store: Store,
    pub http: reqwest::Client,
    pub tuning: Tuning,
    pub info: InfoCache,
    pub jwks: GatekeeperJwks,
    /// Where native media and avatars may be downloaded from.
    pub media_hosts: media::MediaHosts,
    /// The running channel task of each connected user.
    pub actors: Mutex<HashMap<String, ActorEntry>>,
    /// Permits to open a channel (`Tuning::max_concurrent_connects`).
    pub connect_slots: tokio::sync::Semaphore,
}

/// How to reach a running channel task.
#[derive(Clone)]
pub(crate) struct ActorEntry {
    pub generation: u64,
    pub commands: mpsc::Sender<Command>,
    pub wake: Arc<Notify>,
}

impl Context {
    fn actors(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActorEntry>> {
        self.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Removes `user`'s registry entry if it still belongs to the task `generation`.
    pub(crate) fn deregister(&self, user: &str, generation: u64) {
        let mut actors = self.actors();
        if actors.get(user).is_some_and(|a| a.generation == generation) {
            actors.remove(user);
        }
    }

    /// A token we sign for the gatekeeper about `user`.
    pub(crate) fn token(
        &self,
        user: &str,
        scope: Scope,
        authkey: Option<&[u8; 32]>,
    ) -> Result<String, GatekeeperError> {
        let mut claims = Claims::new(
            &self.partner_id,
            user,
            &self.gatekeeper_id,
            scope,
            self.tuning.token_ttl_secs,
        );
        if let Some(key) = authkey {
            claims = claims.with_authkey(key);
        }
        self.signer
            .sign(&claims)
            .map_err(|e| GatekeeperError::Other(format!("cannot sign a token: {e}")))
    }
}

/// The interop protocol connector: one per bridge.
pub struct InteropConnector {
    ctx: Arc<Context>,
    next_generation: AtomicU64,
    /// Serialises starting, stopping and re-keying logins, so two channel tasks never run for
    /// the same user (both would save their own encryption state).
    lifecycle: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for InteropConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteropConnector")
            .field("address", &self.ctx.address.as_str())
            .field("gatekeeper_id", &self.ctx.gatekeeper_id)
            .field("partner_id", &self.ctx.partner_id)
            .finish_non_exhaustive()
    }
}

impl InteropConnector {
    /// A connector for the gatekeeper at `config.address`, signing as `config.partner_id` with
    /// `signer` (the partner identity) and sealing login keys under `storage_key`.
    pub fn new(
        config: &GatekeeperConfig,
        signer: Arc<JwtSigner>,
        storage_key: StorageKey,
        store: Store,
        http: reqwest::Client,
    ) -> Result<Self, ConnectorSetupError> {
        let address = Url::parse(&config.address)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ConnectorSetupError::BadAddress(config.address.clone()))?;
        let ctx = Context {
            network_name: config.network_name.clone(),
            jwks: GatekeeperJwks::new(&address),
            media_hosts: media::MediaHosts::new(&address),
            address,
            gatekeeper_id: config.gatekeeper_id.clone(),
            partner_id: config.partner_id.clone(),
            signer,
            storage: storage_key,
            store,
            http,
            tuning: Tuning::default(),
            info: InfoCache::default(),
            actors: Mutex::new(HashMap::new()),
            connect_slots: tokio::sync::Semaphore::new(Tuning::default().max_concurrent_connects),
        };
        Ok(Self {
            ctx: Arc::new(ctx),
            next_generation: AtomicU64::new(1),
            lifecycle: tokio::sync::Mutex::new(()),
        })
    }

    /// Replaces the timings (before the first `connect`).
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        if let Some(ctx) = Arc::get_mut(&mut self.ctx) {
            ctx.connect_slots = tokio::sync::Semaphore::new(tuning.max_concurrent_connects.max(1));
            ctx.tuning = tuning;
        }
        self
    }

    /// Checks a token the gatekeeper sent us (push, media): signed by a key in its JWKS, issued
    /// by the gatekeeper for us, with `scope`. The caller checks `sub`.
    pub async fn verify_gatekeeper_token(
        &self,
        token: &str,
        scope: Scope,
    ) -> Result<Claims, TokenError> {
        let expected = Expected {
            issuer: &self.ctx.gatekeeper_id,
            audience: &self.ctx.partner_id,
            scope,
            authkey: None,
        };
        self.ctx.jwks.verify(&self.ctx.http, token, &expected).await
    }

    /// A blob one of our users sent, as stored by [`GatekeeperLogin::host_media`].
    pub async fn hosted_media(
        &self,
        reference: &str,
    ) -> Result<Option<StoredMedia>, crate::store::StoreError> {
        if !media::valid_reference(reference) {
            return Ok(None);
        }
        self.ctx.store.partner_media(reference).await
    }

    /// Stops every channel cleanly (shutdown).
    pub async fn shutdown(&self) {
        let _guard = self.lifecycle.lock().await;
        let users: Vec<String> = self.ctx.actors().keys().cloned().collect();
        for user in users {
            self.stop(&user).await;
        }
    }

    /// Stops `user`'s channel task, if one runs, and waits (bounded) until it is gone.
    async fn stop(&self, user: &str) {
        let Some(entry) = self.ctx.actors().remove(user) else { return };
        let (done, stopped) = oneshot::channel();
        if entry.commands.send(Command::Disconnect { done }).await.is_ok()
            && tokio::time::timeout(Duration::from_secs(15), stopped).await.is_err()
        {
            tracing::warn!(%user, "the channel task did not stop in time");
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> GatekeeperError {
    GatekeeperError::Other(format!("database error: {e}"))
}

#[async_trait]
impl GatekeeperConnector for InteropConnector {
    fn network_name(&self) -> &str {
        &self.ctx.network_name
    }

    async fn enlist(&self, matrix_user_id: &str) -> Result<Enlistment, GatekeeperError> {
        let _guard = self.lifecycle.lock().await;
        let remote_id = enlist::enlist(&self.ctx, matrix_user_id).await?;
        // A running channel notices the new keys by itself (its next save is refused, and the
        // gatekeeper closes the old channel): it reconnects with them.
        if let Some(entry) = self.ctx.actors().get(matrix_user_id) {
            entry.wake.notify_one();
        }
        Ok(Enlistment { remote_id })
    }

    async fn unenlist(&self, matrix_user_id: &str) -> Result<(), GatekeeperError> {
        let _guard = self.lifecycle.lock().await;
        self.stop(matrix_user_id).await;
        enlist::unenlist(&self.ctx, matrix_user_id).await?;
        self.ctx.store.delete_login(matrix_user_id).await.map_err(store_error)?;
        tracing::info!(user = %matrix_user_id, "un-enlisted; keys deleted");
        Ok(())
    }

    async fn connect(
        &self,
        matrix_user_id: &str,
        handler: Arc<dyn RemoteEventHandler>,
    ) -> Result<Arc<dyn GatekeeperLogin>, GatekeeperError> {
        let _guard = self.lifecycle.lock().await;
        let login = self.ctx.store.login(matrix_user_id).await.map_err(store_error)?;
        let Some(login) = login else {
            return Err(GatekeeperError::LoggedOut(format!(
                "{matrix_user_id} is not logged in to {}",
                self.ctx.network_name
            )));
        };
        self.stop(matrix_user_id).await;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (commands, receiver) = mpsc::channel(64);
        let wake = Arc::new(Notify::new());
        let state = Arc::new(login::LoginState::default());
        self.ctx.actors().insert(
            matrix_user_id.to_owned(),
            ActorEntry { generation, commands: commands.clone(), wake: wake.clone() },
        );
        let actor = Actor::new(
            self.ctx.clone(),
            matrix_user_id.to_owned(),
            handler,
            state.clone(),
            wake,
            generation,
        );
        tokio::spawn(actor.run(receiver));
        Ok(Arc::new(InteropLogin::new(
            self.ctx.clone(),
            matrix_user_id.to_owned(),
            login.remote_id,
            commands,
            state,
        )))
    }

    fn is_media_url(&self, url: &Url) -> bool {
        self.ctx.media_hosts.allows(url)
    }

    async fn wake(&self, matrix_user_id: &str) -> bool {
        if let Some(entry) = self.ctx.actors().get(matrix_user_id) {
            entry.wake.notify_one();
            return true;
        }
        match self.ctx.store.login(matrix_user_id).await {
            Ok(Some(_)) => {
                tracing::info!(
                    user = %matrix_user_id,
                    "pushed, but the login is not connected: messages wait until it connects"
                );
                true
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "cannot look up a pushed user");
                true
            }
        }
    }
}
