//! Index of native users' encrypted media blobs; the bytes are files.

use super::{Result, Store};

impl Store {
    pub async fn add_media(&self, reference: &str, owner: &str, size: u64) -> Result<()> {
        sqlx::query("INSERT INTO media (reference, owner, size, created_ms) VALUES (?, ?, ?, ?)")
            .bind(reference)
            .bind(owner)
            .bind(size as i64)
            .bind(interop_proto::now_ms() as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn media_exists(&self, reference: &str) -> Result<bool> {
        let v: Option<i64> = sqlx::query_scalar("SELECT 1 FROM media WHERE reference = ?")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.is_some())
    }
}
