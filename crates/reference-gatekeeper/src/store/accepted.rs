//! Message ids already accepted, for idempotent resends.

use rusqlite::params;

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
        self.run(|db| {
            let tx = db.transaction()?;
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO accepted (sender, id, retry_count, recipient, timestamp_ms)
                     VALUES (?, ?, ?, ?, ?)",
                )?
                .execute(params![sender, id, retry_count as i64, to, now_ms as i64])?;
            if inserted == 0 {
                let first: String = tx
                    .prepare_cached(
                        "SELECT recipient FROM accepted WHERE sender = ? AND id = ? AND retry_count = ?",
                    )?
                    .query_row(params![sender, id, retry_count as i64], |r| r.get(0))?;
                return Ok(Some(first));
            }
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO mailbox (recipient, class, peer, stanza_id, frame, expires_ms)
                     VALUES (?, ?, ?, ?, ?, ?)",
                )?;
                for c in copies {
                    insert.execute(params![
                        c.recipient,
                        MailboxClass::Message as i64,
                        c.peer,
                        id,
                        &c.frame,
                        c.expires_ms as i64
                    ])?;
                }
            }
            tx.commit()?;
            Ok(None)
        })
        .await
    }

    /// Forgets ids older than `before_ms` (they can no longer be resent).
    pub async fn prune_accepted(&self, before_ms: u64) -> Result<u64> {
        self.run(|db| {
            Ok(db
                .prepare_cached("DELETE FROM accepted WHERE timestamp_ms < ?")?
                .execute(params![before_ms as i64])? as u64)
        })
        .await
    }
}
