//! The `bridge_users` table: what each Matrix user chose (inbox mode, its Space) and whether
//! they accepted the notice shown before the first login.

use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// Where a user's portals appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxMode {
    /// Gathered in a personal Space named after the gatekeeper.
    Separate,
    /// Plain direct chats, no Space.
    Combined,
}

impl InboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxMode::Separate => "separate",
            InboxMode::Combined => "combined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "separate" => Some(InboxMode::Separate),
            "combined" => Some(InboxMode::Combined),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeUser {
    pub inbox: InboxMode,
    pub space_room_id: Option<String>,
    pub notice_accepted: bool,
}

impl Default for BridgeUser {
    fn default() -> Self {
        Self { inbox: InboxMode::Separate, space_room_id: None, notice_accepted: false }
    }
}

impl Store {
    /// The user's settings; defaults for a user never seen.
    pub async fn bridge_user(&self, user_id: &str) -> Result<BridgeUser, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query(
                "SELECT inbox, space_room_id, notice_accepted_at FROM bridge_users WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(pool)
            .await?
            .map(|row| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<Option<String>, _>(1)?,
                    row.try_get::<Option<i64>, _>(2)?,
                ))
            })
            .transpose()?
        });
        Ok(match row {
            None => BridgeUser::default(),
            Some((inbox, space_room_id, accepted)) => BridgeUser {
                inbox: InboxMode::parse(&inbox).unwrap_or(InboxMode::Separate),
                space_room_id,
                notice_accepted: accepted.is_some(),
            },
        })
    }

    async fn ensure_bridge_user(&self, user_id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("INSERT INTO bridge_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn accept_login_notice(&self, user_id: &str) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_pool!(self, |pool| {
            sqlx::query("UPDATE bridge_users SET notice_accepted_at = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn set_inbox_mode(&self, user_id: &str, mode: InboxMode) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_pool!(self, |pool| {
            sqlx::query("UPDATE bridge_users SET inbox = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(mode.as_str())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn set_space_room(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_pool!(self, |pool| {
            sqlx::query("UPDATE bridge_users SET space_room_id = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(room_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Whether the once-only notice `key` was shown already.
    pub async fn notice_sent(&self, key: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("SELECT 1 FROM notices_sent WHERE dedupe_key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
                .is_some()
        }))
    }

    pub async fn mark_notice_sent(&self, key: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO notices_sent (dedupe_key, sent_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(key)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
