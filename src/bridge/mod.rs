//! The bridge itself: portals, ghosts and logins, and the routing of events both ways.
//!
//! From Matrix: stored transactions are taken in arrival order by the [`processor`]; commands
//! and invites go to the [`bot`], portal events into the portal's queue ([`queue`]), typing and
//! receipts straight to the gatekeeper ([`ephemeral`]). A transaction of plain portal traffic
//! is queued as it is stored instead, at the [`door`]. From the gatekeeper: each login's events
//! arrive at [`remote_events`], which stores them in the same portal queues. A portal's workers
//! (one per direction) apply its queue in order through [`dispatch`]: [`to_remote`] for Matrix
//! events, [`to_matrix`] for gatekeeper events; their homeserver sends go through [`once`],
//! which keeps a replay after a crash from posting an event twice (`docs/reliability.md`).

mod bot;
pub mod cache;
pub mod catch_up;
mod dispatch;
pub mod door;
pub mod ephemeral;
pub mod logins;
pub mod mappings;
mod media;
mod once;
mod portal;
pub mod processor;
pub mod profile;
pub mod queue;
pub mod remote_events;
pub mod space;
mod to_matrix;
mod to_remote;
pub mod transaction;
pub mod work;

use std::{sync::Arc, time::Instant};

use ruma::{
    OwnedTransactionId, RoomId, UserId, api::client::message::send_message_event,
    events::room::message::RoomMessageEventContent,
};
use sha2::{Digest, Sha256};

use crate::{
    config::{Config, PermissionLevel},
    gatekeeper::{GatekeeperConnector, GatekeeperError},
    matrix::{GhostError, Ghosts, MatrixClient, MatrixError},
    store::{Store, StoreError},
};

pub use portal::Portal;

/// Everything the event handlers need, shared by reference.
pub struct Bridge {
    pub config: Arc<Config>,
    pub store: Store,
    /// The client acting as the bridge bot.
    pub bot: MatrixClient,
    pub bot_user_id: ruma::OwnedUserId,
    pub ghosts: Ghosts,
    pub started_at: Instant,
    /// Plain HTTP, for avatars and media outside the homeserver.
    pub http: reqwest::Client,
    pub connector: Arc<dyn GatekeeperConnector>,
    pub logins: logins::Logins,
    pub queues: queue::PortalQueues,
    /// Whether each portal's owner is typing now, by room, so only changes are sent.
    pub typing: std::sync::Mutex<std::collections::HashMap<String, bool>>,
    /// Whether the homeserver may have dropped events that need catching up on.
    pub catch_up: catch_up::CatchUp,
    /// Ghost profiles known fresh, so that messages need not read them.
    pub fresh_profiles: profile::FreshProfiles,
    /// Portals and management rooms, so that messages need not read them.
    pub rows: cache::RowCache,
    /// Bridged messages whose record is stored with their item's finish.
    pub mappings: mappings::UnsavedMappings,
}

/// Why bridging one event failed.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    #[error(transparent)]
    Gatekeeper(#[from] GatekeeperError),
    #[error("not a valid gatekeeper id: {0}")]
    BadRemoteId(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(&'static str),
    #[error("cannot serialise: {0}")]
    Serialize(String),
    /// The message an item refers to is not recorded yet, and may be after older work of the
    /// other direction ([`Bridge::target_may_come`]).
    #[error("the message it refers to may still be recorded by earlier work from the other side")]
    TargetPending,
}

impl From<GhostError> for BridgeError {
    fn from(error: GhostError) -> Self {
        match error {
            GhostError::Matrix(e) => BridgeError::Matrix(e),
            GhostError::Store(e) => BridgeError::Store(e),
        }
    }
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
