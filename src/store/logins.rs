//! The `logins` and `olm_peers` tables: Matrix users enlisted with the gatekeeper, and their
//! sealed keys (the Olm state in parts: the core in `logins`, each contact's sessions a row of
//! `olm_peers`, so that a save writes only what changed).
//!
//! The store never sees a key in the clear: sealing and opening live in
//! `gatekeeper::interop::keys`. `keys_version` grows with every enlistment, and the encryption
//! state of a channel is saved only if the version it was loaded with is still the current one,
//! so a channel that still runs on replaced keys can never overwrite the new ones.

use super::{Store, StoreError, db::Value, db::args, in_transaction, now_ms, on_db};

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
        Ok(in_transaction!(self, |db| {
            // New keys: the sessions of the old ones mean nothing to them.
            db.execute(
                "DELETE FROM olm_peers WHERE matrix_user_id = $1",
                args![login.matrix_user_id],
            )
            .await?;
            db.fetch_scalar::<i64>(
                "INSERT INTO logins (matrix_user_id, remote_id, keys_version, noise_key, olm_pickle, \
                 created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $5, $5) \
                 ON CONFLICT (matrix_user_id) DO UPDATE SET remote_id = excluded.remote_id, \
                 keys_version = logins.keys_version + 1, noise_key = excluded.noise_key, \
                 olm_pickle = excluded.olm_pickle, updated_at = excluded.updated_at \
                 RETURNING keys_version",
                args![
                    login.matrix_user_id,
                    login.remote_id,
                    login.sealed_noise_key,
                    login.sealed_olm_pickle,
                    now
                ],
            )
            .await?
        }))
    }

    pub async fn login(&self, matrix_user_id: &str) -> Result<Option<StoredLogin>, StoreError> {
        Ok(in_transaction!(self, |db| {
            let peers = db
                .fetch_all_as::<(String, Vec<u8>)>(
                    "SELECT peer, sealed FROM olm_peers WHERE matrix_user_id = $1",
                    args![matrix_user_id],
                )
                .await?;
            db.fetch_optional_as::<(String, String, i64, Vec<u8>, Vec<u8>, i64, i64)>(
                "SELECT matrix_user_id, remote_id, keys_version, noise_key, olm_pickle, created_at, \
                 updated_at FROM logins WHERE matrix_user_id = $1",
                args![matrix_user_id],
            )
            .await?
            .map(|(matrix_user_id, remote_id, keys_version, noise_key, olm_pickle, created_at, updated_at)| {
                StoredLogin {
                    matrix_user_id,
                    remote_id,
                    keys_version,
                    sealed_noise_key: noise_key,
                    sealed_olm_pickle: olm_pickle,
                    sealed_olm_peers: peers,
                    created_at,
                    updated_at,
                }
            })
        }))
    }

    /// Every enlisted Matrix user, e.g. to connect them all at start-up.
    pub async fn login_user_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = on_db!(self, |db| {
            db.fetch_all_as::<(String,)>(
                "SELECT matrix_user_id FROM logins ORDER BY matrix_user_id",
                args![],
            )
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
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
        if let Store::Postgres(pool) = self {
            return super::one_statement::save_olm_state(pool, matrix_user_id, save, now).await;
        }
        Ok(in_transaction!(self, |db| {
            let updated = db
                .execute(
                    "UPDATE logins SET olm_pickle = COALESCE($1, olm_pickle), updated_at = $2 \
                     WHERE matrix_user_id = $3 AND keys_version = $4",
                    args![save.sealed_core, now, matrix_user_id, save.keys_version],
                )
                .await?;
            // Nothing was written when nothing matched: the commit is empty.
            if updated > 0 {
                // A few statements per table, of a few fixed sizes (`statement_chunks`).
                for peers in super::statement_chunks(save.sealed_peers) {
                    let sql = format!(
                        "INSERT INTO olm_peers (matrix_user_id, peer, sealed) VALUES {} \
                         ON CONFLICT (matrix_user_id, peer) DO UPDATE SET sealed = excluded.sealed",
                        super::values_list(peers.len(), 3)
                    );
                    let values: Vec<Value> = peers
                        .iter()
                        .flat_map(|(peer, sealed)| {
                            [matrix_user_id.into(), peer.into(), sealed.into()]
                        })
                        .collect();
                    db.execute(&sql, &values).await?;
                }
                for seen in super::statement_chunks(save.seen) {
                    let sql = format!(
                        "INSERT INTO remote_seen (matrix_user_id, sender, message_id, seen_at) \
                         VALUES {} ON CONFLICT DO NOTHING",
                        super::values_list(seen.len(), 4)
                    );
                    let values: Vec<Value> = seen
                        .iter()
                        .flat_map(|(sender, id)| {
                            [matrix_user_id.into(), sender.into(), id.into(), now.into()]
                        })
                        .collect();
                    db.execute(&sql, &values).await?;
                }
            }
            updated > 0
        }))
    }

    /// Deletes a login with everything that hangs off it (handled-stanza records, hosted media).
    /// Returns whether there was one.
    pub async fn delete_login(&self, matrix_user_id: &str) -> Result<bool, StoreError> {
        Ok(in_transaction!(self, |db| {
            for table in [
                "DELETE FROM olm_peers WHERE matrix_user_id = $1",
                "DELETE FROM remote_seen WHERE matrix_user_id = $1",
                "DELETE FROM partner_media WHERE owner = $1",
            ] {
                db.execute(table, args![matrix_user_id]).await?;
            }
            db.execute("DELETE FROM logins WHERE matrix_user_id = $1", args![matrix_user_id])
                .await?
                > 0
        }))
    }
}
