//! The one-time prekeys each user uploaded; each is handed out once.

use super::{Result, Store};

impl Store {
    pub async fn add_one_time_keys(&self, user: &str, keys: &[Vec<u8>]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for k in keys {
            sqlx::query("INSERT INTO one_time_keys (user, key) VALUES (?, ?)")
                .bind(user)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes and returns the oldest one-time key, if any is left.
    pub async fn take_one_time_key(&self, user: &str) -> Result<Option<Vec<u8>>> {
        let key: Option<Vec<u8>> = sqlx::query_scalar(
            "DELETE FROM one_time_keys WHERE seq =
               (SELECT seq FROM one_time_keys WHERE user = ? ORDER BY seq LIMIT 1)
             RETURNING key",
        )
        .bind(user)
        .fetch_optional(&self.pool)
        .await?;
        Ok(key)
    }

    pub async fn count_one_time_keys(&self, user: &str) -> Result<u32> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM one_time_keys WHERE user = ?")
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u32)
    }

    pub async fn clear_one_time_keys(&self, user: &str) -> Result<()> {
        sqlx::query("DELETE FROM one_time_keys WHERE user = ?")
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
