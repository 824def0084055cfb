//! Typing and read receipts from Matrix, passed straight to the gatekeeper.
//!
//! They are not stored in a portal's queue: a typing notice or receipt that cannot go now is
//! worth little later, and the next one supersedes it. They go through a [`Lane`] of their own,
//! in order, so that messages never wait for them; under load they trail the messages, and a
//! crash loses those still in the lane. Only the portal owner's own typing and receipts are
//! bridged, only when they change, and only as far as the gatekeeper's capabilities allow.

use std::sync::Arc;

use tokio::sync::mpsc;

use interop_proto::Capability;
use ruma::{
    api::appservice::event::push_events::v1::EphemeralData, events::receipt::ReceiptType,
    serde::Raw,
};

use super::{Bridge, portal};

/// How many transactions' typing and receipts may wait for the lane before the transaction
/// worker waits too.
const LANE_DEPTH: usize = 64;

/// The lane typing and receipts take: the transaction worker hands each transaction's over in
/// arrival order and goes on, and a task of their own sends them, a transaction's together.
/// Waiting for the gatekeeper's answers (a transaction can carry a receipt for every portal)
/// then holds up neither the next transaction nor its messages, and a typing stop never
/// overtakes the start before it.
pub struct Lane {
    queue: mpsc::Sender<Vec<Raw<EphemeralData>>>,
}

impl Lane {
    /// Starts the lane's task; it ends once the lane is dropped and what it holds is sent.
    pub fn start(bridge: Arc<Bridge>) -> Lane {
        let (queue, mut next) = mpsc::channel::<Vec<Raw<EphemeralData>>>(LANE_DEPTH);
        tokio::spawn(async move {
            while let Some(events) = next.recv().await {
                futures_util::future::join_all(events.iter().map(|raw| handle(&bridge, raw))).await;
            }
        });
        Lane { queue }
    }

    /// Hands over a transaction's typing and receipts.
    pub async fn push(&self, events: Vec<Raw<EphemeralData>>) {
        if !events.is_empty() && self.queue.send(events).await.is_err() {
            tracing::warn!("the typing and receipt lane has stopped; these are dropped");
        }
    }
}

/// Handles one ephemeral event of a transaction.
async fn handle(bridge: &Arc<Bridge>, raw: &Raw<EphemeralData>) {
    let Ok(data) = raw.deserialize() else { return };
    match data {
        EphemeralData::Typing(typing) => {
            let Ok(Some(portal)) = portal::by_room(bridge, &typing.room_id).await else { return };
            let now = typing.content.user_ids.contains(&portal.owner);
            let changed = {
                let mut states = bridge.typing.lock().unwrap_or_else(|e| e.into_inner());
                let before = states.insert(portal.room_id.to_string(), now).unwrap_or(false);
                before != now
            };
            if changed {
                send_typing(bridge, &portal, now).await;
            }
        }
        EphemeralData::Receipt(receipt) => {
            let Ok(Some(portal)) = portal::by_room(bridge, &receipt.room_id).await else { return };
            for (event_id, receipts) in receipt.content.iter() {
                let read = [ReceiptType::Read, ReceiptType::ReadPrivate].iter().any(|kind| {
                    receipts.get(kind).is_some_and(|users| users.contains_key(&portal.owner))
                });
                if read {
                    send_read(bridge, &portal, event_id.as_str()).await;
                }
            }
        }
        _ => {}
    }
}

async fn send_typing(bridge: &Bridge, portal: &portal::Portal, typing: bool) {
    let Some(login) = bridge.logins.connected(portal.owner.as_str()) else { return };
    if !login.capabilities().contains(&Capability::Typing) {
        return;
    }
    if let Err(error) = login.send_typing(&portal.remote_chat, typing).await {
        tracing::debug!(%error, "could not send typing");
    }
}

/// The owner read up to `event_id`: tell the contact, if it is one of the contact's messages.
async fn send_read(bridge: &Bridge, portal: &portal::Portal, event_id: &str) {
    let Some(login) = bridge.logins.connected(portal.owner.as_str()) else { return };
    if !login.capabilities().contains(&Capability::ReadReceipts) {
        return;
    }
    let message = match bridge.store.message_by_event(portal.room_id.as_str(), event_id).await {
        Ok(Some(message)) => message,
        _ => return,
    };
    if message.remote_sender == login.remote_id() {
        return;
    }
    let ids = [message.remote_id];
    if let Err(error) = login.send_read_receipt(&portal.remote_chat, &ids).await {
        tracing::debug!(%error, "could not send a read receipt");
    }
}
