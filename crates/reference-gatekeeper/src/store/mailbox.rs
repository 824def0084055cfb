//! The `mailbox` table: queued stanzas per recipient, in arrival order.

use rusqlite::params;

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
        self.run(|db| {
            Ok(db
                .prepare_cached(
                    "INSERT INTO mailbox (recipient, class, peer, stanza_id, frame, expires_ms)
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
                )?
                .query_row(
                    params![recipient, class as i64, peer, stanza_id, frame, expires_ms as i64],
                    |r| r.get(0),
                )?)
        })
        .await
    }

    /// Entries after `after_seq`, oldest first, at most `limit`.
    pub async fn mailbox_after(
        &self,
        recipient: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<MailboxEntry>> {
        self.run(|db| {
            let mut statement = db.prepare_cached(
                "SELECT seq, class, frame FROM mailbox WHERE recipient = ? AND seq > ?
                 ORDER BY seq LIMIT ?",
            )?;
            let rows = statement.query_map(params![recipient, after_seq, limit], |r| {
                Ok(MailboxEntry { seq: r.get(0)?, class: r.get(1)?, frame: r.get(2)? })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Number of entries and the highest sequence number now queued.
    pub async fn mailbox_status(&self, recipient: &str) -> Result<(u32, i64)> {
        let (n, top): (i64, i64) = self
            .run(|db| {
                Ok(db
                    .prepare_cached(
                        "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM mailbox WHERE recipient = ?",
                    )?
                    .query_row(params![recipient], |r| Ok((r.get(0)?, r.get(1)?)))?)
            })
            .await?;
        Ok((n as u32, top))
    }

    /// Removes acknowledged messages (by a DELIVERED receipt) from `peer`.
    pub async fn remove_messages(&self, recipient: &str, peer: &str, ids: &[String]) -> Result<()> {
        self.run(|db| {
            let mut delete = db.prepare_cached(
                "DELETE FROM mailbox WHERE recipient = ? AND peer = ? AND stanza_id = ? AND class = 1",
            )?;
            for id in ids {
                delete.execute(params![recipient, peer, id])?;
            }
            Ok(())
        })
        .await
    }

    /// Removes the oldest matching receipt or notification (acks come in delivery order).
    pub async fn remove_acked(
        &self,
        recipient: &str,
        class: MailboxClass,
        peer: Option<&str>,
        id: &str,
    ) -> Result<()> {
        self.run(|db| {
            db.prepare_cached(
                "DELETE FROM mailbox WHERE seq = (SELECT seq FROM mailbox WHERE recipient = ?1 AND class = ?2
                   AND stanza_id = ?3 AND (?4 IS NULL OR peer = ?4) ORDER BY seq LIMIT 1)",
            )?
            .execute(params![recipient, class as i64, id, peer])?;
            Ok(())
        })
        .await
    }

    /// Deletes expired entries; returns how many.
    pub async fn expire_mailbox(&self, now_ms: u64) -> Result<u64> {
        self.run(|db| {
            Ok(db
                .prepare_cached("DELETE FROM mailbox WHERE expires_ms <= ?")?
                .execute(params![now_ms as i64])? as u64)
        })
        .await
    }
}

impl Store {
    /// Partner users who have something waiting (to push them after a restart).
    pub async fn partner_users_with_mail(&self) -> Result<Vec<String>> {
        self.strings("SELECT DISTINCT recipient FROM mailbox WHERE recipient LIKE '%@interop'", [])
            .await
    }
}
