//! Named counters, for ids that must never repeat (groups).

use super::{Result, Store};

impl Store {
    /// Increments `name` and returns the new value (the first is 1).
    pub async fn next_counter(&self, name: &str) -> Result<i64> {
        let v: i64 = sqlx::query_scalar(
            "INSERT INTO counters (name, value) VALUES (?, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(v)
    }
}
