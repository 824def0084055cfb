//! The gatekeeper's durable state in SQLite, one file per table.
//!
//! Everything a restart must keep lives here: users and their public keys,
//! opt-ins, blocklists, groups, and the offline mailbox. Statements run on the
//! calling thread (`rusqlite`, through [`Store::run`]): they take microseconds,
//! less than handing each to a database thread and back would. `sqlx` only
//! applies the migrations.

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

use rusqlite::OptionalExtension;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

pub use accepted::NewEntry;
pub use groups::GroupRow;
pub use mailbox::{MailboxClass, MailboxEntry};
pub use users::{NewUser, UserKind, UserRow};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database is closed")]
    Closed,
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(&'static str),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// The one connection, taken in turn; `None` once closed.
    db: std::sync::Arc<tokio::sync::Mutex<Option<rusqlite::Connection>>>,
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
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        let mut migrating = opts.connect().await?;
        migrations::migrator().await?.run(&mut migrating).await?;
        migrating.close().await?;
        let db = rusqlite::Connection::open(path)?;
        db.busy_timeout(Duration::from_secs(10))?;
        // One process owns the file: no file-lock syscalls per transaction.
        db.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL survives process crashes; only power loss may drop the last commits.
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "foreign_keys", "OFF")?;
        db.set_prepared_statement_cache_capacity(128);
        let db = std::sync::Arc::new(tokio::sync::Mutex::new(Some(db)));
        Ok(Self { db, cache: Default::default() })
    }

    /// Runs `f` on the connection, on this thread, once it is this caller's turn.
    pub(crate) async fn run<T>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.db.lock().await;
        f(guard.as_mut().ok_or(StoreError::Closed)?)
    }

    /// The first column of the first row a query returns, if it returns one.
    pub(crate) async fn first<T: rusqlite::types::FromSql>(
        &self,
        sql: &str,
        params: impl rusqlite::Params + Send,
    ) -> Result<Option<T>> {
        self.run(|db| Ok(db.prepare_cached(sql)?.query_row(params, |r| r.get(0)).optional()?)).await
    }

    /// The first column of every row a query returns, as text (a list of ids).
    pub(crate) async fn strings(
        &self,
        sql: &str,
        params: impl rusqlite::Params + Send,
    ) -> Result<Vec<String>> {
        self.run(|db| {
            let mut statement = db.prepare_cached(sql)?;
            let rows = statement.query_map(params, |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    /// Closes the database (and releases its lock on the file); later calls fail.
    pub async fn close(&self) {
        if let Some(db) = self.db.lock().await.take()
            && let Err((_, e)) = db.close()
        {
            tracing::warn!(error = %e, "closing the database failed");
        }
    }
}

/// Reads a 32-byte key column.
pub(crate) fn key32(bytes: Vec<u8>, what: &'static str) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt(what))
}
