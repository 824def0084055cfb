//! The `bridge_users` table: what each Matrix user chose (inbox mode, its Space) and whether
//! they accepted the notice shown before the first login.

use super::{Store, StoreError, db::args, now_ms, on_db};

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
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(String, Option<String>, Option<i64>)>(
                "SELECT inbox, space_room_id, notice_accepted_at FROM bridge_users WHERE user_id = $1",
                args![user_id],
            )
            .await?
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
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO bridge_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING",
                args![user_id],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn accept_login_notice(&self, user_id: &str) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_db!(self, |db| {
            db.execute(
                "UPDATE bridge_users SET notice_accepted_at = $2 WHERE user_id = $1",
                args![user_id, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn set_inbox_mode(&self, user_id: &str, mode: InboxMode) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_db!(self, |db| {
            db.execute(
                "UPDATE bridge_users SET inbox = $2 WHERE user_id = $1",
                args![user_id, mode.as_str()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn set_space_room(&self, user_id: &str, room_id: &str) -> Result<(), StoreError> {
        self.ensure_bridge_user(user_id).await?;
        on_db!(self, |db| {
            db.execute(
                "UPDATE bridge_users SET space_room_id = $2 WHERE user_id = $1",
                args![user_id, room_id],
            )
            .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Whether the once-only notice `key` was shown already.
    pub async fn notice_sent(&self, key: &str) -> Result<bool, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional("SELECT 1 FROM notices_sent WHERE dedupe_key = $1", args![key])
                .await?
                .is_some()
        }))
    }

    pub async fn mark_notice_sent(&self, key: &str) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO notices_sent (dedupe_key, sent_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                args![key, now_ms()],
            )
            .await?;
        });
        Ok(())
    }
}
