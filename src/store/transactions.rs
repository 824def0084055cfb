//! The `appservice_transactions` table: the homeserver's pushes, stored before acknowledging.

use sha2::{Digest, Sha256};

use super::{
    NewPortalWork, Store, StoreError,
    db::{Db, args},
    in_transaction, now_ms, on_db,
};

/// What happened when a pushed transaction was stored.
#[derive(Debug, PartialEq, Eq)]
pub enum TransactionInsert {
    /// New: it will be processed.
    Stored,
    /// New, and processed as it was stored: its portal work was queued in the same commit
    /// ([`Store::insert_routed_transaction`]).
    Routed,
    /// The same id with the same body was stored before: a retry, not processed again.
    Duplicate,
}

/// A stored transaction waiting to be (or already) processed.
#[derive(Debug, Clone)]
pub struct StoredTransaction {
    pub seq: i64,
    pub txn_id: String,
    pub body: String,
}

impl Store {
    /// Stores a transaction body unless the identical transaction is already stored.
    pub async fn insert_transaction(
        &self,
        txn_id: &str,
        body: &str,
    ) -> Result<TransactionInsert, StoreError> {
        let result = on_db!(self, |db| insert_row(&mut db, txn_id, body, now_ms(), None).await?);
        Ok(if result == 1 { TransactionInsert::Stored } else { TransactionInsert::Duplicate })
    }

    /// Stores a transaction whose portal work is already known, and queues that work in the
    /// same commit, the transaction marked processed: one commit instead of two, and no turn
    /// through the transaction worker. Unless an earlier transaction is still unprocessed: its
    /// work has to be queued first, so this one is stored for the worker like any other
    /// ([`TransactionInsert::Stored`]), and `work` is dropped.
    pub async fn insert_routed_transaction(
        &self,
        txn_id: &str,
        body: &str,
        work: &[NewPortalWork],
    ) -> Result<TransactionInsert, StoreError> {
        let now = now_ms();
        Ok(in_transaction!(self, |db| {
            let earlier = db
                .fetch_optional_as::<(i64,)>(
                    "SELECT seq FROM appservice_transactions WHERE processed_at IS NULL LIMIT 1",
                    args![],
                )
                .await?;
            let processed_at = earlier.is_none().then_some(now);
            let inserted = insert_row(&mut db, txn_id, body, now, processed_at).await?;
            match (inserted, earlier) {
                (0, _) => TransactionInsert::Duplicate,
                (_, Some(_)) => TransactionInsert::Stored,
                (_, None) => {
                    super::portal_queue::insert_work(&mut db, work, now).await?;
                    TransactionInsert::Routed
                }
            }
        }))
    }

    /// The oldest transactions not yet processed, in the order they arrived.
    pub async fn pending_transactions(
        &self,
        limit: i64,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        self.pending_transactions_before(limit, i64::MAX).await
    }

    /// Like [`Self::pending_transactions`], only those received before `before_ms`.
    pub async fn pending_transactions_before(
        &self,
        limit: i64,
        before_ms: i64,
    ) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows = on_db!(self, |db| {
            db.fetch_all_as::<(i64, String, String)>(
                "SELECT seq, txn_id, body FROM appservice_transactions
                 WHERE processed_at IS NULL AND received_at <= $2 ORDER BY seq LIMIT $1",
                args![limit, before_ms],
            )
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(seq, txn_id, body)| StoredTransaction { seq, txn_id, body })
            .collect())
    }

    /// The ids of the latest stored transactions, newest first (for
    /// [`crate::appservice::txn_order`]).
    pub async fn recent_transaction_ids(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = on_db!(self, |db| {
            db.fetch_all_as::<(String,)>(
                "SELECT txn_id FROM appservice_transactions ORDER BY seq DESC LIMIT $1",
                args![limit],
            )
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// When the last transaction arrived, if any is stored.
    pub async fn last_transaction_received_at(&self) -> Result<Option<i64>, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(i64,)>(
                "SELECT received_at FROM appservice_transactions ORDER BY seq DESC LIMIT 1",
                args![],
            )
            .await?
        });
        Ok(row.map(|(at,)| at))
    }
}

impl Store {
    /// Deletes processed transactions older than `age_ms`. The homeserver never resends a
    /// transaction it saw acknowledged, so old processed rows only take space.
    pub async fn prune_processed_transactions(&self, age_ms: i64) -> Result<u64, StoreError> {
        let cutoff = now_ms() - age_ms;
        Ok(on_db!(self, |db| {
            db.execute(
                "DELETE FROM appservice_transactions WHERE processed_at IS NOT NULL AND processed_at < $1",
                args![cutoff],
            )
            .await?
        }))
    }
}

/// Inserts a transaction unless the identical one (same id, same body) is stored; returns how
/// many rows were inserted (0 or 1). Both ways of storing a transaction go through here. One
/// stored processed keeps its id and its body's hash, to know a retry, but not the body: that
/// is never read again, and it holds the text of messages.
async fn insert_row(
    db: &mut Db<'_>,
    txn_id: &str,
    body: &str,
    received_at: i64,
    processed_at: Option<i64>,
) -> Result<u64, StoreError> {
    let hash = hex(&Sha256::digest(body.as_bytes()));
    let body = if processed_at.is_some() { "" } else { body };
    db.execute(
        "INSERT INTO appservice_transactions
           (txn_id, body_sha256, body, received_at, processed_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (txn_id, body_sha256) DO NOTHING",
        args![txn_id, &hash, body, received_at, processed_at],
    )
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
