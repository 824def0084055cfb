//! Index of native users' encrypted media blobs; the bytes are files.

use rusqlite::params;

use super::{Result, Store};

impl Store {
    pub async fn add_media(&self, reference: &str, owner: &str, size: u64) -> Result<()> {
        let now = interop_proto::now_ms() as i64;
        self.run(|db| {
            db.prepare_cached(
                "INSERT INTO media (reference, owner, size, created_ms) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![reference, owner, size as i64, now])?;
            Ok(())
        })
        .await
    }

    pub async fn media_exists(&self, reference: &str) -> Result<bool> {
        let v: Option<i64> =
            self.first("SELECT 1 FROM media WHERE reference = ?", (reference,)).await?;
        Ok(v.is_some())
    }
}
