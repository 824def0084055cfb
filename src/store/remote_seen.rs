//! The `remote_seen` table: which gatekeeper stanzas a login has already handled.
//!
//! The gatekeeper redelivers anything it did not hear was received, so a stanza can arrive
//! twice (a crash between storing it and confirming it). Rows are written together with the
//! encryption state (`Store::save_olm_state`); here are the reads and the clean-up.

use super::{Store, StoreError, db::args, on_db};

impl Store {
    /// Whether the stanza `(sender, id)` was already handled for this login.
    pub async fn remote_seen(
        &self,
        matrix_user_id: &str,
        sender: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_optional(
                "SELECT 1 FROM remote_seen WHERE matrix_user_id = $1 AND sender = $2 \
                 AND message_id = $3",
                args![matrix_user_id, sender, id],
            )
            .await?
            .is_some()
        }))
    }

    /// Forgets records older than `before_ms`: the gatekeeper's mailbox keeps nothing longer
    /// than 30 days, so older records can no longer meet a redelivery.
    pub async fn prune_remote_seen(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(on_db!(self, |db| {
            db.execute("DELETE FROM remote_seen WHERE seen_at < $1", args![before_ms]).await?
        }))
    }

    pub async fn remote_seen_count(&self, matrix_user_id: &str) -> Result<i64, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_scalar::<i64>(
                "SELECT COUNT(*) FROM remote_seen WHERE matrix_user_id = $1",
                args![matrix_user_id],
            )
            .await?
        }))
    }
}
