//! The `partner_keys` table: the bridge's partner signing keys, stored sealed.
//!
//! The store never sees a key in the clear; sealing and opening live in
//! `gatekeeper::partner_identity`. Rows are only added, never replaced or deleted, so a wrong
//! pickle key can never cost the bridge its identity.

use super::{Store, StoreError, db::args, now_ms, on_db};

/// One stored key: its id and its seed, encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPartnerKey {
    pub kid: String,
    pub nonce: Vec<u8>,
    pub sealed_seed: Vec<u8>,
}

impl std::fmt::Debug for SealedPartnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sealed, but still key material: only its id is worth showing.
        f.debug_struct("SealedPartnerKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Store {
    /// The partner key in use: the first one stored (so bridges racing at first start agree).
    pub async fn partner_key(&self) -> Result<Option<SealedPartnerKey>, StoreError> {
        let row = on_db!(self, |db| {
            db.fetch_optional_as::<(String, Vec<u8>, Vec<u8>)>(
                "SELECT kid, nonce, sealed_seed FROM partner_keys ORDER BY created_at, kid LIMIT 1",
                args![],
            )
            .await?
        });
        Ok(row.map(|(kid, nonce, sealed_seed)| SealedPartnerKey { kid, nonce, sealed_seed }))
    }

    /// Adds a key; an existing row with the same `kid` is left as it is.
    pub async fn insert_partner_key(&self, key: &SealedPartnerKey) -> Result<(), StoreError> {
        on_db!(self, |db| {
            db.execute(
                "INSERT INTO partner_keys (kid, nonce, sealed_seed, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
                args![&key.kid, &key.nonce, &key.sealed_seed, now_ms()],
            )
            .await?;
        });
        Ok(())
    }

    pub async fn partner_key_count(&self) -> Result<i64, StoreError> {
        Ok(on_db!(self, |db| {
            db.fetch_scalar::<i64>("SELECT COUNT(*) FROM partner_keys", args![]).await?
        }))
    }
}
