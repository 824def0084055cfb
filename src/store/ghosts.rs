//! The `ghosts` table: which ghost users are registered on the homeserver.

use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

impl Store {
    pub async fn ghost_registered(&self, user_id: &str) -> Result<bool, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query("SELECT 1 FROM ghosts WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
                .is_some()
        });
        Ok(row)
    }

    pub async fn insert_ghost(&self, user_id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("INSERT INTO ghosts (user_id, registered_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
                .bind(user_id)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn ghost_count(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("SELECT COUNT(*) FROM ghosts")
                .fetch_one(pool)
                .await?
                .try_get::<i64, _>(0)?
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
        let row = on_pool!(self, |pool| {
            sqlx::query_as::<_, (Option<String>, Option<String>, Option<i64>)>(
                "SELECT displayname, avatar_source, profile_synced_at FROM ghosts WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
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
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE ghosts SET displayname = $2, avatar_source = $3,
                 avatar_url = COALESCE($4, avatar_url), profile_synced_at = $5 WHERE user_id = $1",
            )
            .bind(user_id)
            .bind(displayname)
            .bind(avatar_source)
            .bind(avatar_url)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
