//! The one-time prekeys each user uploaded; each is handed out once.

use rusqlite::params;

use super::{Result, Store};

impl Store {
    pub async fn add_one_time_keys(&self, user: &str, keys: &[Vec<u8>]) -> Result<()> {
        self.run(|db| {
            let tx = db.transaction()?;
            {
                let mut insert =
                    tx.prepare_cached("INSERT INTO one_time_keys (user, key) VALUES (?, ?)")?;
                for k in keys {
                    insert.execute(params![user, k])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Removes and returns the oldest one-time key, if any is left.
    pub async fn take_one_time_key(&self, user: &str) -> Result<Option<Vec<u8>>> {
        self.first(
            "DELETE FROM one_time_keys WHERE seq =
               (SELECT seq FROM one_time_keys WHERE user = ? ORDER BY seq LIMIT 1)
             RETURNING key",
            (user,),
        )
        .await
    }

    pub async fn count_one_time_keys(&self, user: &str) -> Result<u32> {
        let n: i64 = self
            .run(|db| {
                Ok(db
                    .prepare_cached("SELECT COUNT(*) FROM one_time_keys WHERE user = ?")?
                    .query_row(params![user], |r| r.get(0))?)
            })
            .await?;
        Ok(n as u32)
    }

    pub async fn clear_one_time_keys(&self, user: &str) -> Result<()> {
        self.run(|db| {
            db.prepare_cached("DELETE FROM one_time_keys WHERE user = ?")?
                .execute(params![user])?;
            Ok(())
        })
        .await
    }
}
