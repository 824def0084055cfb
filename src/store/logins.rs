//! The `logins` and `olm_peers` tables: Matrix users enlisted with the gatekeeper, and their
//! sealed keys (the Olm state in parts: the core in `logins`, each contact's sessions a row of
//! `olm_peers`, so that a save writes only what changed).
//!
//! The store never sees a key in the clear: sealing and opening live in
//! `gatekeeper::interop::keys`. `keys_version` grows with every enlistment, and the encryption
//! state of a channel is saved only if the version it was loaded with is still the current one,
//! so a channel that still runs on replaced keys can never overwrite the new ones.

use sqlx::{Connection as _, Row};

use super::{Store, StoreError, now_ms, on_pool};

/// Rows per multi-row insert: far below the bound-value limits of SQLite (32,766) and
/// PostgreSQL (65,535) at four values a row.
const ROWS_PER_STATEMENT: usize = 500;

/// A login to store at enlistment: everything sealed already.
pub struct NewLogin<'a> {
    pub matrix_user_id: &'a str,
    pub remote_id: &'a str,
    pub sealed_noise_key: &'a [u8],
    /// The Olm core; a new login has no peers yet.
    pub sealed_olm_pickle: &'a [u8],
}

/// What changed in a login's Olm state, sealed, to save.
pub struct OlmSave<'a> {
    pub keys_version: i64,
    /// The core, if it changed.
    pub sealed_core: Option<&'a [u8]>,
    /// `(peer, sealed)` for every peer whose sessions changed.
    pub sealed_peers: &'a [(String, Vec<u8>)],
    /// Stanzas handled, as `(sender, id)`.
    pub seen: &'a [(String, String)],
}

/// One stored login.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredLogin {
    pub matrix_user_id: String,
    pub remote_id: String,
    pub keys_version: i64,
    pub sealed_noise_key: Vec<u8>,
    /// The Olm core (or, if saved before the state was kept in parts, the whole state).
    pub sealed_olm_pickle: Vec<u8>,
    /// `(peer, sealed)`: each contact's sessions.
    pub sealed_olm_peers: Vec<(String, Vec<u8>)>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sealed, but still key material: only who and when are worth showing.
        f.debug_struct("StoredLogin")
            .field("matrix_user_id", &self.matrix_user_id)
            .field("remote_id", &self.remote_id)
            .field("keys_version", &self.keys_version)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Stores a login, or replaces the keys of an existing one (its remote id too, should the
    /// gatekeeper have changed it). Returns the new `keys_version`.
    pub async fn upsert_login(&self, login: &NewLogin<'_>) -> Result<i64, StoreError> {
        let now = now_ms();
        Ok(on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // New keys: the sessions of the old ones mean nothing to them.
            sqlx::query("DELETE FROM olm_peers WHERE matrix_user_id = $1")
                .bind(login.matrix_user_id)
                .execute(&mut *tx)
                .await?;
            let version = sqlx::query(
                "INSERT INTO logins (matrix_user_id, remote_id, keys_version, noise_key, olm_pickle, \
                 created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $5, $5) \
                 ON CONFLICT (matrix_user_id) DO UPDATE SET remote_id = excluded.remote_id, \
                 keys_version = logins.keys_version + 1, noise_key = excluded.noise_key, \
                 olm_pickle = excluded.olm_pickle, updated_at = excluded.updated_at \
                 RETURNING keys_version",
            )
            .bind(login.matrix_user_id)
            .bind(login.remote_id)
            .bind(login.sealed_noise_key)
            .bind(login.sealed_olm_pickle)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?;
            tx.commit().await?;
            version
        }))
    }

    pub async fn login(&self, matrix_user_id: &str) -> Result<Option<StoredLogin>, StoreError> {
        Ok(on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let peers = sqlx::query_as::<_, (String, Vec<u8>)>(
                "SELECT peer, sealed FROM olm_peers WHERE matrix_user_id = $1",
            )
            .bind(matrix_user_id)
            .fetch_all(&mut *tx)
            .await?;
            let login = match sqlx::query(
                "SELECT matrix_user_id, remote_id, keys_version, noise_key, olm_pickle, created_at, \
                 updated_at FROM logins WHERE matrix_user_id = $1",
            )
            .bind(matrix_user_id)
            .fetch_optional(&mut *tx)
            .await?
            {
                Some(row) => Some(StoredLogin {
                    matrix_user_id: row.try_get("matrix_user_id")?,
                    remote_id: row.try_get("remote_id")?,
                    keys_version: row.try_get("keys_version")?,
                    sealed_noise_key: row.try_get("noise_key")?,
                    sealed_olm_pickle: row.try_get("olm_pickle")?,
                    sealed_olm_peers: peers,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                }),
                None => None,
            };
            tx.commit().await?;
            login
        }))
    }

    /// Every enlisted Matrix user, e.g. to connect them all at start-up.
    pub async fn login_user_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("SELECT matrix_user_id FROM logins ORDER BY matrix_user_id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Saves what changed in a login's encryption state and, in the same transaction, marks
    /// the stanzas `seen` handled. Returns false, and saves nothing, when the login's keys were
    /// replaced (or the login removed) since `keys_version` was read.
    pub async fn save_olm_state(
        &self,
        matrix_user_id: &str,
        save: &OlmSave<'_>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        Ok(on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE logins SET olm_pickle = COALESCE($1, olm_pickle), updated_at = $2 \
                 WHERE matrix_user_id = $3 AND keys_version = $4",
            )
            .bind(save.sealed_core)
            .bind(now)
            .bind(matrix_user_id)
            .bind(save.keys_version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                false
            } else {
                // A statement per table for up to ROWS_PER_STATEMENT rows.
                for peers in save.sealed_peers.chunks(ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO olm_peers (matrix_user_id, peer, sealed) VALUES {} \
                         ON CONFLICT (matrix_user_id, peer) DO UPDATE SET sealed = excluded.sealed",
                        super::values_list(peers.len(), 3)
                    );
                    let mut query = sqlx::query(&sql);
                    for (peer, sealed) in peers {
                        query = query.bind(matrix_user_id).bind(peer).bind(sealed);
                    }
                    query.execute(&mut *tx).await?;
                }
                for seen in save.seen.chunks(ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO remote_seen (matrix_user_id, sender, message_id, seen_at) \
                         VALUES {} ON CONFLICT DO NOTHING",
                        super::values_list(seen.len(), 4)
                    );
                    let mut query = sqlx::query(&sql);
                    for (sender, id) in seen {
                        query = query.bind(matrix_user_id).bind(sender).bind(id).bind(now);
                    }
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                true
            }
        }))
    }

    /// Deletes a login with everything that hangs off it (handled-stanza records, hosted media).
    /// Returns whether there was one.
    pub async fn delete_login(&self, matrix_user_id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for table in [
                "DELETE FROM olm_peers WHERE matrix_user_id = $1",
                "DELETE FROM remote_seen WHERE matrix_user_id = $1",
                "DELETE FROM partner_media WHERE owner = $1",
            ] {
                sqlx::query(table).bind(matrix_user_id).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query("DELETE FROM logins WHERE matrix_user_id = $1")
                .bind(matrix_user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            deleted > 0
        }))
    }
}
