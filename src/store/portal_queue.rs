//! The `portal_queue` table: each portal's work, each direction in its own order.
//!
//! Work is stored before the homeserver or the gatekeeper hears it arrived, and marked done
//! only once it took effect, so a crash in between replays it (the sends are idempotent).
//! The `dedupe_key` makes a redelivered event a no-op. The `attempts` column is no longer
//! written: which items are replays is known without it (see `bridge::queue`).

use super::{
    MessageRow, Store, StoreError,
    db::{Db, Value, args},
    in_transaction, now_ms, on_db,
};

/// Which way a piece of portal work goes. Each direction of a portal is applied in its own
/// order, so that a backlog one way does not hold up the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A Matrix event, to the gatekeeper.
    ToRemote,
    /// From the gatekeeper (or opening the portal), to Matrix.
    ToMatrix,
}

impl Direction {
    /// The other way.
    pub fn other(self) -> Self {
        match self {
            Direction::ToRemote => Direction::ToMatrix,
            Direction::ToMatrix => Direction::ToRemote,
        }
    }

    /// The `to_matrix` column's value.
    fn to_matrix(self) -> bool {
        self == Direction::ToMatrix
    }

    fn from_column(to_matrix: bool) -> Self {
        if to_matrix { Direction::ToMatrix } else { Direction::ToRemote }
    }
}

/// One stored piece of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedWork {
    pub seq: i64,
    pub owner: String,
    pub remote_chat: String,
    pub direction: Direction,
    pub dedupe_key: String,
    pub payload: String,
}

/// Work to queue with [`Store::queue_portal_work`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPortalWork {
    pub owner: String,
    pub remote_chat: String,
    pub direction: Direction,
    pub dedupe_key: String,
    pub payload: String,
}

type Columns = (i64, String, String, bool, String, String);

fn work_from((seq, owner, remote_chat, to_matrix, dedupe_key, payload): Columns) -> QueuedWork {
    let direction = Direction::from_column(to_matrix);
    QueuedWork { seq, owner, remote_chat, direction, dedupe_key, payload }
}

/// Inserts work, in order, skipping what was queued before (same `dedupe_key`); returns how
/// many items were newly queued. Every way work is stored goes through here.
pub(super) async fn insert_work(
    db: &mut Db<'_>,
    work: &[NewPortalWork],
    now: i64,
) -> Result<u64, StoreError> {
    let mut queued = 0;
    for rows in super::statement_chunks(work) {
        let sql = format!(
            "INSERT INTO portal_queue
               (owner, remote_chat, to_matrix, dedupe_key, payload, created_at)
             VALUES {} ON CONFLICT (dedupe_key) DO NOTHING",
            super::values_list(rows.len(), 6)
        );
        let values: Vec<Value> = rows
            .iter()
            .flat_map(|w| {
                [
                    w.owner.as_str().into(),
                    w.remote_chat.as_str().into(),
                    w.direction.to_matrix().into(),
                    w.dedupe_key.as_str().into(),
                    w.payload.as_str().into(),
                    now.into(),
                ]
            })
            .collect();
        queued += db.execute(&sql, &values).await?;
    }
    Ok(queued)
}

impl Store {
    /// Queues work for the portal `(owner, remote_chat)`. Returns false if work with the same
    /// `dedupe_key` was queued before (done or not).
    pub async fn enqueue_portal_work(
        &self,
        owner: &str,
        remote_chat: &str,
        direction: Direction,
        dedupe_key: &str,
        payload: &str,
    ) -> Result<bool, StoreError> {
        let work = NewPortalWork {
            owner: owner.to_owned(),
            remote_chat: remote_chat.to_owned(),
            direction,
            dedupe_key: dedupe_key.to_owned(),
            payload: payload.to_owned(),
        };
        Ok(self.queue_portal_work(&[work], &[]).await? == 1)
    }

    /// Queues work, in order, and marks the homeserver transactions it came from processed
    /// (if it came from any), in one commit: should the bridge stop before it, the batch is
    /// processed again in full; after it, nothing of it is. Work queued before (same
    /// `dedupe_key`) is not queued again. Returns how many items were newly queued.
    pub async fn queue_portal_work(
        &self,
        work: &[NewPortalWork],
        processed_transactions: &[i64],
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        Ok(in_transaction!(self, |db| {
            let queued = insert_work(&mut db, work, now).await?;
            let (table, column) = ("appservice_transactions", "processed_at");
            super::stamp_now(&mut db, table, column, processed_transactions).await?;
            queued
        }))
    }

