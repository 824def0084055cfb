//! The `messages` and `reactions` tables: each bridged message as a Matrix event and as a
//! gatekeeper message, so replies, reactions, edits, deletes and receipts find their target.

use super::{
    Store, StoreError,
    db::{Db, Value, args},
    now_ms, on_db,
};

/// One bridged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub room_id: String,
    pub event_id: String,
    pub owner: String,
    pub remote_chat: String,
    /// The gatekeeper id of whoever wrote it (the owner's own id for messages from Matrix).
    pub remote_sender: String,
    pub remote_id: String,
}

type MessageColumns = (String, String, String, String, String, String);

fn message_from(c: MessageColumns) -> MessageRow {
    let (room_id, event_id, owner, remote_chat, remote_sender, remote_id) = c;
    MessageRow { room_id, event_id, owner, remote_chat, remote_sender, remote_id }
}

const MESSAGE_COLUMNS: &str = "room_id, event_id, owner, remote_chat, remote_sender, remote_id";

/// A reaction in a portal, by the Matrix event that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRow {
    pub room_id: String,
    pub target_event_id: String,
    /// A Matrix user id for reactions from Matrix, a gatekeeper id for reactions from there.
    pub sender: String,
    pub emoji: String,
    pub event_id: String,
}

type ReactionColumns = (String, String, String, String, String);

fn reaction_from(
    (room_id, target_event_id, sender, emoji, event_id): ReactionColumns,
) -> ReactionRow {
    ReactionRow { room_id, target_event_id, sender, emoji, event_id }
}

/// Records bridged messages, on a connection or in a transaction already open; a second
/// record of the same message changes nothing.
pub(super) async fn insert_messages(
    db: &mut Db<'_>,
    rows: &[MessageRow],
) -> Result<(), StoreError> {
    let now = now_ms();
    for rows in super::statement_chunks(rows) {
        let sql = format!(
            "INSERT INTO messages (room_id, event_id, owner, remote_chat, remote_sender, remote_id, created_at)
             VALUES {} ON CONFLICT DO NOTHING",
            super::values_list(rows.len(), 7)
        );
        let values: Vec<Value> = rows
            .iter()
            .flat_map(|m| {
                [
                    m.room_id.as_str().into(),
                    m.event_id.as_str().into(),
                    m.owner.as_str().into(),
                    m.remote_chat.as_str().into(),
                    m.remote_sender.as_str().into(),
                    m.remote_id.as_str().into(),
                    now.into(),
                ]
            })
            .collect();
        db.execute(&sql, &values).await?;
    }
    Ok(())
}

impl Store {
    pub async fn message_by_event(
        &self,
        room_id: &str,
        event_id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND event_id = $2");
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<MessageColumns>(&sql, args![room_id, event_id])
                .await?
                .map(message_from)
        }))
    }

    pub async fn message_by_remote(
        &self,
        owner: &str,
        remote_chat: &str,
        remote_sender: &str,
        remote_id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE owner = $1 AND remote_chat = $2 AND remote_sender = $3 AND remote_id = $4"
        );
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<MessageColumns>(
                &sql,
                args![owner, remote_chat, remote_sender, remote_id],
            )
            .await?
            .map(message_from)
        }))
    }

    /// Sets (or replaces) `sender`'s reaction to a message.
    pub async fn upsert_reaction(&self, r: &ReactionRow) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO reactions (room_id, target_event_id, sender, emoji, event_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (room_id, target_event_id, sender)
                 DO UPDATE SET emoji = excluded.emoji, event_id = excluded.event_id",
                args![&r.room_id, &r.target_event_id, &r.sender, &r.emoji, &r.event_id, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn reaction_of(
        &self,
        room_id: &str,
        target_event_id: &str,
        sender: &str,
    ) -> Result<Option<ReactionRow>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<ReactionColumns>(
                "SELECT room_id, target_event_id, sender, emoji, event_id FROM reactions
                 WHERE room_id = $1 AND target_event_id = $2 AND sender = $3",
                args![room_id, target_event_id, sender],
            )
            .await?
            .map(reaction_from)
        }))
    }

    /// The reaction a Matrix event shows, if it is one.
    pub async fn reaction_by_event(
        &self,
        room_id: &str,
        event_id: &str,
    ) -> Result<Option<ReactionRow>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional_as::<ReactionColumns>(
                "SELECT room_id, target_event_id, sender, emoji, event_id FROM reactions
                 WHERE room_id = $1 AND event_id = $2",
                args![room_id, event_id],
            )
            .await?
            .map(reaction_from)
        }))
    }

    pub async fn delete_reaction(&self, room_id: &str, event_id: &str) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "DELETE FROM reactions WHERE room_id = $1 AND event_id = $2",
                args![room_id, event_id],
            )
            .await?;
        });
        Ok(())
    }
}
