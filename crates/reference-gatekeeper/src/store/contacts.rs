//! Who talked to whom, so identity and opt-in changes reach the right people.

use super::{Result, Store};

impl Store {
    /// Records that `a` and `b` exchanged a message (both directions).
    pub async fn add_contact(&self, a: &str, b: &str) -> Result<()> {
        sqlx::query("INSERT OR IGNORE INTO contacts (a, b) VALUES (?, ?), (?, ?)")
            .bind(a)
            .bind(b)
            .bind(b)
            .bind(a)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn contacts(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT b FROM contacts WHERE a = ? ORDER BY b")
            .bind(user)
            .fetch_all(&self.pool)
            .await?)
    }
}
