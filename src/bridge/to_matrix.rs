//! Gatekeeper → Matrix: applying one queued gatekeeper event of a portal, as the contact's
//! ghost.
//!
//! The portal is opened on the first event of an unknown contact. Each send to the homeserver
//! is keyed by the gatekeeper message (sender and id) and goes through [`once`], so replaying
//! the queue after a crash never shows a message twice: a message already recorded in the
//! `messages` table is not sent again, and one sent but not yet recorded is found in the room.
//! Replies, edits, reactions and deletes find their Matrix targets in the `messages` table;
//! receipts move the ghost's read marker.

use std::collections::HashMap;

use interop_proto::content::Content;
use ruma::{
    EventId, OwnedEventId, OwnedUserId, UserId,
    api::client::{receipt::create_receipt, redact::redact_event},
    events::{receipt::ReceiptThread, room::message::RoomMessageEventContent},
};

use super::{
    Bridge, BridgeError, Portal, media, once, portal, profile, queue::Outcome, txn_id_for,
};
use crate::{
    convert::{self, IncomingContext, MatrixAction, ReplyTarget},
    matrix::MatrixError,
    store::{MessageRow, QueuedWork, ReactionRow},
};

/// Maps a failure to what the queue does with the item: homeserver, store and gatekeeper
/// connection trouble waits, anything else is logged and skipped (it would fail the same way
/// forever).
fn outcome(result: Result<(), BridgeError>, what: &str) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(BridgeError::Matrix(e)) if !is_permanent(&e) => Outcome::Later(e.to_string()),
        Err(BridgeError::Store(e)) => Outcome::Later(e.to_string()),
        Err(error @ BridgeError::TargetPending) => Outcome::Later(error.to_string()),
        // An attachment needs the login's channel; skipping would lose the message.
        Err(BridgeError::Gatekeeper(crate::gatekeeper::GatekeeperError::Disconnected(e))) => {
            Outcome::Later(e)
        }
        Err(error) => {
            tracing::warn!(%error, what, "a gatekeeper event could not be bridged; skipped");
            Outcome::Done
        }
    }
}

/// Errors the homeserver will give again on a retry (bad request, forbidden).
fn is_permanent(error: &MatrixError) -> bool {
    matches!(error, MatrixError::Api(api) if api.status_code.is_client_error() && api.status_code.as_u16() != 429)
}

pub async fn open(bridge: &Bridge, owner: &UserId, chat: &str, replay: bool) -> Outcome {
    outcome(portal::ensure(bridge, owner, chat, replay).await.map(|_| ()), "open a portal")
}

pub async fn message(
    bridge: &Bridge,
    item: &QueuedWork,
    owner: &UserId,
    from: &str,
    id: &str,
    content: Result<Content, String>,
    replay: bool,
) -> Outcome {
    let result = async {
        let chat = item.remote_chat.as_str();
        let portal = portal::ensure(bridge, owner, chat, replay).await?;
        let at = At { portal: &portal, item, from, replay };
        profile::sync(bridge, owner, chat, &portal.ghost, false).await;
        let content = match content {
            Ok(content) => content,
            Err(error) => {
                tracing::info!(%error, from, id, "unreadable content from the gatekeeper");
                let notice = RoomMessageEventContent::notice_plain(convert::UNSUPPORTED);
                return send(bridge, &at, notice, id).await.map(|_| ());
            }
        };
        apply_content(bridge, &at, id, &content).await
    }
    .await;
    outcome(result, "message")
}

/// Where a gatekeeper message goes, from whom, and whether it was applied before.
struct At<'a> {
    portal: &'a Portal,
    /// The queued item being applied.
    item: &'a QueuedWork,
    /// The gatekeeper id of the message's sender.
    from: &'a str,
    replay: bool,
}

