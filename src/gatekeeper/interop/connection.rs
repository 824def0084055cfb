//! [`Conn`]: one open channel of a login, and the loop that serves it.
//!
//! The loop multiplexes three things: stanzas from the gatekeeper ([`incoming`](super::incoming)),
//! commands from the login handle ([`outgoing`](super::outgoing)), and a one-second tick that
//! expires requests the gatekeeper never answered. It handles one thing at a time, so the
//! encryption state has one owner and events reach the handler in order. It ends on a
//! disconnect, a logout, a broken channel, or when an event could not be stored: then the
//! connection is dropped so the gatekeeper delivers the event again on the next one.
//!
//! Saving the encryption state is a costly step of every message (a transaction, and the
//! sealed sessions of every contact whose messages were handled), so it is batched: what was
//! handled or encrypted since the last save waits in [`Unsaved`] — the events for the handler,
//! the handled-stanza records and the stanzas that may leave only after the save (receipts,
//! ciphertexts) — while more work is already waiting, up to [`MAX_UNSAVED`] items. Then the
//! handler takes the events (stored in one write), one save covers the rest, and the waiting
//! stanzas go out together. Nothing is confirmed to the gatekeeper, and no ciphertext leaves,
//! before the events and the state it depends on are stored.

use interop_proto::CapabilitySet;
use interop_proto::stanza::{CloseCode, Iq, IqQuery, KeyCount, Stanza};
use interop_proto::transport::{Channel, ServerHello, TransportError};
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant, MissedTickBehavior, interval};

use super::channel_task::{Actor, Outcome, lost};
use super::keys::{self, LoginKeys};
use super::login::Command;
use super::pending::{IqWaiter, Pending};
use crate::gatekeeper::{ConnectionState, GatekeeperError, RemoteEvent};

/// Handled-stanza records older than this are dropped: the mailbox keeps nothing for longer.
const SEEN_KEPT_MS: i64 = 31 * 24 * 3600 * 1000;
/// The most items handled between two saves of the encryption state.
pub(super) const MAX_UNSAVED: usize = 64;

/// What waits for the next save of the encryption state.
#[derive(Default)]
pub(super) struct Unsaved {
    /// The state changed (a decryption or an encryption) since it was saved.
    dirty: bool,
    /// Stanzas handled since, as `(sender, id)`: recorded with the save.
    seen: Vec<(String, String)>,
    /// Stanzas to send once the save is done, in order.
    then_send: Vec<Stanza>,
    /// Events of stored stanzas for the handler, in order: handed over together just before
    /// the save, so that the bridge stores them in one write.
    deliveries: Vec<RemoteEvent>,
}

impl Unsaved {
    fn len(&self) -> usize {
        self.seen.len() + self.then_send.len() + self.deliveries.len()
    }

    fn is_empty(&self) -> bool {
        !self.dirty && self.len() == 0
    }

    /// Whether the stanza `(sender, id)` was handled since the last save.
    pub(super) fn has_seen(&self, sender: &str, id: &str) -> bool {
        self.seen.iter().any(|(s, i)| s == sender && i == id)
    }
}

pub(super) struct Conn<'a> {
    pub actor: &'a mut Actor,
    pub channel: Channel,
    pub keys: LoginKeys,
    pub pending: Pending,
    pub unsaved: Unsaved,
}

impl<'a> Conn<'a> {
    pub fn new(actor: &'a mut Actor, channel: Channel, keys: LoginKeys) -> Self {
        let pending = Pending::new(actor.ctx.tuning.request_timeout);
        Self { actor, channel, keys, pending, unsaved: Unsaved::default() }
    }

    /// Serves the connection until it ends; says how.
    pub async fn run(
        mut self,
        hello: ServerHello,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Outcome {
        let outcome = match self.opened(hello).await {
            Ok(()) => self.serve(commands).await,
            Err(outcome) => outcome,
        };
        self.actor.state.set_connected(false);
        self.pending.fail_all(&|| {
            GatekeeperError::Disconnected("the channel to the gatekeeper closed".into())
        });
        // A no-op when the channel is already gone.
        self.channel.close(CloseCode::Normal, "reconnecting").await;
        outcome
    }

    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> Outcome {
        let mut tick = interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // While work waits for a save: take what is already there (so that one save
            // covers it), or save now when nothing is, or enough waits.
            let step = if self.unsaved.is_empty() {
                tokio::select! {
                    received = self.channel.recv() => self.on_received(received).await,
                    command = commands.recv() => match command {
                        Some(command) => self.on_command(command).await,
                        None => Err(Outcome::Stopped(None)),
                    },
                    _ = tick.tick() => {
                        self.pending.expire(Instant::now());
                        Ok(())
                    }
                }
            } else if self.unsaved.len() >= MAX_UNSAVED {
                self.save(None).await
            } else if let Some(received) = self.channel.try_recv() {
                self.on_received(received).await
            } else if let Ok(command) = commands.try_recv() {
                self.on_command(command).await
            } else {
                self.save(None).await
            };
            if let Err(outcome) = step {
                return outcome;
            }
        }
    }

    async fn on_received(
        &mut self,
        received: Result<Stanza, TransportError>,
    ) -> Result<(), Outcome> {
        match received {
            Ok(stanza) => self.on_stanza(stanza).await,
            Err(e) => Err(ended(e)),
        }
    }

