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
