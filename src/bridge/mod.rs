//! The bridge itself: what happens to the events the homeserver pushes.
//!
//! Stored transactions are taken in arrival order by the [`processor`], split into events, and
//! each event goes to the part of the bridge that owns it: the [`bot`] for invites and commands.
//! Portals and the gatekeeper side join here as they arrive.

mod bot;
pub mod processor;
pub mod transaction;

use std::{sync::Arc, time::Instant};

use ruma::{
    OwnedTransactionId, RoomId, UserId, api::client::message::send_message_event,
    events::room::message::RoomMessageEventContent,
};
use sha2::{Digest, Sha256};

use crate::{
    config::{Config, PermissionLevel},
    matrix::{Ghosts, MatrixClient, MatrixError},
    store::Store,
};

/// Everything the event handlers need, shared by reference.
pub struct Bridge {
    pub config: Arc<Config>,
    pub store: Store,
    /// The client acting as the bridge bot.
    pub bot: MatrixClient,
    pub bot_user_id: ruma::OwnedUserId,
    pub ghosts: Ghosts,
    pub started_at: Instant,
}

impl Bridge {
    pub fn permission_level(&self, user_id: &UserId) -> PermissionLevel {
        self.config.bridge.permissions.level_of(user_id.as_str())
    }

    /// Whether `user_id` is the bot or one of our ghosts: their events are ours, not to bridge.
    pub fn is_own_user(&self, user_id: &UserId) -> bool {
        user_id == self.bot_user_id
            || (user_id.server_name().as_str() == self.config.homeserver.domain
                && self.config.bridge.username_template.id_of(user_id.localpart()).is_some())
    }

    /// Sends an `m.notice` as the bot. `dedupe_key` makes the `txnId`, so a replay after a
    /// crash sends the same notice once, not twice.
    pub async fn send_bot_notice(
        &self,
        room_id: &RoomId,
        content: RoomMessageEventContent,
        dedupe_key: &str,
    ) -> Result<(), MatrixError> {
        let request = send_message_event::v3::Request::new(
            room_id.to_owned(),
            txn_id_for(dedupe_key),
            &content,
        )
        .map_err(|e| MatrixError::Deserialize(e.to_string()))?;
        self.bot.send(request).await?;
        Ok(())
    }
}

/// A deterministic transaction id for a homeserver send, derived from what caused it.
pub fn txn_id_for(dedupe_key: &str) -> OwnedTransactionId {
    let digest = Sha256::digest(dedupe_key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("ib{hex}").into()
}

#[cfg(test)]
mod tests {
    use super::txn_id_for;

    #[test]
    fn txn_ids_are_stable_and_distinct() {
        assert_eq!(txn_id_for("$a:help"), txn_id_for("$a:help"));
        assert_ne!(txn_id_for("$a:help"), txn_id_for("$b:help"));
    }
}
