//! The gatekeeper's durable state in SQLite, one file per table.
//!
//! Everything a restart must keep lives here: users and their public keys,
//! opt-ins, blocklists, groups, and the offline mailbox. Queries are built
//! at run time (no `query!` macros), so the crate builds without a database.

mod accepted;
mod blocks;
mod contacts;
mod counters;
mod groups;
mod mailbox;
mod media;
mod migrations;
mod one_time_keys;
mod opt_ins;
mod partners;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqliteLockingMode, SqlitePoolOptions,
    SqliteSynchronous,
};

pub use accepted::NewEntry;
pub use groups::GroupRow;
pub use mailbox::{MailboxClass, MailboxEntry};
pub use users::{NewUser, UserKind, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Users and block pairs are read for every stanza and rarely written:
    /// cached here, invalidated by the writers below.
    cache: std::sync::Arc<Cache>,
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub users: std::sync::Mutex<std::collections::HashMap<String, UserRow>>,
    pub blocks: std::sync::Mutex<std::collections::HashMap<(String, String), bool>>,
    /// Bumped by every write, so a read that raced a write is not cached.
    pub generation: std::sync::atomic::AtomicU64,
}

impl Cache {
    const LIMIT: usize = 100_000;

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn bump(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn users(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, UserRow>> {
        let mut g = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() > Self::LIMIT {
            g.clear();
        }
        g
    }

    pub fn blocks(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<(String, String), bool>> {
        let mut g = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() > Self::LIMIT {
            g.clear();
        }
        g
    }
}

impl Store {
    /// Opens (creating if needed) `path` and applies the embedded migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let url = format!("sqlite://{}", path.display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives process crashes; only power loss may drop the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // One process owns the file: no file-lock syscalls per transaction.
            .locking_mode(SqliteLockingMode::Exclusive)
            .foreign_keys(false);
        // SQLite runs one writer at a time anyway; one connection keeps the
        // exclusive lock and avoids hand-offs between connections.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
        migrations::migrator().await?.run(&pool).await?;
        Ok(Self { pool, cache: Default::default() })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a 32-byte key column.
pub(crate) fn key32(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(what))
}
