//! Homeserver sends that happen once, whatever crashes in between.
//!
//! A deterministic `txnId` ([`txn_id_for`]) is not enough on its own. Synapse keys an
//! appservice's transaction ids by the appservice, not by a device, and keeps them only in
//! memory, for 30 to 60 minutes: after a homeserver restart, or a bridge that stayed down longer
//! than that, the same `txnId` makes a second event. So an event sent here also carries its
//! `txnId` in its content ([`TXN_KEY`]), and a send that may have happened before — its work
//! item is being applied again, after a crash or after a failure whose outcome is unknown —
//! first looks for that key among the sender's latest events in the room, and takes the event
//! it finds instead of sending again.
//!
//! Failures that leave the outcome unknown (the connection broke, the server erred) are not
//! retried on the spot, because that retry could not look first: the work item fails, waits in
//! its queue, and comes back as a replay, which does.

use ruma::{
    OwnedEventId, RoomId, UInt, UserId,
    api::client::{
        filter::RoomEventFilter, message::get_message_events, message::send_message_event,
    },
    events::{AnyMessageLikeEventContent, MessageLikeEventContent, MessageLikeEventType},
    serde::Raw,
};
use serde::Deserialize;

use super::{Bridge, BridgeError, txn_id_for};
use crate::matrix::{MatrixClient, Retry};

/// The content key holding the `txnId` an event was sent with.
pub const TXN_KEY: &str = "org.interop_bridge.txn_id";
/// How many of the sender's latest events of the type a replay searches. The event it looks
/// for is among the last few: a portal's queue sends one event at a time, in order, and only
/// the rest of the replayed item's batch (fewer than this, `queue::CLAIM`) could have come
/// since.
pub(super) const LOOKBACK: u32 = 50;

/// Sends `content` into `room` as `sender` (a ghost, or the bot), once for `dedupe_key`.
/// `replay` says the work item ran before, so the event may exist already.
pub async fn send<C: MessageLikeEventContent>(
    bridge: &Bridge,
    room: &RoomId,
    sender: &UserId,
    dedupe_key: &str,
    content: &C,
    replay: bool,
) -> Result<OwnedEventId, BridgeError> {
    if replay && let Some(event_id) = find_sent(bridge, room, sender, dedupe_key, content).await? {
        return Ok(event_id);
    }
    let txn_id = txn_id_for(dedupe_key);
    let event_type = content.event_type();
    let client = bridge.bot.as_user(sender);
    let raw = marked(content, txn_id.as_str())?;
    let request =
        send_message_event::v3::Request::new_raw(room.to_owned(), txn_id, event_type, raw);
    Ok(client.send_with(request, Retry::RateLimitsOnly).await?.event_id)
}

/// The event [`send`] made for `dedupe_key` before, if it is among the sender's latest.
pub async fn find_sent<C: MessageLikeEventContent>(
    bridge: &Bridge,
    room: &RoomId,
    sender: &UserId,
    dedupe_key: &str,
    content: &C,
) -> Result<Option<OwnedEventId>, BridgeError> {
    let txn_id = txn_id_for(dedupe_key);
    let client = bridge.bot.as_user(sender);
    let found = find(&client, room, sender, &content.event_type(), txn_id.as_str()).await?;
    if let Some(event_id) = &found {
        tracing::info!(%room, %event_id, "the event was sent before the restart; not sending it again");
    }
    Ok(found)
}

/// The content as JSON with [`TXN_KEY`] added.
fn marked<C: MessageLikeEventContent>(
    content: &C,
    txn_id: &str,
) -> Result<Raw<AnyMessageLikeEventContent>, BridgeError> {
    let serialize = |e: serde_json::Error| BridgeError::Serialize(e.to_string());
    let mut json = serde_json::to_value(content).map_err(serialize)?;
    let Some(object) = json.as_object_mut() else {
        return Err(BridgeError::Serialize("event content is not a JSON object".into()));
    };
    object.insert(TXN_KEY.to_owned(), txn_id.into());
    let raw = serde_json::value::to_raw_value(&json).map_err(serialize)?;
    Ok(Raw::from_json(raw))
}

/// The sender's event in `room` that carries `txn_id`, among its latest ones.
async fn find(
    client: &MatrixClient,
    room: &RoomId,
    sender: &UserId,
    event_type: &MessageLikeEventType,
    txn_id: &str,
) -> Result<Option<OwnedEventId>, BridgeError> {
    #[derive(Deserialize)]
    struct Marked {
        event_id: OwnedEventId,
        #[serde(default)]
        content: MarkedContent,
    }
    #[derive(Deserialize, Default)]
    struct MarkedContent {
        #[serde(rename = "org.interop_bridge.txn_id")]
        txn_id: Option<String>,
    }
    let mut filter = RoomEventFilter::default();
    filter.senders = Some(vec![sender.to_owned()]);
    filter.types = Some(vec![event_type.to_string()]);
    let mut request = get_message_events::v3::Request::backward(room.to_owned());
    request.limit = UInt::from(LOOKBACK);
    request.filter = filter;
    let response = client.send(request).await?;
    Ok(response
        .chunk
        .iter()
        .filter_map(|raw| serde_json::from_str::<Marked>(raw.json().get()).ok())
        .find(|event| event.content.txn_id.as_deref() == Some(txn_id))
        .map(|event| event.event_id))
}

#[cfg(test)]
mod tests {
    use ruma::events::room::message::RoomMessageEventContent;

    use super::*;

    #[test]
    fn the_txn_id_travels_in_the_content() {
        let content = RoomMessageEventContent::text_plain("hi");
        let raw = marked(&content, "ib0123").unwrap();
        let json: serde_json::Value = serde_json::from_str(raw.json().get()).unwrap();
        assert_eq!(json[TXN_KEY], "ib0123");
        assert_eq!(json["body"], "hi");
        assert_eq!(json["msgtype"], "m.text");
    }
}
