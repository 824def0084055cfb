//! Matrix → gatekeeper: applying one queued Matrix event of a portal.
//!
//! Messages, edits, reactions and redactions by the portal's owner are converted (see
//! [`crate::convert`]), degraded to what the gatekeeper offers, and sent with a message id
//! derived from the Matrix event id, so a resend after a crash is recognised as the same
//! message. What cannot be sent is answered in the room with a notice that says why.

use interop_proto::content::{Content, MessageRef};
use ruma::{
    EventId, OwnedEventId,
    events::{
        AnyMessageLikeEvent, AnyTimelineEvent, MessageLikeEvent,
        room::message::{Relation, RoomMessageEventContent},
    },
    serde::Raw,
};
use sha2::{Digest, Sha256};

use super::{Bridge, BridgeError, Portal, media, portal, queue::Outcome};
use crate::{
    convert::{self, OutgoingContext, RedactedEvent},
    gatekeeper::{GatekeeperError, GatekeeperLogin, OutgoingMessage},
    store::{MessageRow, QueuedWork, ReactionRow},
};

/// The gatekeeper message id for a Matrix event: stable, so a retry is the same message.
pub fn message_id_for(event_id: &EventId) -> String {
    let digest = Sha256::digest(event_id.as_str().as_bytes());
    digest.iter().take(10).map(|b| format!("{b:02X}")).collect()
}

/// Applies one Matrix event of the portal; `replay` says it was started before.
pub async fn apply(
    bridge: &Bridge,
    item: &QueuedWork,
    portal: &Portal,
    raw: &Raw<AnyTimelineEvent>,
    replay: bool,
) -> Outcome {
    let event = match raw.deserialize() {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "a queued Matrix event no longer parses; dropped");
            return Outcome::Done;
        }
    };
    // No login here means logged out: at start every stored login is back in place before any
    // queued work runs (`run.rs`), so a replay is not mistaken for one.
    let Some(login) = bridge.logins.get(portal.owner.as_str()) else {
        let text = format!(
            "Not sent: you are not logged in to {}. Send \"login\" to the bridge bot.",
            bridge.config.gatekeeper.network_name
        );
        return failure_notice(bridge, portal, event.event_id(), &text, replay).await;
    };
    // The gatekeeper's capabilities are known only while the channel is open; degrading
    // against the empty set of a login still connecting would drop what it cannot carry.
    if bridge.logins.connected(portal.owner.as_str()).is_none() {
        return Outcome::Later("the channel to the gatekeeper is not open".into());
    }
    let result = match &event {
        AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomMessage(
            MessageLikeEvent::Original(m),
        )) => {
            let voice = raw
                .get_field::<Raw<RoomMessageEventContent>>("content")
                .ok()
                .flatten()
                .is_some_and(|content| convert::content_marks_voice(&content));
            let relayed_by = match m.sender == portal.owner {
                true => None,
                false => Some(display_name(bridge, &m.sender).await),
            };
            let message =
                MatrixMessage { event_id: &m.event_id, content: &m.content, voice, relayed_by };
            send_message(bridge, item, portal, &*login, message).await
        }
        AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::Reaction(
            MessageLikeEvent::Original(r),
        )) => send_reaction(bridge, item, portal, &*login, &r.event_id, &r.content).await,
        AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomRedaction(
            ruma::events::room::redaction::RoomRedactionEvent::Original(r),
        )) => match r.redacts.as_deref().or(r.content.redacts.as_deref()) {
            Some(redacts) => {
                send_redaction(bridge, item, portal, &*login, &r.event_id, redacts).await
            }
            None => Ok(Sent::Nothing),
        },
        _ => Ok(Sent::Nothing),
    };
    match result {
        Ok(Sent::Nothing) | Ok(Sent::Delivered) => Outcome::Done,
        Ok(Sent::Degraded(notice)) => notice_once(bridge, portal, &notice, replay).await,
        Err(SendError::Later(reason)) => Outcome::Later(reason),
        Err(SendError::Refused(text)) => {
            failure_notice(bridge, portal, event.event_id(), &text, replay).await
        }
        Err(SendError::Bridge(BridgeError::Matrix(error))) => Outcome::Later(error.to_string()),
        Err(SendError::Bridge(BridgeError::Store(error))) => Outcome::Later(error.to_string()),
        Err(SendError::Bridge(error)) => {
            failure_notice(bridge, portal, event.event_id(), &error.to_string(), replay).await
        }
    }
}

enum Sent {
    Nothing,
    Delivered,
    /// Sent in a degraded form, or not at all; tell the user this.
    Degraded(String),
}

enum SendError {
    /// Cannot go now (disconnected, rate limited); keep it first in line.
    Later(String),
    /// Refused for good; tell the user why.
    Refused(String),
    Bridge(BridgeError),
}

impl From<BridgeError> for SendError {
    fn from(error: BridgeError) -> Self {
        SendError::Bridge(error)
    }
}

impl From<crate::store::StoreError> for SendError {
    fn from(error: crate::store::StoreError) -> Self {
        SendError::Bridge(error.into())
    }
}

