//! The task that owns one login's channel: it connects, hands the connection to the
//! per-connection loop ([`Conn`]), and when the connection ends, waits (capped exponential
//! backoff with full jitter, cut short by a push) and connects again, until the login is
//! disconnected or logged out.
//!
//! Every attempt reloads the login's keys from the store. That is what makes "save only after
//! the handler said Ok" safe: whatever the last connection decrypted but did not get stored is
//! forgotten with it, and the gatekeeper delivers it again to a state that can decrypt it.

use std::{future::Future, sync::Arc, time::Duration};

use interop_proto::PROTOCOL_VERSION;
use interop_proto::auth::Scope;
use interop_proto::transport::{
    self, Channel, ClientAuth, ClientConfig, ClientHello, PartnerAuth, ServerHello, TransportError,
};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{
    Context, backoff::Backoff, connection::Conn, keys, keys::LoginKeys, login::Command,
    login::LoginState, sent::SentCache,
};
use crate::gatekeeper::{ConnectionState, GatekeeperError, RemoteEvent, RemoteEventHandler};

/// How a connection (or an attempt at one) ended.
pub(super) enum Outcome {
    /// Disconnected on request; confirm on `done`.
    Stopped(Option<oneshot::Sender<()>>),
    /// Over for good: the login must be made again.
    LoggedOut(String),
    /// Try again after a wait (at least `retry_after`, when the gatekeeper asked for it).
    Lost { reason: String, retry_after: Option<Duration> },
}

pub(super) fn lost(reason: impl Into<String>) -> Outcome {
    Outcome::Lost { reason: reason.into(), retry_after: None }
}

pub(super) fn not_connected() -> GatekeeperError {
    GatekeeperError::Disconnected("the channel to the gatekeeper is not open right now".into())
}

pub(crate) struct Actor {
    pub(super) ctx: Arc<Context>,
    pub(super) user: String,
    pub(super) handler: Arc<dyn RemoteEventHandler>,
    pub(super) state: Arc<LoginState>,
    pub(super) backoff: Backoff,
    pub(super) sent: SentCache,
    wake: Arc<Notify>,
    generation: u64,
    /// Fetch `/v1/info` again before the next attempt (the last one failed).
    refresh_info: bool,
}

impl Actor {
    pub(crate) fn new(
        ctx: Arc<Context>,
        user: String,
        handler: Arc<dyn RemoteEventHandler>,
        state: Arc<LoginState>,
        wake: Arc<Notify>,
        generation: u64,
    ) -> Self {
        let tuning = &ctx.tuning;
        let backoff = Backoff::new(tuning.backoff_initial, tuning.backoff_max, tuning.backoff_min);
        Self {
            ctx,
            user,
            handler,
            state,
            backoff,
            sent: SentCache::default(),
            wake,
            generation,
            refresh_info: false,
        }
    }

