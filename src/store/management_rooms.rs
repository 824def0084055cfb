//! The `management_rooms` table: the room in which each Matrix user talks to the bot.

use super::{Store, StoreError, db::args, now_ms, on_db};

impl Store {
    /// Records `room_id` as `user_id`'s management room, replacing an earlier one.
    pub async fn set_management_room(
        &self,
        user_id: &str,
        room_id: &str,
    ) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO management_rooms (user_id, room_id, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id, created_at = excluded.created_at",
                args![user_id, room_id, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn management_room(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(String,)>(
                "SELECT room_id FROM management_rooms WHERE user_id = $1",
                args![user_id],
            )
            .await?
        });
        Ok(row.map(|(room_id,)| room_id))
    }
}
