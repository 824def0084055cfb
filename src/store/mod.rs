//! Durable state, on SQLite (embedded default) or PostgreSQL, behind one API.
//!
//! Each table has its own file with the queries for it. Queries are written once, in SQL both
//! databases accept (`$1` placeholders work in both), and run on whichever database is
//! configured through [`on_db!`] (or [`in_transaction!`]) and the small driver API of [`db`],
//! so there is no per-database copy of the logic. Migrations live in
//! `migrations/{sqlite,postgres}/` and are compiled into the binary.

mod bridge_users;
mod checkpoint;
pub(crate) mod db;
mod ghosts;
mod logins;
mod management_rooms;
mod messages;
mod migrations;
mod one_statement;
mod partner_keys;
mod partner_media;
mod portal_queue;
mod portals;
mod remote_seen;
mod transactions;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

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
pub use portal_queue::{Direction, NewPortalWork, QueuedWork};
pub use portals::PortalRow;
pub use transactions::{StoredTransaction, TransactionInsert};

use crate::config::{DatabaseConfig, DatabaseKind};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database is closed")]
    Closed,
    #[error(
        "a stored value is not what was expected: column {column} should be {expected}, found {found}"
    )]
    Decode { column: usize, expected: &'static str, found: &'static str },
    #[error("a query has a placeholder with no value: {0:?}")]
    Placeholder(String),
    #[error("cannot start the database's checkpoint thread: {0}")]
    Thread(std::io::Error),
}

/// The open database: cheap to clone, shared by every part of the bridge.
///
/// SQLite is one connection, taken in turn (the mutex is fair), whose statements run on the
/// calling thread: SQLite takes one writer at a time anyway, writers on several connections
/// wait in its busy handler (which sleeps), and every write empties the other connections'
/// page caches.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(Arc<SqliteStore>),
    Postgres(sqlx::PgPool),
}

#[derive(Debug)]
pub struct SqliteStore {
    /// `None` once closed.
    connection: tokio::sync::Mutex<Option<rusqlite::Connection>>,
    /// For the migrations, which `sqlx` runs on a connection of its own.
    options: SqliteConnectOptions,
    /// Copies the write-ahead log back outside the lock; `None` for an in-memory database.
    checkpointer: std::sync::Mutex<Option<checkpoint::Checkpointer>>,
}

/// Runs `$body` with `$db`, a [`db::Db`] on whichever database the store holds.
macro_rules! on_db {
    ($store:expr, |$db:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(sqlite) => {
                let mut connection = sqlite.connection().await?;
                #[allow(unused_mut)]
                let mut $db = $crate::store::db::Db::Sqlite(&mut connection);
                $body
            }
            $crate::store::Store::Postgres(pool) => {
                let mut pooled = pool.acquire().await?;
                #[allow(unused_mut)]
                let mut $db = $crate::store::db::Db::Postgres(&mut pooled);
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// Like [`on_db!`], in one transaction: committed when `$body` succeeds, rolled back when it
/// returns an error (with `?`).
macro_rules! in_transaction {
    ($store:expr, |$db:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(sqlite) => {
                let mut connection = sqlite.connection().await?;
                $crate::store::SqliteStore::begin(&mut connection)?;
                let result = async {
                    let mut $db = $crate::store::db::Db::Sqlite(&mut connection);
                    Ok::<_, $crate::store::StoreError>($body)
                }
                .await;
                $crate::store::SqliteStore::end(&mut connection, result.is_ok())?;
                result?
            }
            $crate::store::Store::Postgres(pool) => {
                let mut transaction = pool.begin().await?;
                let result = {
                    let mut $db = $crate::store::db::Db::Postgres(&mut transaction);
                    $body
                };
                transaction.commit().await?;
                result
            }
        }
    };
}
pub(crate) use in_transaction;

impl SqliteStore {
    async fn lock(&self) -> tokio::sync::MutexGuard<'_, Option<rusqlite::Connection>> {
        self.connection.lock().await
    }

    /// The open connection, once it is this caller's turn; an error once the store is closed.
    async fn connection(
        &self,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, rusqlite::Connection>, StoreError> {
        tokio::sync::MutexGuard::try_map(self.lock().await, Option::as_mut)
            .map_err(|_| StoreError::Closed)
    }

    /// Opens a transaction (after rolling back one a failed end left open).
    fn begin(connection: &mut rusqlite::Connection) -> Result<(), StoreError> {
        if !connection.is_autocommit() {
            connection.execute_batch("ROLLBACK")?;
        }
        connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits the open transaction, or rolls it back.
    fn end(connection: &mut rusqlite::Connection, commit: bool) -> Result<(), StoreError> {
        connection.execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })?;
        Ok(())
    }
}

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
                let path = options.get_filename();
                let connection = open_sqlite(path)?;
                let in_memory = path.as_os_str().is_empty() || path == Path::new(":memory:");
                let checkpointer =
                    if in_memory { None } else { Some(checkpoint::Checkpointer::start(path)?) };
                let connection = tokio::sync::Mutex::new(Some(connection));
                let checkpointer = std::sync::Mutex::new(checkpointer);
                Ok(Store::Sqlite(Arc::new(SqliteStore { connection, options, checkpointer })))
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

    /// Whether storing a transaction together with its portal work
    /// ([`Store::insert_routed_transaction`]) is cheaper than two separate commits. On SQLite it
    /// is: a commit is the cost, and the statements run on the calling thread. On PostgreSQL the
    /// homeserver's push, which comes one at a time, waits for every statement on its path.
    /// Even as one statement the work then slows the pushes: in the mixed run on PostgreSQL
    /// its outbound half went from 220 to 108 messages/s, while the transaction worker queues
    /// the work of many transactions in one commit, off that path.
    pub fn routes_at_the_door(&self) -> bool {
        matches!(self, Store::Sqlite(_))
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(sqlite) => {
                // Nothing else runs on the database meanwhile.
                let _turn = sqlite.connection().await?;
                let mut connection = sqlite.options.connect().await?;
                migrations::sqlite().await?.run(&mut connection).await?;
                connection.close().await?;
            }
            Store::Postgres(pool) => migrations::postgres().await?.run(pool).await?,
        }
        Ok(())
    }

    /// Closes the database; later queries fail.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(sqlite) => {
                let checkpointer = sqlite.checkpointer.lock().map(|mut c| c.take());
                if let Ok(Some(mut checkpointer)) = checkpointer {
                    checkpointer.stop();
                }
                if let Some(connection) = sqlite.lock().await.take()
                    && let Err((_, error)) = connection.close()
                {
                    tracing::warn!(%error, "closing the SQLite database failed");
                }
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the SQLite file (creating it if missing) the way the bridge runs it.
fn open_sqlite(path: &std::path::Path) -> Result<rusqlite::Connection, StoreError> {
    let connection = rusqlite::Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    // Write-ahead log, synced at checkpoints: a crash loses no committed transaction that the
    // operating system wrote, and a commit does not wait for the disk.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run in the background (`checkpoint`); this one is the backstop.
    connection.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
    // A log grown in a burst is cut back to this size once copied back.
    connection.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // An 8 MiB page cache (the default is 2 MiB): the queue's and the logins' pages stay in
    // memory instead of being read again.
    connection.pragma_update(None, "cache_size", -8192)?;
    // Every query of the bridge stays prepared, the multi-row inserts' variants too.
    connection.set_prepared_statement_cache_capacity(256);
    Ok(connection)
}