    /// Runs until the login is disconnected or logged out.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.report(ConnectionState::Connecting).await;
        let (done, logged_out) = loop {
            match self.attempt(&mut commands).await {
                Outcome::Stopped(done) => break (done, None),
                Outcome::LoggedOut(reason) => break (None, Some(reason)),
                Outcome::Lost { reason, retry_after } => {
                    let mut delay = self.backoff.next_delay();
                    if let Some(at_least) = retry_after {
                        delay = delay.max(at_least);
                    }
                    let retry_in_ms = delay.as_millis() as u64;
                    tracing::info!(user = %self.user, %reason, retry_in_ms, "gatekeeper channel down; reconnecting");
                    self.report(ConnectionState::Reconnecting { retry_in_ms, reason }).await;
                    if let Err(Outcome::Stopped(done)) = self.wait(delay, &mut commands).await {
                        break (done, None);
                    }
                }
            }
        };
        self.state.set_connected(false);
        self.ctx.deregister(&self.user, self.generation);
        commands.close();
        while let Ok(command) = commands.try_recv() {
            command.refuse(not_connected());
        }
        if let Some(reason) = logged_out {
            tracing::warn!(user = %self.user, %reason, "logged out of the gatekeeper");
            self.report(ConnectionState::LoggedOut { reason }).await;
        } else {
            tracing::info!(user = %self.user, "disconnected from the gatekeeper");
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// One connection: open it and run it until it ends.
    async fn attempt(&mut self, commands: &mut mpsc::Receiver<Command>) -> Outcome {
        let keys = match keys::load(&self.ctx.store, &self.ctx.storage, &self.user).await {
            Ok(Some(keys)) => keys,
            Ok(None) => return Outcome::LoggedOut(format!("{} is no longer enlisted", self.user)),
            Err(e) if e.is_permanent() => return Outcome::LoggedOut(e.to_string()),
            Err(e) => return lost(e.to_string()),
        };
        let opened = match refuse_while(self.open(&keys), commands).await {
            Ok(opened) => opened,
            Err(stopped) => return stopped,
        };
        match opened {
            Ok((channel, hello)) => {
                self.refresh_info = false;
                Conn::new(self, channel, keys).run(hello, commands).await
            }
            Err(outcome) => {
                self.refresh_info = true;
                outcome
            }
        }
    }

    async fn open(&self, keys: &LoginKeys) -> Result<(Channel, ServerHello), Outcome> {
        let ctx = &self.ctx;
        // Held until the handshake is over; the semaphore is never closed.
        let _slot = ctx
            .connect_slots
            .acquire()
            .await
            .map_err(|_| lost("the connector is shutting down"))?;
        let info = ctx
            .info
            .get(&ctx.http, &ctx.address, self.refresh_info)
            .await
            .map_err(|e| lost(e.to_string()))?;
        let jwt = ctx
            .token(&self.user, Scope::Chat, Some(&keys.noise.public()))
            .map_err(|e| lost(e.to_string()))?;
        let hello = ClientHello {
            version: PROTOCOL_VERSION,
            client: concat!("interop-bridge/", env!("CARGO_PKG_VERSION")).into(),
            auth: Some(ClientAuth::Partner(PartnerAuth { jwt, login: keys.remote_id.clone() })),
        };
        let mut config = ClientConfig::new(keys.noise.clone(), hello);
        config.server_key = info.server_key;
        transport::connect(&info.chat_url, &config).await.map_err(|e| match e {
            TransportError::Rejected(refusal) if refusal.code == 410 => Outcome::LoggedOut(
                format!("the gatekeeper no longer knows this login ({})", refusal.text),
            ),
            TransportError::Rejected(refusal) => Outcome::Lost {
                reason: format!("the gatekeeper refused the connection ({refusal})"),
                retry_after: (refusal.retry_after_ms > 0)
                    .then(|| Duration::from_millis(refusal.retry_after_ms)),
            },
            TransportError::ServerKeyMismatch => {
                lost("the channel's key is not the one the gatekeeper publishes; not connecting")
            }
            other => lost(format!("cannot open the channel: {other}")),
        })
    }

    /// Waits `delay` (or until woken) while answering commands with `Disconnected`.
    async fn wait(
        &self,
        delay: Duration,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(), Outcome> {
        let wake = self.wake.clone();
        refuse_while(
            async move {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = wake.notified() => tracing::debug!("woken early"),
                }
            },
            commands,
        )
        .await
    }

    /// Tells the handler about a connection change; its errors do not matter here.
    pub(super) async fn report(&self, state: ConnectionState) {
        self.tell(RemoteEvent::Connection(state)).await;
    }

    /// Hands the handler an event that is not a stored stanza (nothing to redeliver).
    pub(super) async fn tell(&self, event: RemoteEvent) {
        if let Err(error) = self.handler.handle(&self.user, event).await {
            tracing::debug!(user = %self.user, %error, "the bridge did not take a live event");
        }
    }
}

/// Runs `work` while answering every command with `Disconnected`; a `Disconnect` ends the wait.
async fn refuse_while<T>(
    work: impl Future<Output = T>,
    commands: &mut mpsc::Receiver<Command>,
) -> Result<T, Outcome> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Ok(out),
            command = commands.recv() => match command {
                Some(Command::Disconnect { done }) => return Err(Outcome::Stopped(Some(done))),
                Some(other) => other.refuse(not_connected()),
                None => return Err(Outcome::Stopped(None)),
            },
        }
    }
}
