//! The `partner_media` table: encrypted blobs our users send, until the gatekeeper fetches them.
//!
//! In the interop protocol the sender's side hosts its media (spec §9.2): the gatekeeper fetches
//! `{partner_base}/{reference}` and relays it. The bytes are ciphertext; the key travels end to
//! end inside the message, never here.

use sqlx::Row;

use super::{Store, StoreError, now_ms, on_pool};

/// One hosted blob.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMedia {
    /// The Matrix user who sent it.
    pub owner: String,
    pub bytes: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for StoredMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMedia")
            .field("owner", &self.owner)
            .field("bytes", &self.bytes.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl Store {
    pub async fn insert_partner_media(
        &self,
        reference: &str,
        owner: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO partner_media (reference, owner, bytes, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(reference)
            .bind(owner)
            .bind(bytes)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn partner_media(&self, reference: &str) -> Result<Option<StoredMedia>, StoreError> {
        Ok(on_pool!(self, |pool| {
            match sqlx::query(
                "SELECT owner, bytes, created_at FROM partner_media WHERE reference = $1",
            )
            .bind(reference)
            .fetch_optional(pool)
            .await?
            {
                Some(row) => Some(StoredMedia {
                    owner: row.try_get("owner")?,
                    bytes: row.try_get("bytes")?,
                    created_at: row.try_get("created_at")?,
                }),
                None => None,
            }
        }))
    }

    /// Deletes blobs stored before `before_ms`; returns how many.
    pub async fn prune_partner_media(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("DELETE FROM partner_media WHERE created_at < $1")
                .bind(before_ms)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