async fn apply_content(
    bridge: &Bridge,
    at: &At<'_>,
    id: &str,
    content: &Content,
) -> Result<(), BridgeError> {
    let (portal, from) = (at.portal, at.from);
    let reply_to = match &content.in_reply_to {
        Some(r) => find_target(bridge, at, &r.sender, &r.id).await?.and_then(|row| {
            Some(ReplyTarget { sender: sender_of(portal, &row), event_id: row_event(&row)? })
        }),
        None => None,
    };
    // Only the original sender's edits count.
    let replaces = match &content.replaces {
        Some(r) if r.sender.is_empty() || r.sender == from => {
            find_target(bridge, at, from, &r.id).await?.and_then(|row| row_event(&row))
        }
        _ => None,
    };
    let reaction_target = match content.reaction.as_ref().and_then(|r| r.target.as_ref()) {
        Some(t) => find_target(bridge, at, &t.sender, &t.id).await?.and_then(|row| row_event(&row)),
        None => None,
    };
    let mut media_url = None;
    if let Some(media_ref) = &content.media {
        match bridge.logins.get(portal.owner.as_str()) {
            Some(login) => {
                match media::mirror_incoming(bridge, &*login, &portal.ghost, media_ref).await {
                    Ok(mxc) => media_url = Some(mxc),
                    Err(media::MediaError::Matrix(e)) => return Err(e.into()),
                    Err(error) => {
                        tracing::info!(%error, from, id, "an attachment could not be bridged");
                        let text = format!(
                            "⚠️ This contact sent a file that could not be shown: {error}."
                        );
                        let notice = RoomMessageEventContent::notice_plain(text);
                        send(bridge, at, notice, &format!("{id}|media")).await?;
                    }
                }
            }
            None => {
                return Err(BridgeError::Gatekeeper(
                    crate::gatekeeper::GatekeeperError::Disconnected("not logged in".into()),
                ));
            }
        }
    }
    let names = mention_names(bridge, portal, content).await;
    let converted = {
        // Scoped: the context holds a non-`Sync` closure, which must not live across an await.
        let ghost = |remote: &str| names.get(remote).cloned();
        let ctx = IncomingContext { reply_to, replaces, reaction_target, media_url, ghost: &ghost };
        convert::content_to_matrix(content, &ctx)
    };
    let action = match converted {
        Ok(action) => action,
        Err(error) => {
            tracing::info!(%error, from, id, "gatekeeper content not shown");
            if content.media.is_some() && content.text.is_empty() {
                return Ok(());
            }
            let text = RoomMessageEventContent::text_plain(content.text.clone());
            return send(bridge, at, text, id).await.map(|_| ());
        }
    };
    match action {
        MatrixAction::Message(message) => send(bridge, at, *message, id).await.map(|_| ()),
        MatrixAction::React(reaction) => {
            let target = reaction.relates_to.event_id.clone();
            let key = format!("rm|{}|{from}|{id}", portal.owner);
            let room = &portal.room_id;
            // A replay must not take its own reaction, sent before the crash, for an older one
            // to replace: it would redact the very reaction it is about to confirm.
            let sent_before = match at.replay {
                true => once::find_sent(bridge, room, &portal.ghost, &key, &reaction).await?,
                false => None,
            };
            let event_id = match sent_before {
                Some(event_id) => event_id,
                None => {
                    if let Some(old) =
                        bridge.store.reaction_of(room.as_str(), target.as_str(), from).await?
                    {
                        redact(bridge, portal, &old.event_id, &format!("{from}|{id}|replace"))
                            .await?;
                    }
                    once::send(bridge, room, &portal.ghost, &key, &reaction, false).await?
                }
            };
            let row = ReactionRow {
                room_id: room.to_string(),
                target_event_id: target.to_string(),
                sender: from.to_owned(),
                emoji: reaction.relates_to.key.clone(),
                event_id: event_id.to_string(),
            };
            bridge.store.upsert_reaction(&row).await?;
            Ok(())
        }
        MatrixAction::RevokeReaction { target } => {
            let Some(row) = find_target(bridge, at, &target.sender, &target.id).await? else {
                return Ok(());
            };
            let room = portal.room_id.as_str();
            if let Some(old) = bridge.store.reaction_of(room, &row.event_id, from).await? {
                redact(bridge, portal, &old.event_id, &format!("{from}|{id}")).await?;
                bridge.store.delete_reaction(room, &old.event_id).await?;
            }
            Ok(())
        }
        MatrixAction::Redact { target } => {
            // Only the original sender's deletes count.
            if !target.sender.is_empty() && target.sender != from {
                return Ok(());
            }
            match find_target(bridge, at, from, &target.id).await? {
                Some(row) => redact(bridge, portal, &row.event_id, &format!("{from}|{id}")).await,
                None => Ok(()),
            }
        }
    }
}

/// The stored message `(sender, id)` of this portal.
async fn find_event(
    bridge: &Bridge,
    portal: &Portal,
    sender: &str,
    id: &str,
) -> Result<Option<MessageRow>, BridgeError> {
    let (owner, chat) = (portal.owner.as_str(), portal.remote_chat.as_str());
    Ok(bridge.message_by_remote(owner, chat, sender, id).await?)
}

/// The stored message `(sender, id)` that the item being applied refers to. Not found while
/// it may still be recorded by older work of the other direction, the item waits
/// ([`Bridge::target_may_come`]).
async fn find_target(
    bridge: &Bridge,
    at: &At<'_>,
    sender: &str,
    id: &str,
) -> Result<Option<MessageRow>, BridgeError> {
    match find_event(bridge, at.portal, sender, id).await? {
        Some(row) => Ok(Some(row)),
        None if bridge.target_may_come(at.item).await? => Err(BridgeError::TargetPending),
        None => Ok(None),
    }
}

/// A stored message's event id (they came from the homeserver; a damaged one is skipped).
fn row_event(row: &MessageRow) -> Option<OwnedEventId> {
    EventId::parse(&row.event_id).ok()
}

/// Who sent a stored message on the Matrix side: the contact's ghost or the portal's owner.
fn sender_of(portal: &Portal, row: &MessageRow) -> OwnedUserId {
    if row.remote_sender == portal.remote_chat {
        portal.ghost.clone()
    } else {
        portal.owner.clone()
    }
}

