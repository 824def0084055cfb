//! Portals: the Matrix rooms that stand for gatekeeper chats.
//!
//! A portal is a direct-message room created by the contact's ghost with the Matrix user
//! invited (`is_direct`, and `m.direct` in the ghost's account data), so every client shows it
//! as a DM with that contact. Portals are created only by their own queue worker, which runs
//! one item at a time, so two events can never create two rooms for one chat.

use std::collections::BTreeMap;

use ruma::{
    OwnedRoomId, OwnedUserId, RoomId, UserId,
    api::client::{
        config::set_global_account_data,
        membership::joined_rooms,
        room::create_room::v3::{Request as CreateRoom, RoomPreset},
        state::get_state_event_for_key,
    },
    api::error::ErrorKind,
    events::{StateEventType, direct::DirectEventContent, room::message::RoomMessageEventContent},
};

use super::{Bridge, BridgeError, profile, space};
use crate::{store::InboxMode, store::PortalRow};

/// A portal, ready to use.
#[derive(Debug, Clone)]
pub struct Portal {
    pub owner: OwnedUserId,
    pub remote_chat: String,
    pub room_id: OwnedRoomId,
    pub ghost: OwnedUserId,
    /// Other Matrix users in the room may write through the owner's login.
    pub relay: bool,
}

impl Portal {
    fn from_row(bridge: &Bridge, row: PortalRow) -> Result<Self, BridgeError> {
        let owner = UserId::parse(&row.owner).map_err(|_| BridgeError::Corrupt("portal owner"))?;
        let room_id =
            RoomId::parse(&row.room_id).map_err(|_| BridgeError::Corrupt("portal room id"))?;
        let ghost = bridge
            .ghosts
            .user_id_for(&row.remote_chat)
            .ok_or_else(|| BridgeError::BadRemoteId(row.remote_chat.clone()))?;
        Ok(Self { owner, remote_chat: row.remote_chat, room_id, ghost, relay: row.relay })
    }
}

/// The portal for `owner`'s chat with `remote_chat`, if it exists.
pub async fn find(
    bridge: &Bridge,
    owner: &UserId,
    remote_chat: &str,
) -> Result<Option<Portal>, BridgeError> {
    if let Some(portal) = bridge.rows.portal_by_chat(owner, remote_chat) {
        return Ok(Some(portal));
    }
    match bridge.store.portal(owner.as_str(), remote_chat).await? {
        Some(row) => Ok(Some(remembered(bridge, Portal::from_row(bridge, row)?))),
        None => Ok(None),
    }
}

fn remembered(bridge: &Bridge, portal: Portal) -> Portal {
    bridge.rows.put_portal(&portal);
    portal
}

/// The portal a Matrix room is, if any.
pub async fn by_room(bridge: &Bridge, room_id: &RoomId) -> Result<Option<Portal>, BridgeError> {
    if let Some(portal) = bridge.rows.portal_by_room(room_id) {
        return Ok(Some(portal));
    }
    match bridge.store.portal_by_room(room_id.as_str()).await? {
        Some(row) => Ok(Some(remembered(bridge, Portal::from_row(bridge, row)?))),
        None => Ok(None),
    }
}

/// The portal for a chat, created (with the ghost and its profile) if it does not exist yet.
///
/// Room creation has no idempotency key. So on a `replay` (the bridge may have crashed after
/// creating the room and before recording it) a room the ghost is in with the owner, that is no
/// recorded portal, is taken as this portal instead of creating a second one.
pub async fn ensure(
    bridge: &Bridge,
    owner: &UserId,
    remote_chat: &str,
    replay: bool,
) -> Result<Portal, BridgeError> {
    if let Some(portal) = find(bridge, owner, remote_chat).await? {
        return Ok(portal);
    }
    let ghost = bridge
        .ghosts
        .user_id_for(remote_chat)
        .ok_or_else(|| BridgeError::BadRemoteId(remote_chat.to_owned()))?;
    bridge.ghosts.ensure_registered(&ghost).await?;
    profile::sync(bridge, owner, remote_chat, &ghost, true).await;

    let as_ghost = bridge.bot.as_user(&ghost);
    let unrecorded = match replay {
        true => unrecorded_room(bridge, &ghost, owner).await?,
        false => None,
    };
    let room_id = match unrecorded {
        Some(room_id) => {
            tracing::info!(%owner, remote_chat, %room_id, "found the portal created before a restart");
            room_id
        }
        None => {
            let request = ruma::assign!(CreateRoom::new(), {
                invite: vec![owner.to_owned()],
                is_direct: true,
                preset: Some(RoomPreset::TrustedPrivateChat),
            });
            as_ghost.send(request).await?.room_id
        }
    };
    let mut direct = BTreeMap::new();
    direct.insert(owner.to_owned().into(), vec![room_id.clone()]);
    let direct = DirectEventContent(direct);
    match set_global_account_data::v3::Request::new(ghost.clone(), &direct) {
        Ok(request) => {
            if let Err(error) = as_ghost.send(request).await {
                tracing::warn!(%error, %ghost, "could not set m.direct for the ghost");
            }
        }
        Err(error) => tracing::warn!(%error, "could not serialise m.direct"),
    }
    let row = PortalRow {
        owner: owner.to_string(),
        remote_chat: remote_chat.to_owned(),
        room_id: room_id.to_string(),
        relay: false,
    };
    bridge.store.insert_portal(&row).await?;
    tracing::info!(%owner, remote_chat, %room_id, "opened a portal");
    if bridge.store.bridge_user(owner.as_str()).await?.inbox == InboxMode::Separate {
        space::add_portal(bridge, owner, &room_id).await;
    }
    let portal = Portal {
        owner: owner.to_owned(),
        remote_chat: remote_chat.to_owned(),
        room_id,
        ghost,
        relay: false,
    };
    Ok(remembered(bridge, portal))
}

/// A room `ghost` is in, with `owner` invited or joined, that is not a recorded portal: one a
/// crash kept from being recorded.
async fn unrecorded_room(
    bridge: &Bridge,
    ghost: &UserId,
    owner: &UserId,
) -> Result<Option<OwnedRoomId>, BridgeError> {
    let as_ghost = bridge.bot.as_user(ghost);
    let rooms = as_ghost.send(joined_rooms::v3::Request::new()).await?.joined_rooms;
    for room_id in rooms {
        if bridge.store.portal_by_room(room_id.as_str()).await?.is_some() {
            continue;
        }
        let request = get_state_event_for_key::v3::Request::new(
            room_id.clone(),
            StateEventType::RoomMember,
            owner.to_string(),
        );
        let membership = match as_ghost.send(request).await {
            Ok(response) => {
                #[derive(serde::Deserialize)]
                struct Member {
                    membership: String,
                }
                serde_json::from_str::<Member>(response.event_or_content.get())
                    .ok()
                    .map(|member| member.membership)
            }
            Err(error) if error.kind() == Some(&ErrorKind::NotFound) => None,
            Err(error) => return Err(error.into()),
        };
        if matches!(membership.as_deref(), Some("invite" | "join")) {
            return Ok(Some(room_id));
        }
    }
    Ok(None)
}

/// Sends an `m.notice` into the portal as the contact's ghost; `dedupe_key` names its cause,
/// so a replay sends it once.
pub async fn notice(
    bridge: &Bridge,
    portal: &Portal,
    content: RoomMessageEventContent,
    dedupe_key: &str,
    replay: bool,
) -> Result<(), BridgeError> {
    super::once::send(bridge, &portal.room_id, &portal.ghost, dedupe_key, &content, replay).await?;
    Ok(())
}
