//! Where each login's gatekeeper events arrive.
//!
//! Portal work (messages, receipts, security-code changes) is stored in the portal's queue and
//! only then reported as taken, so the connector confirms receipt to the gatekeeper only for
//! what is safely stored. Typing is shown at once (it is worthless later); connection changes
//! update the login's state and tell the user when the login ended.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use ruma::{
    UserId,
    api::client::typing::create_typing_event::{self, v3::Typing},
    events::room::message::RoomMessageEventContent,
};

use super::{Bridge, portal, queue, work::PortalWork};
use crate::gatekeeper::{ConnectionState, HandlerError, RemoteEvent, RemoteEventHandler};
use crate::store::{Direction, NewPortalWork};

/// How long a typing notice lasts if no "stopped" follows.
const TYPING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Typing notices being shown at once, at most, over all logins; more are dropped. A flood of
/// typing stanzas must not become a flood of tasks, and a typing notice is worthless later.
static TYPING_IN_FLIGHT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);

pub struct BridgeEvents {
    pub bridge: Weak<Bridge>,
}

impl BridgeEvents {
    fn bridge(&self) -> Result<Arc<Bridge>, HandlerError> {
        self.bridge.upgrade().ok_or_else(|| HandlerError("the bridge is shutting down".into()))
    }
}

#[async_trait]
impl RemoteEventHandler for BridgeEvents {
    async fn handle(&self, owner: &str, event: RemoteEvent) -> Result<(), HandlerError> {
        self.handle_all(owner, vec![event]).await
    }

    async fn handle_all(&self, owner: &str, events: Vec<RemoteEvent>) -> Result<(), HandlerError> {
        let bridge = self.bridge()?;
        let mut work = Vec::with_capacity(events.len());
        let mut live = Vec::new();
        for event in events {
            match PortalWork::from_remote(owner, &event) {
                Some((remote_chat, dedupe_key, item)) => {
                    let payload =
                        serde_json::to_string(&item).map_err(|e| HandlerError(e.to_string()))?;
                    let owner = owner.to_owned();
                    let direction = Direction::ToMatrix;
                    work.push(NewPortalWork { owner, remote_chat, direction, dedupe_key, payload });
                }
                None => live.push(event),
            }
        }
        // The portal work in one write; the rest is not stored, only shown.
        queue::store_and_wake(&bridge, &work, &[])
            .await
            .map_err(|e| HandlerError(e.to_string()))?;
        for event in live {
            show(bridge.clone(), owner, event).await;
        }
        Ok(())
    }
}

/// Shows an event that is not stored: typing, connection changes, capabilities.
async fn show(bridge: Arc<Bridge>, owner: &str, event: RemoteEvent) {
    match event {
        RemoteEvent::Typing { from, typing } => match TYPING_IN_FLIGHT.try_acquire() {
            Ok(permit) => {
                let owner = owner.to_owned();
                tokio::spawn(async move {
                    show_typing(bridge, owner, from, typing).await;
                    drop(permit);
                });
            }
            Err(_) => tracing::debug!("too many typing notices in flight; one dropped"),
        },
        RemoteEvent::Connection(state) => on_connection(&bridge, owner, state).await,
        RemoteEvent::CapabilitiesChanged(caps) => {
            tracing::info!(%owner, capabilities = ?caps, "the gatekeeper's capabilities changed");
        }
        _ => {}
    }
}

async fn show_typing(bridge: Arc<Bridge>, owner: String, from: String, typing: bool) {
    let Ok(owner) = UserId::parse(owner) else { return };
    let Ok(Some(portal)) = portal::find(&bridge, &owner, &from).await else { return };
    let state = if typing {
        Typing::Yes(create_typing_event::v3::TypingInfo::new(TYPING_TIMEOUT))
    } else {
        Typing::No
    };
    let request =
        create_typing_event::v3::Request::new(portal.ghost.clone(), portal.room_id.clone(), state);
    if let Err(error) = bridge.bot.as_user(&portal.ghost).send(request).await {
        tracing::debug!(%error, "could not show typing");
    }
}

async fn on_connection(bridge: &Bridge, owner: &str, state: ConnectionState) {
    tracing::info!(%owner, ?state, "gatekeeper connection");
    bridge.logins.set_state(owner, state.clone());
    if let ConnectionState::LoggedOut { reason } = state {
        bridge.logins.remove(owner);
        let Ok(user) = UserId::parse(owner) else { return };
        let Ok(Some(room)) = bridge.store.management_room(user.as_str()).await else { return };
        let Ok(room) = ruma::RoomId::parse(room) else { return };
        let network = &bridge.config.gatekeeper.network_name;
        let text =
            format!("You were logged out of {network}: {reason}. Send \"login\" to log in again.");
        let key = format!("logged-out|{owner}|{}", crate::store::now_ms());
        if let Err(error) =
            bridge.send_bot_notice(&room, RoomMessageEventContent::notice_plain(text), &key).await
        {
            tracing::warn!(%error, "could not tell the user they were logged out");
        }
    }
}