/// Ghost ids and display names for the mentions in `content` (the owner is mentioned as
/// their own Matrix user).
async fn mention_names(
    bridge: &Bridge,
    portal: &Portal,
    content: &Content,
) -> HashMap<String, (OwnedUserId, String)> {
    let mut names = HashMap::new();
    let own = bridge.logins.get(portal.owner.as_str()).map(|l| l.remote_id().to_owned());
    for mention in &content.mentions {
        if names.contains_key(&mention.user) {
            continue;
        }
        let entry = if own.as_deref() == Some(mention.user.as_str()) {
            Some((portal.owner.clone(), portal.owner.localpart().to_owned()))
        } else if let Some(user) = bridge.ghosts.user_id_for(&mention.user) {
            let name = bridge
                .store
                .ghost_profile(user.as_str())
                .await
                .ok()
                .and_then(|p| p.displayname)
                .unwrap_or_else(|| mention.user.clone());
            Some((user, name))
        } else {
            None
        };
        if let Some(entry) = entry {
            names.insert(mention.user.clone(), entry);
        }
    }
    names
}

/// Sends a message as the contact's ghost and records it as the gatekeeper message
/// `(from, id)`. A message recorded before (a replay after the crash that came between
/// recording it and finishing its work item) is not sent again.
async fn send(
    bridge: &Bridge,
    at: &At<'_>,
    content: RoomMessageEventContent,
    id: &str,
) -> Result<OwnedEventId, BridgeError> {
    let (portal, from) = (at.portal, at.from);
    if at.replay
        && let Some(row) = find_event(bridge, portal, from, id).await?
        && let Some(event_id) = row_event(&row)
    {
        return Ok(event_id);
    }
    let key = format!("rm|{}|{from}|{id}", portal.owner);
    let event_id =
        once::send(bridge, &portal.room_id, &portal.ghost, &key, &content, at.replay).await?;
    let row = MessageRow {
        room_id: portal.room_id.to_string(),
        event_id: event_id.to_string(),
        owner: portal.owner.to_string(),
        remote_chat: portal.remote_chat.clone(),
        remote_sender: from.to_owned(),
        remote_id: id.to_owned(),
    };
    bridge.mappings.record(row);
    Ok(event_id)
}

async fn redact(
    bridge: &Bridge,
    portal: &Portal,
    event_id: &str,
    cause: &str,
) -> Result<(), BridgeError> {
    let event_id = EventId::parse(event_id).map_err(|_| BridgeError::Corrupt("stored event id"))?;
    let request = redact_event::v3::Request::new(
        portal.room_id.clone(),
        event_id,
        txn_id_for(&format!("redact|{}|{cause}", portal.owner)),
    );
    bridge.bot.as_user(&portal.ghost).send(request).await?;
    Ok(())
}

pub async fn undecryptable(
    bridge: &Bridge,
    item: &QueuedWork,
    owner: &UserId,
    from: &str,
    id: &str,
    replay: bool,
) -> Outcome {
    let result = async {
        let portal = portal::ensure(bridge, owner, &item.remote_chat, replay).await?;
        let notice = RoomMessageEventContent::notice_plain(
            "⚠️ A message from this contact could not be decrypted. Ask them to send it again.",
        );
        let at = At { portal: &portal, item, from, replay };
        send(bridge, &at, notice, id).await.map(|_| ())
    }
    .await;
    outcome(result, "undecryptable message")
}

/// The contact read our messages: move the ghost's read marker to the newest one we know.
pub async fn receipt(
    bridge: &Bridge,
    item: &QueuedWork,
    owner: &UserId,
    ids: &[String],
    read: bool,
) -> Outcome {
    if !read {
        return Outcome::Done;
    }
    let result = async {
        let chat = item.remote_chat.as_str();
        let Some(portal) = portal::find(bridge, owner, chat).await? else { return Ok(()) };
        let Some(login) = bridge.logins.get(owner.as_str()) else { return Ok(()) };
        let (me, replay) = (login.remote_id(), false);
        let at = At { portal: &portal, item, from: me, replay };
        for id in ids.iter().rev() {
            if let Some(row) = find_target(bridge, &at, me, id).await? {
                let Some(event_id) = row_event(&row) else { continue };
                let mut request = create_receipt::v3::Request::new(
                    portal.room_id.clone(),
                    create_receipt::v3::ReceiptType::Read,
                    event_id,
                );
                request.thread = ReceiptThread::Unthreaded;
                bridge.bot.as_user(&portal.ghost).send(request).await?;
                break;
            }
        }
        Ok(())
    }
    .await;
    outcome(result, "receipt")
}

pub async fn identity_changed(
    bridge: &Bridge,
    owner: &UserId,
    contact: &str,
    key: &str,
    replay: bool,
) -> Outcome {
    let result = async {
        let Some(portal) = portal::find(bridge, owner, contact).await? else { return Ok(()) };
        let notice = RoomMessageEventContent::notice_plain(
            "🔐 This contact's security code changed: they may have reinstalled the app or \
             switched phones. Messages stay end-to-end encrypted.",
        );
        portal::notice(bridge, &portal, notice, key, replay).await
    }
    .await;
    outcome(result, "identity change")
}
