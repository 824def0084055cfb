//! The `ghosts` table: which ghost users are registered on the homeserver.

use super::{Store, StoreError, db::args, now_ms, on_db};

impl Store {
    pub async fn ghost_registered(&self, user_id: &str) -> Result<bool, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional("SELECT 1 FROM ghosts WHERE user_id = $1", args![user_id])
                .await?
                .is_some()
        });
        Ok(row)
    }

    pub async fn insert_ghost(&self, user_id: &str) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO ghosts (user_id, registered_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
                args![user_id, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn ghost_count(&self) -> Result<i64, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_scalar::<i64>("SELECT COUNT(*) FROM ghosts", args![]).await?
        }))
    }
}

/// A ghost's profile as last set on the homeserver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GhostProfile {
    pub displayname: Option<String>,
    /// The gatekeeper's avatar URL the Matrix avatar was made from.
    pub avatar_source: Option<String>,
    pub synced_at: Option<i64>,
}

impl Store {
    pub async fn ghost_profile(&self, user_id: &str) -> Result<GhostProfile, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(Option<String>, Option<String>, Option<i64>)>(
                "SELECT displayname, avatar_source, profile_synced_at FROM ghosts WHERE user_id = $1",
                args![user_id],
            )
            .await?
        });
        Ok(row
            .map(|(displayname, avatar_source, synced_at)| GhostProfile {
                displayname,
                avatar_source,
                synced_at,
            })
            .unwrap_or_default())
    }

    pub async fn set_ghost_profile(
        &self,
        user_id: &str,
        displayname: &str,
        avatar_source: Option<&str>,
        avatar_url: Option<&str>,
    ) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "UPDATE ghosts SET displayname = $2, avatar_source = $3,
                 avatar_url = COALESCE($4, avatar_url), profile_synced_at = $5 WHERE user_id = $1",
                args![user_id, displayname, avatar_source, avatar_url, now_ms()],
            )
            .await?;
        });
        Ok(())
    }
}
