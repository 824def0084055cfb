//! The bridge bot: joins the rooms users invite it to and answers commands there.
//!
//! A room a permitted user invites the bot into becomes that user's management room, where
//! every message is a command. Elsewhere, a command needs the prefix (e.g. `!wa help`). Users
//! without permission get a polite refusal instead of silence.

use ruma::{
    OwnedRoomId, RoomId, UserId,
    api::client::membership::{join_room_by_id, leave_room},
    events::{
        AnyMessageLikeEvent, AnyStateEvent, AnyTimelineEvent, MessageLikeEvent, StateEvent,
        room::{
            member::MembershipState,
            message::{MessageType, RoomMessageEventContent},
        },
    },
};

use std::sync::Arc;

use super::Bridge;
use crate::{commands, config::PermissionLevel};

/// Routes one timeline event to the bot, if it concerns the bot.
pub async fn handle_event(bridge: &Arc<Bridge>, event: &AnyTimelineEvent) {
    if bridge.is_own_user(event.sender()) {
        return;
    }
    let result = match event {
        AnyTimelineEvent::State(AnyStateEvent::RoomMember(StateEvent::Original(member)))
            if member.state_key == bridge.bot_user_id
                && member.content.membership == MembershipState::Invite =>
        {
            on_invite(bridge, &member.room_id, &member.sender, member.event_id.as_str())
                .await
                .map_err(Into::into)
        }
        AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomMessage(
            MessageLikeEvent::Original(message),
        )) => {
            let MessageType::Text(text) = &message.content.msgtype else { return };
            on_text(
                bridge,
                &message.room_id,
                &message.sender,
                &text.body,
                message.event_id.as_str(),
            )
            .await
        }
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(event_id = %event.event_id(), %error, "bot could not handle an event");
    }
}

async fn on_invite(
    bridge: &Bridge,
    room_id: &RoomId,
    inviter: &UserId,
    event_id: &str,
) -> Result<(), crate::matrix::MatrixError> {
    bridge.bot.send(join_room_by_id::v3::Request::new(room_id.to_owned())).await?;
    let level = bridge.permission_level(inviter);
    if level < PermissionLevel::User {
        tracing::info!(%inviter, %room_id, "refused an invite from a user without permission");
        bridge.send_bot_notice(room_id, refusal(bridge), &format!("{event_id}:refuse")).await?;
        bridge.bot.send(leave_room::v3::Request::new(room_id.to_owned())).await?;
        return Ok(());
    }
    match bridge.store.set_management_room(inviter.as_str(), room_id.as_str()).await {
        Ok(()) => bridge.rows.put_management_room(inviter, Some(room_id.to_owned())),
        Err(error) => tracing::error!(%error, "could not store the management room"),
    }
    tracing::info!(user = %inviter, %room_id, "joined a new management room");
    let welcome = commands::welcome(bridge, level);
    bridge.send_bot_notice(room_id, welcome, &format!("{event_id}:welcome")).await
}

async fn on_text(
    bridge: &Arc<Bridge>,
    room_id: &RoomId,
    sender: &UserId,
    body: &str,
    event_id: &str,
) -> Result<(), super::BridgeError> {
    let prefix = bridge.config.bridge.command_prefix.as_str();
    let prefixed = is_prefixed_command(bridge, body).then(|| &body[prefix.len()..]);
    let in_management_room = management_room_of(bridge, sender).await.as_deref() == Some(room_id);
    let command = match (prefixed, in_management_room) {
        (Some(rest), _) => rest.trim(),
        (None, true) => body.trim(),
        (None, false) => return Ok(()),
    };
    let key = format!("{event_id}:reply");
    // A transaction replayed after a crash must not run its commands again (a second login, a
    // second chat). Only a crash between running one and recording it can still repeat it.
    if bridge.store.notice_sent(&key).await? {
        tracing::debug!(event_id, "command answered before the restart; not run again");
        return Ok(());
    }
    let level = bridge.permission_level(sender);
    let reply = if level < PermissionLevel::User {
        refusal(bridge)
    } else {
        commands::run(bridge, room_id, sender, level, command).await
    };
    // In a portal the bot is not a member: the contact's ghost answers instead.
    match super::portal::by_room(bridge, room_id).await {
        Ok(Some(portal)) => super::portal::notice(bridge, &portal, reply, &key, true).await?,
        _ => bridge.send_bot_notice(room_id, reply, &key).await?,
    }
    bridge.store.mark_notice_sent(&key).await?;
    Ok(())
}

/// Whether a message body is a prefixed bot command (kept off the gatekeeper).
pub fn is_prefixed_command(bridge: &Bridge, body: &str) -> bool {
    body.strip_prefix(bridge.config.bridge.command_prefix.as_str())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

async fn management_room_of(bridge: &Bridge, user_id: &UserId) -> Option<OwnedRoomId> {
    if let Some(room) = bridge.rows.management_room(user_id) {
        return room;
    }
    match bridge.store.management_room(user_id.as_str()).await {
        Ok(room) => {
            let room = room.and_then(|room| RoomId::parse(room).ok());
            bridge.rows.put_management_room(user_id, room.clone());
            room
        }
        Err(error) => {
            tracing::error!(%error, "could not read the management room");
            None
        }
    }
}

fn refusal(bridge: &Bridge) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(format!(
        "Sorry, you are not allowed to use this {} bridge. If you think you should be, \
         ask the administrator of this homeserver to add you to bridge.permissions.",
        bridge.config.gatekeeper.network_name
    ))
}