fn refusal(bridge: &Bridge, error: GatekeeperError) -> SendError {
    let network = &bridge.config.gatekeeper.network_name;
    match error {
        GatekeeperError::Disconnected(reason) => SendError::Later(reason),
        GatekeeperError::RateLimited { retry_after_ms } => {
            SendError::Later(format!("rate limited for {retry_after_ms} ms"))
        }
        GatekeeperError::NotOptedIn(_) => SendError::Refused(format!(
            "Not delivered: this contact has not accepted chats from other services in {network}."
        )),
        GatekeeperError::Blocked(_) => {
            SendError::Refused("Not delivered: this contact does not accept your messages.".into())
        }
        GatekeeperError::TooLarge(what) => {
            SendError::Refused(format!("Not delivered: too large for {network} ({what})."))
        }
        other => SendError::Refused(format!("Not delivered: {other}.")),
    }
}

/// The interop message a Matrix event that `item` refers to is, if it was bridged. Not found
/// while it may still be recorded by older work of the other direction, the item waits
/// ([`Bridge::target_may_come`]).
async fn remote_ref(
    bridge: &Bridge,
    item: &QueuedWork,
    portal: &Portal,
    event_id: &EventId,
) -> Result<Option<(MessageRow, MessageRef)>, SendError> {
    let row = bridge.message_by_event(portal.room_id.as_str(), event_id.as_str()).await?;
    if row.is_none() && bridge.target_may_come(item).await? {
        return Err(SendError::Later(BridgeError::TargetPending.to_string()));
    }
    Ok(row.map(|row| {
        let target = MessageRef { id: row.remote_id.clone(), sender: row.remote_sender.clone() };
        (row, target)
    }))
}

/// An `m.room.message` to send, and who wrote it if not the portal's owner (relay mode).
struct MatrixMessage<'a> {
    event_id: &'a OwnedEventId,
    content: &'a RoomMessageEventContent,
    voice: bool,
    relayed_by: Option<String>,
}

/// The name a relayed message goes out with: the writer's display name, else their user id.
async fn display_name(bridge: &Bridge, user: &ruma::UserId) -> String {
    let request = ruma::api::client::profile::get_profile::v3::Request::new(user.to_owned());
    bridge
        .bot
        .send(request)
        .await
        .ok()
        .and_then(|profile| profile.get("displayname").and_then(|v| v.as_str().map(str::to_owned)))
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| user.to_string())
}

async fn send_message(
    bridge: &Bridge,
    item: &QueuedWork,
    portal: &Portal,
    login: &dyn GatekeeperLogin,
    message: MatrixMessage<'_>,
) -> Result<Sent, SendError> {
    let MatrixMessage { event_id, content, voice, relayed_by } = message;
    let reply_to = match &content.relates_to {
        Some(Relation::Reply(reply)) => {
            remote_ref(bridge, item, portal, &reply.in_reply_to.event_id).await?.map(|(_, r)| r)
        }
        _ => None,
    };
    let replaces = match &content.relates_to {
        Some(Relation::Replacement(replacement)) => {
            remote_ref(bridge, item, portal, &replacement.event_id).await?.map(|(_, r)| r)
        }
        _ => None,
    };
    let converted = {
        // Scoped: the context holds a non-`Sync` closure, which must not live across an await.
        let ghost_id = |user: &ruma::UserId| bridge.ghosts.gatekeeper_id_of(user);
        let ctx = OutgoingContext { reply_to, replaces, voice, ghost_id: &ghost_id };
        convert::message_to_remote(content, &ctx)
    }
    .map_err(|e| SendError::Refused(format!("Not sent: {e}.")))?;
    let mut converted = converted;
    if let Some(name) = relayed_by {
        convert::prepend(&mut converted.content, &format!("{name}: "));
    }
    send_content(bridge, portal, login, event_id, converted, true).await
}

/// Degrades to what the gatekeeper offers, hosts the attachment if one is left, sends, and
/// records the message (`record`) so later events can refer to it.
async fn send_content(
    bridge: &Bridge,
    portal: &Portal,
    login: &dyn GatekeeperLogin,
    event_id: &EventId,
    message: convert::OutgoingMessage,
    record: bool,
) -> Result<Sent, SendError> {
    let network = &bridge.config.gatekeeper.network_name;
    let degraded = convert::degrade(&login.capabilities(), message, network);
    let Some(message) = degraded.send else {
        return Ok(degraded.notice.map(Sent::Degraded).unwrap_or(Sent::Nothing));
    };
    let mut content = message.content;
    if let Some(desc) = &message.media {
        match media::host_outgoing(bridge, login, desc).await {
            Ok(media_ref) => content.media = Some(media_ref),
            Err(media::MediaError::Matrix(e)) => return Err(SendError::Later(e.to_string())),
            Err(media::MediaError::Gatekeeper(e)) => return Err(refusal(bridge, e)),
            Err(e) => return Err(SendError::Refused(format!("Not sent: {e}."))),
        }
    }
    let id = message_id_for(event_id);
    let outgoing = OutgoingMessage { to: portal.remote_chat.clone(), id: id.clone(), content };
    login.send(&outgoing).await.map_err(|e| refusal(bridge, e))?;
    if record {
        let row = MessageRow {
            room_id: portal.room_id.to_string(),
            event_id: event_id.to_string(),
            owner: portal.owner.to_string(),
            remote_chat: portal.remote_chat.clone(),
            remote_sender: login.remote_id().to_owned(),
            remote_id: id,
        };
        bridge.mappings.record(row);
    }
    Ok(degraded.notice.map(Sent::Degraded).unwrap_or(Sent::Delivered))
}

