//! The `portals` table: which Matrix room stands for which gatekeeper chat of which user.

use super::{Store, StoreError, db::args, now_ms, on_db};

/// One portal: `owner`'s chat with `remote_chat`, shown as `room_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalRow {
    pub owner: String,
    pub remote_chat: String,
    pub room_id: String,
    /// Whether other Matrix users in the room may write through the owner's login.
    pub relay: bool,
}

type Columns = (String, String, String, bool);

fn portal_from((owner, remote_chat, room_id, relay): Columns) -> PortalRow {
    PortalRow { owner, remote_chat, room_id, relay }
}

impl Store {
    pub async fn portal(
        &self,
        owner: &str,
        remote_chat: &str,
    ) -> Result<Option<PortalRow>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<Columns>(
                "SELECT owner, remote_chat, room_id, relay FROM portals WHERE owner = $1 AND remote_chat = $2",
                args![owner, remote_chat],
            )
            .await?
            .map(portal_from)
        }))
    }

    pub async fn portal_by_room(&self, room_id: &str) -> Result<Option<PortalRow>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<Columns>(
                "SELECT owner, remote_chat, room_id, relay FROM portals WHERE room_id = $1",
                args![room_id],
            )
            .await?
            .map(portal_from)
        }))
    }

    /// Every portal of `owner`, oldest first.
    pub async fn portals_of(&self, owner: &str) -> Result<Vec<PortalRow>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_all_as::<Columns>(
                "SELECT owner, remote_chat, room_id, relay FROM portals WHERE owner = $1 ORDER BY created_at",
                args![owner],
            )
            .await?
            .into_iter()
            .map(portal_from)
            .collect()
        }))
    }

    pub async fn insert_portal(&self, portal: &PortalRow) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO portals (owner, remote_chat, room_id, created_at) VALUES ($1, $2, $3, $4)",
                args![&portal.owner, &portal.remote_chat, &portal.room_id, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn set_portal_relay(&self, room_id: &str, relay: bool) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute("UPDATE portals SET relay = $2 WHERE room_id = $1", args![room_id, relay])
                .await?;
        });
        Ok(())
    }

    /// Forgets a portal whose room is gone (the user left it for good).
    pub async fn delete_portal(&self, owner: &str, remote_chat: &str) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "DELETE FROM portals WHERE owner = $1 AND remote_chat = $2",
                args![owner, remote_chat],
            )
            .await?;
        });
        Ok(())
    }
}
