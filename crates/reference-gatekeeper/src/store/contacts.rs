//! Who talked to whom, so identity and opt-in changes reach the right people.

use rusqlite::params;

use super::{Result, Store};

impl Store {
    /// Records that `a` and `b` exchanged a message (both directions).
    pub async fn add_contact(&self, a: &str, b: &str) -> Result<()> {
        self.run(|db| {
            db.prepare_cached("INSERT OR IGNORE INTO contacts (a, b) VALUES (?1, ?2), (?2, ?1)")?
                .execute(params![a, b])?;
            Ok(())
        })
        .await
    }

    pub async fn contacts(&self, user: &str) -> Result<Vec<String>> {
        self.strings("SELECT b FROM contacts WHERE a = ? ORDER BY b", (user,)).await
    }
}
