//! Each user's blocklist.

use super::{Result, Store};

impl Store {
    pub async fn set_block(&self, user: &str, other: &str, blocked: bool) -> Result<()> {
        let sql = if blocked {
            "INSERT OR IGNORE INTO blocks (user, blocked) VALUES (?, ?)"
        } else {
            "DELETE FROM blocks WHERE user = ? AND blocked = ?"
        };
        sqlx::query(sql).bind(user).bind(other).execute(&self.pool).await?;
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
        let v: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM blocks WHERE user = ? AND blocked = ?")
                .bind(user)
                .bind(other)
                .fetch_optional(&self.pool)
                .await?;
        let mut blocks = self.cache.blocks();
        if self.cache.generation() == generation {
            blocks.insert(key, v.is_some());
        }
        Ok(v.is_some())
    }

    pub async fn blocklist(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT blocked FROM blocks WHERE user = ? ORDER BY blocked")
            .bind(user)
            .fetch_all(&self.pool)
            .await?)
    }
}