    /// The channel is up: say so, note the capabilities, check our one-time key supply.
    async fn opened(&mut self, hello: ServerHello) -> Result<(), Outcome> {
        if hello.user != self.keys.remote_id {
            tracing::warn!(user = %self.actor.user, remote_id = %hello.user, "the gatekeeper logged us in under another id");
        }
        // Capabilities first: whoever hears `Connected` may ask for them at once.
        let capabilities = CapabilitySet::from_wire(&hello.capabilities);
        let changed = self.actor.state.set_capabilities(capabilities.clone());
        self.actor.state.set_connected(true);
        tracing::info!(user = %self.actor.user, remote_id = %hello.user, "connected to the gatekeeper");
        self.actor.report(ConnectionState::Connected).await;
        if changed {
            self.actor.tell(RemoteEvent::CapabilitiesChanged(capabilities)).await;
        }
        let id = self.pending.add_iq(IqWaiter::KeyCount);
        let ask = Iq { id, query: Some(IqQuery::KeyCount(KeyCount {})) };
        self.send(Stanza::Iq(ask)).await?;
        let ctx = &self.actor.ctx;
        if let Err(error) = ctx.store.prune_remote_seen(crate::store::now_ms() - SEEN_KEPT_MS).await
        {
            tracing::warn!(%error, "cannot prune old handled-stanza records");
        }
        Ok(())
    }

    /// Records the gatekeeper's capability set; tells the handler when it changed.
    pub async fn capabilities(&mut self, set: CapabilitySet) {
        if self.actor.state.set_capabilities(set.clone()) {
            self.actor.tell(RemoteEvent::CapabilitiesChanged(set)).await;
        }
    }

    /// Sends a stanza; a failure ends the connection.
    pub async fn send(&self, stanza: Stanza) -> Result<(), Outcome> {
        self.send_all(std::slice::from_ref(&stanza)).await
    }

    /// Sends stanzas in order, written together; a failure ends the connection.
    pub async fn send_all(&self, stanzas: &[Stanza]) -> Result<(), Outcome> {
        self.channel.send_all(stanzas).await.map_err(|e| lost(format!("cannot send: {e}")))
    }

    /// Hands an event from a stored stanza to the handler, with the next [`Self::save`]. If
    /// the bridge cannot take it, the connection ends unconfirmed, and the gatekeeper delivers
    /// the stanza again.
    pub fn deliver(&mut self, event: RemoteEvent) {
        self.unsaved.deliveries.push(event);
    }

    /// Notes that the encryption state changed and that `seen` (a stanza's `(sender, id)`) was
    /// handled; both are saved with the next [`Self::save`].
    pub fn unsaved(&mut self, seen: Option<(String, String)>) {
        self.unsaved.dirty = true;
        self.unsaved.seen.extend(seen);
    }

    /// Sends `stanza` once everything handled before it is saved.
    pub fn send_after_save(&mut self, stanza: Stanza) {
        self.unsaved.then_send.push(stanza);
    }

    /// Saves the encryption state with every stanza handled since the last save (and `seen`),
    /// then sends what waited for it. If the save fails the connection ends: the next one
    /// starts from what is stored, and the gatekeeper delivers the unconfirmed stanzas again.
    pub async fn save(&mut self, seen: Option<(&str, &str)>) -> Result<(), Outcome> {
        let mut unsaved = std::mem::take(&mut self.unsaved);
        unsaved.seen.extend(seen.map(|(sender, id)| (sender.to_owned(), id.to_owned())));
        let ctx = &self.actor.ctx;
        let user = &self.actor.user;
        if !unsaved.deliveries.is_empty() {
            self.actor.handler.handle_all(user, unsaved.deliveries).await.map_err(|e| {
                lost(format!("{e}; reconnecting so that the gatekeeper delivers it again"))
            })?;
            // The handler woke the portals' workers: let them read their work and send it on
            // before this save takes the store, so a message does not wait for it on its way
            // to Matrix. The gatekeeper's confirmation can wait that long.
            tokio::task::yield_now().await;
        }
        match keys::save(&ctx.store, &ctx.storage, user, &mut self.keys, &unsaved.seen).await {
            Ok(true) => self.send_all(&unsaved.then_send).await,
            Ok(false) => {
                Err(lost("the login's keys were replaced; reconnecting with the new ones"))
            }
            Err(e) => Err(lost(format!("cannot save the encryption state: {e}"))),
        }
    }
}

/// What a channel error means for the login.
fn ended(error: TransportError) -> Outcome {
    match error {
        TransportError::Closed { code: CloseCode::Unenlisted, reason } => {
            Outcome::LoggedOut(format!("the gatekeeper un-enlisted this login ({reason})"))
        }
        TransportError::Closed { code: CloseCode::Replaced, .. } => Outcome::LoggedOut(
            "another connection for this login took over (is a second bridge running on the \
             same database?)"
                .into(),
        ),
        TransportError::Closed { code, reason } => {
            lost(format!("the gatekeeper closed the channel ({code:?}: {reason})"))
        }
        other => lost(format!("the channel broke: {other}")),
    }
}
