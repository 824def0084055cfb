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

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use bridge_users::{BridgeUser, InboxMode};
pub use ghosts::GhostProfile;
pub use logins::{NewLogin, StoredLogin};
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
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs the same query code on whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
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
                // One connection: SQLite takes one writer at a time, writers on several
                // connections wait in its busy handler (which sleeps), and every write empties
                // the other connections' page caches.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                Ok(Store::Sqlite(pool))
            }
            DatabaseKind::Postgres => {
                let options = PgConnectOptions::from_str(&config.uri)?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?;
                Ok(Store::Postgres(pool))
            }
        }
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(pool) => migrations::sqlite().await?.run(pool).await?,
            Store::Postgres(pool) => migrations::postgres().await?.run(pool).await?,
        }
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// Milliseconds since the Unix epoch, the time format of every table.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