/// The sizes [`statement_chunks`] cuts rows into, largest first. The largest keeps a statement
/// far below the bound-value limits of SQLite (32,766) and PostgreSQL (65,535) at up to seven
/// values a row.
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// Cuts `rows` into chunks for multi-row statements, each of one of [`CHUNK_SIZES`], largest
/// first. Each size is one SQL text, so the connection's statement cache holds a few of them,
/// not one per batch size it ever met (each a compiled program, up to hundreds of values
/// long, kept until the cache is full).
fn statement_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        let size = CHUNK_SIZES.into_iter().find(|size| *size <= rest.len())?;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Sets `column` of `table` to now on the rows whose `seq` is one of `seqs`: how a batch of
/// queued work or transactions is marked handled.
async fn stamp_now(
    db: &mut db::Db<'_>,
    table: &str,
    column: &str,
    seqs: &[i64],
) -> Result<(), StoreError> {
    let now = now_ms();
    for chunk in statement_chunks(seqs) {
        // The seqs are $1…$n, the time is bound after them.
        let time = chunk.len() + 1;
        let sql = format!(
            "UPDATE {table} SET {column} = ${time} WHERE seq IN {}",
            values_list(1, chunk.len())
        );
        let mut values: Vec<db::Value> = chunk.iter().map(|seq| (*seq).into()).collect();
        values.push(now.into());
        db.execute(&sql, &values).await?;
    }
    Ok(())
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
    use super::{Store, StoreError, db::args};

    /// Inserts a ghost, then fails: the transaction must leave nothing behind.
    async fn insert_then_fail(store: &Store) -> Result<(), StoreError> {
        in_transaction!(store, |db| {
            db.execute(
                "INSERT INTO ghosts (user_id, registered_at) VALUES ($1, 0)",
                args!["@ghost:example.org"],
            )
            .await?;
            db.execute("INSERT INTO no_such_table VALUES ($1)", args![1_i64]).await?;
        });
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_transaction_is_rolled_back_and_the_next_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::DatabaseConfig {
            kind: crate::config::DatabaseKind::Sqlite,
            uri: format!("sqlite:{}", dir.path().join("t.db").display()),
            max_connections: 1,
        };
        let store = Store::connect(&config).await.unwrap();
        store.migrate().await.unwrap();
        assert!(insert_then_fail(&store).await.is_err());
        assert_eq!(store.ghost_count().await.unwrap(), 0);
        store.insert_ghost("@ghost:example.org").await.unwrap();
        assert_eq!(store.ghost_count().await.unwrap(), 1);
    }

    #[test]
    fn rows_are_cut_into_chunks_of_a_few_sizes_in_order() {
        let rows: Vec<usize> = (0..637).collect();
        let chunks: Vec<&[usize]> = super::statement_chunks(&rows).collect();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 16, 16, 4, 4, 4, 1]);
        assert_eq!(chunks.concat(), rows);
        let sizes = |n: usize| {
            let rows = vec![0; n];
            super::statement_chunks(&rows).map(<[_]>::len).collect::<Vec<_>>()
        };
        assert_eq!(sizes(37), [16, 16, 4, 1]);
        assert!(sizes(0).is_empty());
    }

    #[test]
    fn values_lists_number_every_cell() {
        assert_eq!(super::values_list(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values_list(1, 1), "($1)");
    }
}
