//! Each user's blocklist.

use rusqlite::params;

use super::{Result, Store};

impl Store {
    pub async fn set_block(&self, user: &str, other: &str, blocked: bool) -> Result<()> {
        let sql = if blocked {
            "INSERT OR IGNORE INTO blocks (user, blocked) VALUES (?, ?)"
        } else {
            "DELETE FROM blocks WHERE user = ? AND blocked = ?"
        };
        self.run(|db| Ok(db.prepare_cached(sql)?.execute(params![user, other])?)).await?;
        self.cache.bump();
        self.cache.blocks().insert((user.to_owned(), other.to_owned()), blocked);
        Ok(())
    }

    /// Whether `user` blocked `other`.
    pub async fn is_blocked(&self, user: &str, other: &str) -> Result<bool> {
        let key = (user.to_owned(), other.to_owned());
        if let Some(b) = self.cache.blocks().get(&key) {
            return Ok(*b);
        }
        let generation = self.cache.generation();
        let v: Option<i64> = self
            .first("SELECT 1 FROM blocks WHERE user = ? AND blocked = ?", (user, other))
            .await?;
        let mut blocks = self.cache.blocks();
        if self.cache.generation() == generation {
            blocks.insert(key, v.is_some());
        }
        Ok(v.is_some())
    }

    pub async fn blocklist(&self, user: &str) -> Result<Vec<String>> {
        self.strings("SELECT blocked FROM blocks WHERE user = ? ORDER BY blocked", (user,)).await
    }
}
