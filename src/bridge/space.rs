//! The inbox Space: in `separate` mode a user's portals are gathered in a personal Space named
//! after the gatekeeper, the way gatekeeper users see a separate "third-party chats" folder.
//! In `combined` mode there is no Space and portals are plain direct chats.
//!
//! The bot owns the Space (it creates it and invites the user) and lists each portal with an
//! `m.space.child` state event; switching modes adds or removes those children.

use ruma::{
    OwnedRoomId, RoomId, UserId,
    api::client::{
        room::create_room::v3::{CreationContent, Request as CreateRoom, RoomPreset},
        state::send_state_event,
    },
    events::{StateEventType, space::child::SpaceChildEventContent},
    room::RoomType,
    serde::Raw,
};

use super::{Bridge, BridgeError};

/// The user's Space, created on first use.
pub async fn ensure(bridge: &Bridge, owner: &UserId) -> Result<OwnedRoomId, BridgeError> {
    let user = bridge.store.bridge_user(owner.as_str()).await?;
    if let Some(room) = user.space_room_id.and_then(|r| RoomId::parse(r).ok()) {
        return Ok(room);
    }
    let mut creation = CreationContent::new();
    creation.room_type = Some(RoomType::Space);
    let creation = Raw::new(&creation).map_err(|e| BridgeError::Serialize(e.to_string()))?;
    let network = &bridge.config.gatekeeper.network_name;
    let request = ruma::assign!(CreateRoom::new(), {
        creation_content: Some(creation),
        invite: vec![owner.to_owned()],
        name: Some(network.clone()),
        topic: Some(format!("Your chats with {network} contacts")),
        preset: Some(RoomPreset::PrivateChat),
    });
    let room_id = bridge.bot.send(request).await?.room_id;
    bridge.store.set_space_room(owner.as_str(), room_id.as_str()).await?;
    tracing::info!(%owner, %room_id, "created the inbox space");
    Ok(room_id)
}

/// Lists a portal in the user's Space. Best effort: a failure is logged (the portal works
/// without it) and reported as `false`.
pub async fn add_portal(bridge: &Bridge, owner: &UserId, portal: &RoomId) -> bool {
    let result = async {
        let space = ensure(bridge, owner).await?;
        let via = vec![bridge.bot_user_id.server_name().to_owned()];
        set_child(bridge, &space, portal, &SpaceChildEventContent::new(via)).await
    }
    .await;
    match result {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, %owner, %portal, "could not add a portal to the inbox space");
            false
        }
    }
}

/// Takes a portal out of the user's Space, if there is one.
pub async fn remove_portal(
    bridge: &Bridge,
    owner: &UserId,
    portal: &RoomId,
) -> Result<(), BridgeError> {
    let user = bridge.store.bridge_user(owner.as_str()).await?;
    let Some(space) = user.space_room_id.and_then(|r| RoomId::parse(r).ok()) else {
        return Ok(());
    };
    // Empty content (no `via`) removes the child (spec: `m.space.child`).
    let empty = Raw::from_json(
        serde_json::value::to_raw_value(&serde_json::json!({}))
            .map_err(|e| BridgeError::Serialize(e.to_string()))?,
    );
    let request = send_state_event::v3::Request::new_raw(
        space,
        StateEventType::SpaceChild,
        portal.to_string(),
        empty,
    );
    bridge.bot.send(request).await?;
    Ok(())
}

async fn set_child(
    bridge: &Bridge,
    space: &RoomId,
    portal: &RoomId,
    content: &SpaceChildEventContent,
) -> Result<(), BridgeError> {
    let request = send_state_event::v3::Request::new(space.to_owned(), &portal.to_owned(), content)
        .map_err(|e| BridgeError::Serialize(e.to_string()))?;
    bridge.bot.send(request).await?;
    Ok(())
}
