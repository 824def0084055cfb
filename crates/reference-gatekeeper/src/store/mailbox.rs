//! The `mailbox` table: queued stanzas per recipient, in arrival order.

use sqlx::Row;

use super::{Result, Store};

/// What kind of stanza an entry holds, which decides how it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxClass {
    /// Removed by the recipient's `receipt DELIVERED`.
    Message = 1,
    /// Removed by `ack` class RECEIPT.
    Receipt = 2,
    /// Removed by `ack` class NOTIFICATION.
    Notification = 3,
}

#[derive(Debug, Clone)]
pub struct MailboxEntry {
    pub seq: i64,
    pub class: i64,
    pub frame: Vec<u8>,
}

impl Store {
    /// Queues an encoded frame; returns its sequence number.
    pub async fn enqueue(
        &self,
        recipient: &str,
        class: MailboxClass,
        peer: &str,
        stanza_id: &str,
        frame: &[u8],
        expires_ms: u64,
    ) -> Result<i64> {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO mailbox (recipient, class, peer, stanza_id, frame, expires_ms)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(recipient)
        .bind(class as i64)
        .bind(peer)
        .bind(stanza_id)
        .bind(frame)
        .bind(expires_ms as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(seq)
    }

    /// Entries after `after_seq`, oldest first, at most `limit`.
    pub async fn mailbox_after(
        &self,
        recipient: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<MailboxEntry>> {
        let rows = sqlx::query(
            "SELECT seq, class, frame FROM mailbox WHERE recipient = ? AND seq > ?
             ORDER BY seq LIMIT ?",
        )
        .bind(recipient)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailboxEntry {
                    seq: r.try_get("seq")?,
                    class: r.try_get("class")?,
                    frame: r.try_get("frame")?,
                })
            })
            .collect()
    }

    /// Number of entries and the highest sequence number now queued.
    pub async fn mailbox_status(&self, recipient: &str) -> Result<(u32, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS top FROM mailbox WHERE recipient = ?",
        )
        .bind(recipient)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get::<i64, _>("n")? as u32, row.try_get("top")?))
    }

    /// Removes acknowledged messages (by a DELIVERED receipt) from `peer`.
    pub async fn remove_messages(&self, recipient: &str, peer: &str, ids: &[String]) -> Result<()> {
        for id in ids {
            sqlx::query(
                "DELETE FROM mailbox WHERE recipient = ? AND peer = ? AND stanza_id = ? AND class = 1",
            )
            .bind(recipient)
            .bind(peer)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Removes the oldest matching receipt or notification (acks come in delivery order).
    pub async fn remove_acked(
        &self,
        recipient: &str,
        class: MailboxClass,
        peer: Option<&str>,
        id: &str,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM mailbox WHERE seq = (SELECT seq FROM mailbox WHERE recipient = ? AND class = ?
               AND stanza_id = ? AND (? IS NULL OR peer = ?) ORDER BY seq LIMIT 1)",
        )
        .bind(recipient)
        .bind(class as i64)
        .bind(id)
        .bind(peer)
        .bind(peer)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes expired entries; returns how many.
    pub async fn expire_mailbox(&self, now_ms: u64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM mailbox WHERE expires_ms <= ?")
            .bind(now_ms as i64)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

impl Store {
    /// Partner users who have something waiting (to push them after a restart).
    pub async fn partner_users_with_mail(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT recipient FROM mailbox WHERE recipient LIKE '%@interop'",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
