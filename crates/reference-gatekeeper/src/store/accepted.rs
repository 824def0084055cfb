//! Message ids already accepted, for idempotent resends.

use super::{MailboxClass, Result, Store};

/// One queued copy of an accepted message.
#[derive(Debug)]
pub struct NewEntry<'a> {
    pub recipient: &'a str,
    /// The delivered stanza's `from` (the sender, or the group).
    pub peer: &'a str,
    pub frame: Vec<u8>,
    pub expires_ms: u64,
}

impl Store {
    /// Records the id and queues the copies in one transaction, so a crash
    /// can neither lose an accepted message nor queue an unaccepted one.
    /// Returns the first recipient, and queues nothing, for a duplicate.
    pub async fn accept_and_enqueue(
        &self,
        sender: &str,
        id: &str,
        retry_count: u32,
        to: &str,
        now_ms: u64,
        copies: &[NewEntry<'_>],
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO accepted (sender, id, retry_count, recipient, timestamp_ms)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(sender)
        .bind(id)
        .bind(retry_count as i64)
        .bind(to)
        .bind(now_ms as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let first: String = sqlx::query_scalar(
                "SELECT recipient FROM accepted WHERE sender = ? AND id = ? AND retry_count = ?",
            )
            .bind(sender)
            .bind(id)
            .bind(retry_count as i64)
            .fetch_one(&mut *tx)
            .await?;
            return Ok(Some(first));
        }
        for c in copies {
            sqlx::query(
                "INSERT INTO mailbox (recipient, class, peer, stanza_id, frame, expires_ms)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(c.recipient)
            .bind(MailboxClass::Message as i64)
            .bind(c.peer)
            .bind(id)
            .bind(&c.frame)
            .bind(c.expires_ms as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    /// Forgets ids older than `before_ms` (they can no longer be resent).
    pub async fn prune_accepted(&self, before_ms: u64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM accepted WHERE timestamp_ms < ?")
            .bind(before_ms as i64)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