    /// Up to `limit` of the oldest unfinished work of one portal's direction, in order.
    pub async fn pending_portal_work(
        &self,
        owner: &str,
        remote_chat: &str,
        direction: Direction,
        limit: i64,
    ) -> Result<Vec<QueuedWork>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_all_as::<Columns>(
                "SELECT seq, owner, remote_chat, to_matrix, dedupe_key, payload FROM portal_queue
                 WHERE owner = $1 AND remote_chat = $2 AND to_matrix = $3 AND done_at IS NULL
                 ORDER BY seq LIMIT $4",
                args![owner, remote_chat, direction.to_matrix(), limit],
            )
            .await?
            .into_iter()
            .map(work_from)
            .collect()
        }))
    }

    /// Whether one portal's direction has unfinished work queued before `seq`.
    pub async fn has_portal_work_before(
        &self,
        owner: &str,
        remote_chat: &str,
        direction: Direction,
        seq: i64,
    ) -> Result<bool, StoreError> {
        let found = on_db!(self, |db| {
            db.fetch_optional_as::<(i64,)>(
                "SELECT seq FROM portal_queue
                 WHERE owner = $1 AND remote_chat = $2 AND to_matrix = $3 AND done_at IS NULL
                   AND seq < $4
                 ORDER BY seq LIMIT 1",
                args![owner, remote_chat, direction.to_matrix(), seq],
            )
            .await?
        });
        Ok(found.is_some())
    }

    /// Marks the items `done` done and records the messages they bridged, in one commit
    /// (none when there is nothing to write).
    pub async fn finish_portal_work(
        &self,
        done: &[i64],
        bridged: &[MessageRow],
    ) -> Result<(), StoreError> {
        if done.is_empty() && bridged.is_empty() {
            return Ok(());
        }
        if let Store::Postgres(pool) = self {
            return super::one_statement::finish_portal_work(pool, done, bridged, now_ms()).await;
        }
        in_transaction!(self, |db| {
            super::stamp_now(&mut db, "portal_queue", "done_at", done).await?;
            super::messages::insert_messages(&mut db, bridged).await?;
        });
        Ok(())
    }

    /// The newest work's `seq` (0 for none): work up to it was queued before this start, and
    /// the last run may have applied it in part.
    pub async fn last_portal_work_seq(&self) -> Result<i64, StoreError> {
        let last = on_db!(self, |db| {
            db.fetch_optional_as::<(i64,)>(
                "SELECT seq FROM portal_queue ORDER BY seq DESC LIMIT 1",
                args![],
            )
            .await?
        });
        Ok(last.map_or(0, |(seq,)| seq))
    }

    /// Every portal and direction with unfinished work (to restart their workers after a
    /// restart).
    pub async fn portals_with_pending_work(
        &self,
    ) -> Result<Vec<(String, String, Direction)>, StoreError> {
        let rows = on_db!(self, |db| {
            db.fetch_all_as::<(String, String, bool)>(
                "SELECT DISTINCT owner, remote_chat, to_matrix FROM portal_queue
                 WHERE done_at IS NULL",
                args![],
            )
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(owner, chat, to_matrix)| (owner, chat, Direction::from_column(to_matrix)))
            .collect())
    }

    /// Every portal with work queued since `since_ms` (to catch up on).
    pub async fn portals_active_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_all_as::<(String, String)>(
                "SELECT DISTINCT owner, remote_chat FROM portal_queue WHERE created_at >= $1",
                args![since_ms],
            )
            .await?
        }))
    }

    /// Forgets finished work older than `keep_ms`; its dedupe key goes with it, which is safe
    /// because redeliveries come within minutes, not days.
    pub async fn prune_portal_work(&self, keep_ms: i64) -> Result<u64, StoreError> {
        Ok(on_db!(self, |db| {
            db.execute(
                "DELETE FROM portal_queue WHERE done_at IS NOT NULL AND done_at < $1",
                args![now_ms() - keep_ms],
            )
            .await?
        }))
    }
}
