//! Typing and read receipts from Matrix, passed straight to the gatekeeper.
//!
//! They are not stored in a portal's queue: a typing notice or receipt that cannot go now is
//! worth little later, and the next one supersedes it. They go through a [`Lane`] of their own,
//! in order, so that messages never wait for them; under load they trail the messages, and a
//! crash loses those still in the lane. Only the portal owner's own typing and receipts are
//! bridged, only when they change, and only as far as the gatekeeper's capabilities allow.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::mpsc;

use interop_proto::Capability;
use ruma::{
    OwnedRoomId, api::appservice::event::push_events::v1::EphemeralData,
    events::receipt::ReceiptType, serde::Raw,
};

use super::{Bridge, portal};

/// How many transactions' typing and receipts may wait for the lane before the transaction
/// worker waits too.
const LANE_DEPTH: usize = 64;

/// The lane typing and receipts take: the transaction worker hands each transaction's over in
/// arrival order and goes on, and a task of their own sends them: all that waits in the lane
/// at once, each room's in order (see [`by_room`]). Waiting for the gatekeeper's answers (a
/// transaction can carry a receipt for every portal) then holds up neither the next
/// transaction nor its messages, nor the next transactions' typing and receipts.
pub struct Lane {
    queue: mpsc::Sender<Vec<Raw<EphemeralData>>>,
}

impl Lane {
    /// Starts the lane's task; it ends once the lane is dropped and what it holds is sent.
    pub fn start(bridge: Arc<Bridge>) -> Lane {
        let (queue, mut next) = mpsc::channel::<Vec<Raw<EphemeralData>>>(LANE_DEPTH);
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(LANE_DEPTH);
            while next.recv_many(&mut waiting, LANE_DEPTH).await > 0 {
                let by_room = by_room(waiting.drain(..).flatten());
                let rooms = by_room.into_values().map(|events| async {
                    for event in events {
                        handle(&bridge, event).await;
                    }
                });
                futures_util::future::join_all(rooms).await;
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

/// The typing and receipts of the transactions waiting in the lane, by room, each room's in
/// arrival order. Rooms go at once, so that one room's answers hold up no other; within a
/// room they go one after another, so that a typing stop never overtakes its start.
fn by_room(
    events: impl Iterator<Item = Raw<EphemeralData>>,
) -> HashMap<OwnedRoomId, Vec<EphemeralData>> {
    let mut by_room: HashMap<OwnedRoomId, Vec<EphemeralData>> = HashMap::new();
    for raw in events {
        let Ok(data) = raw.deserialize() else { continue };
        let room = match &data {
            EphemeralData::Typing(typing) => typing.room_id.clone(),
            EphemeralData::Receipt(receipt) => receipt.room_id.clone(),
            _ => continue,
        };
        by_room.entry(room).or_default().push(data);
    }
    by_room
}

/// Handles one typing notice or receipt.
async fn handle(bridge: &Arc<Bridge>, data: EphemeralData) {
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
    let message = match bridge.message_by_event(portal.room_id.as_str(), event_id).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Raw<EphemeralData> {
        serde_json::from_str(json).unwrap()
    }

    fn typing(room: &str, users: &str) -> Raw<EphemeralData> {
        raw(&format!(
            r#"{{"type":"m.typing","room_id":"{room}","content":{{"user_ids":[{users}]}}}}"#
        ))
    }

    #[test]
    fn the_lane_groups_by_room_and_keeps_each_rooms_order() {
        let receipt = raw(
            r#"{"type":"m.receipt","room_id":"!b:x","content":{"$e":{"m.read":{"@a:x":{"ts":1}}}}}"#,
        );
        let events = vec![
            typing("!a:x", r#""@a:x""#),
            receipt,
            raw(r#"{"type":"m.presence","content":{}}"#),
            typing("!a:x", ""),
        ];
        let grouped = by_room(events.into_iter());
        assert_eq!(grouped.len(), 2, "the presence event is no room's");
        let room_a: Vec<bool> = grouped[&OwnedRoomId::try_from("!a:x").unwrap()]
            .iter()
            .map(|data| match data {
                EphemeralData::Typing(t) => !t.content.user_ids.is_empty(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(room_a, [true, false], "the start stays before the stop");
        assert!(matches!(
            grouped[&OwnedRoomId::try_from("!b:x").unwrap()][..],
            [EphemeralData::Receipt(_)]
        ));
    }
}
