//! The `partner_media` table: encrypted blobs our users send, until the gatekeeper fetches them.
//!
//! In the interop protocol the sender's side hosts its media (spec §9.2): the gatekeeper fetches
//! `{partner_base}/{reference}` and relays it. The bytes are ciphertext; the key travels end to
//! end inside the message, never here.

use super::{Store, StoreError, db::args, now_ms, on_db};

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
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO partner_media (reference, owner, bytes, created_at) \
                 VALUES ($1, $2, $3, $4)",
                args![reference, owner, bytes, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn partner_media(&self, reference: &str) -> Result<Option<StoredMedia>, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(String, Vec<u8>, i64)>(
                "SELECT owner, bytes, created_at FROM partner_media WHERE reference = $1",
                args![reference],
            )
            .await?
        });
        Ok(row.map(|(owner, bytes, created_at)| StoredMedia { owner, bytes, created_at }))
    }

    /// Deletes blobs stored before `before_ms`; returns how many.
    pub async fn prune_partner_media(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(on_db!(self, |db| {
            db.execute("DELETE FROM partner_media WHERE created_at < $1", args![before_ms]).await?
        }))
    }
}
