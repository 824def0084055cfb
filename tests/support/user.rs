//! A test user: a real Matrix client, built on the bridge's own `MatrixClient`.
//!
//! Tests play the human at the Matrix end with it: create and join rooms, invite, send
//! messages. Everything is a typed ruma request; [`TestUser::client`] sends any other endpoint
//! (reactions, redactions, typing, receipts) the same way. Receiving lives in `sync.rs`.

use anyhow::Context;
use interop_bridge::matrix::MatrixClient;
use ruma::{
    OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, TransactionId, UserId,
    api::client::{
        membership::{
            invite_user::{self, v3::InviteUserId},
            join_room_by_id, leave_room,
        },
        message::send_message_event,
        room::create_room::{self, v3::RoomPreset},
    },
    events::{MessageLikeEventContent, room::message::RoomMessageEventContent},
};

use super::sync::SyncState;

/// A registered user with its own access token and `/sync` position.
pub struct TestUser {
    client: MatrixClient,
    user_id: OwnedUserId,
    pub(super) sync: SyncState,
}

impl std::fmt::Debug for TestUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No access token here: Debug output ends up in test logs.
        f.debug_struct("TestUser").field("user_id", &self.user_id).finish_non_exhaustive()
    }
}

impl TestUser {
    pub(super) fn new(
        http: &reqwest::Client,
        homeserver: &str,
        user_id: OwnedUserId,
        access_token: &str,
    ) -> Self {
        Self {
            client: MatrixClient::new(http.clone(), homeserver, access_token),
            user_id,
            sync: SyncState::default(),
        }
    }

    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The client, for any endpoint this type has no shortcut for.
    pub fn client(&self) -> &MatrixClient {
        &self.client
    }

    /// Creates a private room inviting `invite`; `is_direct` makes it a DM (as Element does).
    pub async fn create_room(
        &self,
        invite: &[&UserId],
        is_direct: bool,
    ) -> anyhow::Result<OwnedRoomId> {
        let mut request = create_room::v3::Request::new();
        request.invite = invite.iter().map(|user| (*user).to_owned()).collect();
        request.is_direct = is_direct;
        request.preset =
            Some(if is_direct { RoomPreset::TrustedPrivateChat } else { RoomPreset::PrivateChat });
        let response = self
            .client
            .send(request)
            .await
            .with_context(|| format!("{} creating a room", self.user_id))?;
        Ok(response.room_id)
    }

    pub async fn join(&self, room: &RoomId) -> anyhow::Result<()> {
        self.client
            .send(join_room_by_id::v3::Request::new(room.to_owned()))
            .await
            .with_context(|| format!("{} joining {room}", self.user_id))?;
        Ok(())
    }

    pub async fn leave(&self, room: &RoomId) -> anyhow::Result<()> {
        self.client
            .send(leave_room::v3::Request::new(room.to_owned()))
            .await
            .with_context(|| format!("{} leaving {room}", self.user_id))?;
        Ok(())
    }

    pub async fn invite(&self, room: &RoomId, user: &UserId) -> anyhow::Result<()> {
        let recipient = InviteUserId::new(user.to_owned()).into();
        self.client
            .send(invite_user::v3::Request::new(room.to_owned(), recipient))
            .await
            .with_context(|| format!("{} inviting {user} to {room}", self.user_id))?;
        Ok(())
    }

    /// Sends a plain-text `m.room.message` and returns its event id.
    pub async fn send_text(&self, room: &RoomId, body: &str) -> anyhow::Result<OwnedEventId> {
        self.send(room, &RoomMessageEventContent::text_plain(body)).await
    }

    /// Sends any message-like event (a reply, an edit, a reaction…) and returns its event id.
    pub async fn send<C: MessageLikeEventContent>(
        &self,
        room: &RoomId,
        content: &C,
    ) -> anyhow::Result<OwnedEventId> {
        let request =
            send_message_event::v3::Request::new(room.to_owned(), TransactionId::new(), content)?;
        let response = self.client.send(request).await.with_context(|| {
            format!("{} sending {} to {room}", self.user_id, content.event_type())
        })?;
        Ok(response.event_id)
    }
}
