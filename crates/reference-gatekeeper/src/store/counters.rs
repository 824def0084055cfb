//! Named counters, for ids that must never repeat (groups).

use rusqlite::params;

use super::{Result, Store};

impl Store {
    /// Increments `name` and returns the new value (the first is 1).
    pub async fn next_counter(&self, name: &str) -> Result<i64> {
        self.run(|db| {
            Ok(db
                .prepare_cached(
                    "INSERT INTO counters (name, value) VALUES (?, 1)
                     ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
                )?
                .query_row(params![name], |r| r.get(0))?)
        })
        .await
    }
}
