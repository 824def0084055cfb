//! Durable state, on SQLite (embedded default) or PostgreSQL, behind one API.
//!
//! Each table has its own file with the queries for it. Queries are written once, in SQL both
//! databases accept (`$1` placeholders work in both), and run on whichever pool is configured
//! through the [`on_pool!`] macro, so there is no per-database copy of the logic. Migrations
//! live in `migrations/{sqlite,postgres}/` and are compiled into the binary.

mod bridge_users;
mod ghosts;
mod logins;
mod management_rooms;
mod messages;
mod migrations;
mod partner_keys;
mod partner_media;
mod portal_queue;
mod portals;
mod remote_seen;
mod transactions;

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    ConnectOptions, Connection,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};

pub use bridge_users::{BridgeUser, InboxMode};
pub use ghosts::GhostProfile;
pub use logins::{NewLogin, OlmSave, StoredLogin};
pub use messages::{MessageRow, ReactionRow};
pub use partner_keys::SealedPartnerKey;
pub use partner_media::StoredMedia;
pub use portal_queue::QueuedWork;
pub use portals::PortalRow;
pub use transactions::{StoredTransaction, TransactionInsert};

use crate::config::{DatabaseConfig, DatabaseKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The open database: cheap to clone, shared by every part of the bridge.
///
/// SQLite is one connection, taken in turn (the mutex is fair): SQLite takes one writer at a
/// time anyway, writers on several connections wait in its busy handler (which sleeps), and
/// every write empties the other connections' page caches. It is not a one-connection
/// `sqlx` pool because a pool checks the connection with a round trip to its thread when it
/// is taken and again, in a spawned task, when it is given back: three hand-offs per query
/// instead of one, and the next query waits for the last one's check.
#[derive(Clone, Debug)]
pub enum Store {
    /// `None` once closed.
    Sqlite(Arc<tokio::sync::Mutex<Option<sqlx::SqliteConnection>>>),
    Postgres(sqlx::PgPool),
}

/// Runs the same query code on whichever database the store holds. `$conn` is a
/// `&mut` connection of either kind; a body that uses it twice reborrows (`&mut *conn`).
macro_rules! on_pool {
    ($store:expr, |$conn:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(connection) => {
                let mut guard = connection.lock().await;
                let $conn: &mut sqlx::SqliteConnection =
                    guard.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                $body
            }
            $crate::store::Store::Postgres(pool) => {
                let mut pooled = pool.acquire().await?;
                let $conn: &mut sqlx::PgConnection = &mut pooled;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

impl Store {
    /// Opens the database the config names; does not migrate.
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        match config.kind {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(&config.uri)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    // An 8 MiB page cache (the default is 2 MiB): the queue's and the logins'
                    // pages stay in memory instead of being read again.
                    .pragma("cache_size", "-8192");
                let connection = options.connect().await?;
                Ok(Store::Sqlite(Arc::new(tokio::sync::Mutex::new(Some(connection)))))
            }
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::from_str(&config.uri)?;
                // No test query before each use: it is a round trip per query. A connection
                // that broke (the server restarted) fails its query, is dropped, and the
                // caller's retry gets a fresh one.
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?;
                Ok(Store::Postgres(pool))
            }
        }
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(connection) => {
                let mut guard = connection.lock().await;
                let connection = guard.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                migrations::sqlite().await?.run(connection).await?
            }
            Store::Postgres(pool) => migrations::postgres().await?.run(pool).await?,
        }
        Ok(())
    }

    /// Sets `column` of `table` to now on the rows whose `seq` is one of `seqs`, in one
    /// statement: how a batch of queued work or transactions is marked handled.
    async fn stamp_now(&self, table: &str, column: &str, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        // The seqs are $1…$n, the time is bound after them.
        let time = seqs.len() + 1;
        let sql = format!(
            "UPDATE {table} SET {column} = ${time} WHERE seq IN {}",
            values_list(1, seqs.len())
        );
        on_pool!(self, |pool| {
            let mut query = sqlx::query(&sql);
            for seq in seqs {
                query = query.bind(*seq);
            }
            query.bind(now_ms()).execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the database; later queries fail.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(connection) => {
                if let Some(connection) = connection.lock().await.take()
                    && let Err(error) = connection.close().await
                {
                    tracing::warn!(%error, "closing the SQLite database failed");
                }
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

/// `($1, $2, $3), ($4, $5, $6)…`: the numbered placeholders of `rows` rows of `columns`
/// values, for a multi-row insert or (one row) an `IN` list.
fn values_list(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let cells: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
        format!("({})", cells.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// Milliseconds since the Unix epoch, the time format of every table.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_lists_number_every_cell() {
        assert_eq!(super::values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values_list(1, 1), "($1)");
    }
}