/// Content without an attachment, ready for [`send_content`].
fn plain(content: Content) -> convert::OutgoingMessage {
    convert::OutgoingMessage { content, media: None }
}

async fn send_reaction(
    bridge: &Bridge,
    item: &QueuedWork,
    portal: &Portal,
    login: &dyn GatekeeperLogin,
    event_id: &OwnedEventId,
    reaction: &ruma::events::reaction::ReactionEventContent,
) -> Result<Sent, SendError> {
    let target_event = &reaction.relates_to.event_id;
    let Some((_, target)) = remote_ref(bridge, item, portal, target_event).await? else {
        tracing::debug!(%event_id, "reaction to a message that was not bridged");
        return Ok(Sent::Nothing);
    };
    let content = convert::reaction_to_remote(reaction, target)
        .map_err(|e| SendError::Refused(format!("Not sent: {e}.")))?;
    let sent = send_content(bridge, portal, login, event_id, plain(content), false).await?;
    if matches!(sent, Sent::Delivered) {
        let row = ReactionRow {
            room_id: portal.room_id.to_string(),
            target_event_id: target_event.to_string(),
            sender: portal.owner.to_string(),
            emoji: reaction.relates_to.key.clone(),
            event_id: event_id.to_string(),
        };
        bridge.store.upsert_reaction(&row).await?;
    }
    Ok(sent)
}

async fn send_redaction(
    bridge: &Bridge,
    item: &QueuedWork,
    portal: &Portal,
    login: &dyn GatekeeperLogin,
    event_id: &OwnedEventId,
    redacts: &EventId,
) -> Result<Sent, SendError> {
    let room = portal.room_id.as_str();
    if let Some(reaction) = bridge.store.reaction_by_event(room, redacts.as_str()).await? {
        let target_event = EventId::parse(&reaction.target_event_id)
            .map_err(|_| BridgeError::Corrupt("reaction target"))?;
        let Some((_, target)) = remote_ref(bridge, item, portal, &target_event).await? else {
            return Ok(Sent::Nothing);
        };
        let content = convert::redaction_to_remote(RedactedEvent::Reaction { target });
        let sent = send_content(bridge, portal, login, event_id, plain(content), false).await?;
        bridge.store.delete_reaction(room, redacts.as_str()).await?;
        return Ok(sent);
    }
    match remote_ref(bridge, item, portal, redacts).await? {
        // Only our own messages can be deleted for everyone.
        Some((row, target)) if row.remote_sender == login.remote_id() => {
            let content = convert::redaction_to_remote(RedactedEvent::Message(target));
            send_content(bridge, portal, login, event_id, plain(content), false).await
        }
        _ => Ok(Sent::Nothing),
    }
}

/// Replies to the failed event with a notice naming the reason.
async fn failure_notice(
    bridge: &Bridge,
    portal: &Portal,
    event_id: &EventId,
    text: &str,
    replay: bool,
) -> Outcome {
    let mut content = RoomMessageEventContent::notice_plain(format!("⚠️ {text}"));
    content.relates_to =
        Some(Relation::Reply(ruma::events::relation::Reply::with_event_id(event_id.to_owned())));
    tracing::info!(%event_id, reason = text, "a message was not delivered");
    match portal::notice(bridge, portal, content, &format!("failed|{event_id}"), replay).await {
        Ok(()) => Outcome::Done,
        Err(error) => Outcome::Later(format!("cannot post the failure notice: {error}")),
    }
}

/// Tells the user about a degradation once per portal and kind, not on every edit.
async fn notice_once(bridge: &Bridge, portal: &Portal, text: &str, replay: bool) -> Outcome {
    let key = format!("degraded|{}|{}|{text}", portal.owner, portal.remote_chat);
    match bridge.store.notice_sent(&key).await {
        Ok(true) => return Outcome::Done,
        Ok(false) => {}
        Err(error) => return Outcome::Later(error.to_string()),
    }
    let content = RoomMessageEventContent::notice_plain(format!("ℹ️ {text}"));
    if let Err(error) = portal::notice(bridge, portal, content, &key, replay).await {
        return Outcome::Later(format!("cannot post a notice: {error}"));
    }
    match bridge.store.mark_notice_sent(&key).await {
        Ok(()) => Outcome::Done,
        Err(error) => Outcome::Later(error.to_string()),
    }
}
