//! The `management_rooms` table: the room in which each Matrix user talks to the bot.

use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

impl Store {
    /// Records `room_id` as `user_id`'s management room, replacing an earlier one.
    pub async fn set_management_room(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO management_rooms (user_id, room_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id, created_at = excluded.created_at",
            )
            .bind(user_id)
            .bind(room_id)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn management_room(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("SELECT room_id FROM management_rooms WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get::<String, _>(0))
                .transpose()?
        }))
    }
}
