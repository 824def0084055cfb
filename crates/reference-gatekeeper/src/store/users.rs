//! Native and partner users, with their public keys.

use interop_proto::stanza::{KeyBundle, SignedPrekey};
use rusqlite::params;

use super::{Result, Store, StoreError, key32};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    Native,
    Partner,
}

impl UserKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Partner => "partner",
        }
    }
}

/// A user as stored. Only public keys and a token hash.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub kind: UserKind,
    pub phone: Option<String>,
    pub partner: Option<String>,
    pub visible_id: Option<String>,
    pub display_name: String,
    pub has_avatar: bool,
    pub authkey: [u8; 32],
    pub token_hash: Option<Vec<u8>>,
    pub bundle: KeyBundle,
}

/// What registration or enlistment writes.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub kind: UserKind,
    pub phone: Option<String>,
    pub partner: Option<String>,
    pub visible_id: Option<String>,
    pub display_name: String,
    pub avatar: Option<Vec<u8>>,
    pub authkey: [u8; 32],
    pub token_hash: Option<Vec<u8>>,
    pub bundle: KeyBundle,
}

const COLUMNS: &str =
    "id, kind, phone, partner, visible_id, display_name, avatar IS NOT NULL AS has_avatar,
    authkey, token_hash, identity_key, signing_key, spk_id, spk_key, spk_sig";

fn from_row(r: &rusqlite::Row<'_>) -> Result<UserRow> {
    let kind = match r.get::<_, String>("kind")?.as_str() {
        "native" => UserKind::Native,
        "partner" => UserKind::Partner,
        _ => return Err(StoreError::Corrupt("user kind")),
    };
    Ok(UserRow {
        id: r.get("id")?,
        kind,
        phone: r.get("phone")?,
        partner: r.get("partner")?,
        visible_id: r.get("visible_id")?,
        display_name: r.get("display_name")?,
        has_avatar: r.get("has_avatar")?,
        authkey: key32(r.get("authkey")?, "authkey")?,
        token_hash: r.get("token_hash")?,
        bundle: KeyBundle {
            scheme: interop_proto::e2ee::SCHEME_OLM_V1,
            identity_key: r.get("identity_key")?,
            signing_key: r.get("signing_key")?,
            signed_prekey: Some(SignedPrekey {
                id: r.get::<_, i64>("spk_id")? as u32,
                key: r.get("spk_key")?,
                signature: r.get("spk_sig")?,
            }),
            one_time_key: None,
        },
    })
}

impl Store {
    /// The one user a `SELECT {COLUMNS}` query with `params` finds, if any.
    async fn user_where(&self, sql: &str, params: &[&str]) -> Result<Option<UserRow>> {
        self.run(|db| {
            let mut statement = db.prepare_cached(sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(params))?;
            rows.next()?.map(from_row).transpose()
        })
        .await
    }
}

impl Store {
    /// Inserts or replaces (same id) a user; returns the previous row if any.
    pub async fn upsert_user(&self, u: &NewUser) -> Result<Option<UserRow>> {
        let previous = self.user(&u.id).await?;
        self.cache.users().remove(&u.id);
        let spk = u.bundle.signed_prekey.clone().unwrap_or_default();
        let now = interop_proto::now_ms() as i64;
        self.run(|db| {
            db.prepare_cached(
                "INSERT INTO users (id, kind, phone, partner, visible_id, display_name, avatar, authkey,
                    token_hash, identity_key, signing_key, spk_id, spk_key, spk_sig, created_ms, last_seen_ms)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
                    avatar = COALESCE(excluded.avatar, users.avatar), authkey = excluded.authkey,
                    token_hash = excluded.token_hash, identity_key = excluded.identity_key,
                    signing_key = excluded.signing_key, spk_id = excluded.spk_id,
                    spk_key = excluded.spk_key, spk_sig = excluded.spk_sig, last_seen_ms = excluded.last_seen_ms",
            )?
            .execute(params![
                &u.id,
                u.kind.as_str(),
                &u.phone,
                &u.partner,
                &u.visible_id,
                &u.display_name,
                &u.avatar,
                u.authkey.as_slice(),
                &u.token_hash,
                &u.bundle.identity_key,
                &u.bundle.signing_key,
                spk.id as i64,
                &spk.key,
                &spk.signature,
                now,
                now
            ])?;
            Ok(())
        })
        .await?;
        self.cache.bump();
        self.cache.users().remove(&u.id);
        Ok(previous)
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRow>> {
        if let Some(u) = self.cache.users().get(id) {
            return Ok(Some(u.clone()));
        }
        let generation = self.cache.generation();
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?");
        let user = self.user_where(&sql, &[id]).await?;
        if let Some(u) = &user {
            let mut users = self.cache.users();
            if self.cache.generation() == generation {
                users.insert(id.to_owned(), u.clone());
            }
        }
        Ok(user)
    }

    pub async fn user_by_phone(&self, phone: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE phone = ?");
        self.user_where(&sql, &[phone]).await
    }

    pub async fn partner_user(&self, partner: &str, visible_id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE partner = ? AND visible_id = ?");
        self.user_where(&sql, &[partner, visible_id]).await
    }

    pub async fn avatar(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let v: Option<Option<Vec<u8>>> =
            self.first("SELECT avatar FROM users WHERE id = ?", (id,)).await?;
        Ok(v.flatten())
    }

    pub async fn set_signed_prekey(&self, id: &str, spk: &SignedPrekey) -> Result<()> {
        self.run(|db| {
            db.prepare_cached(
                "UPDATE users SET spk_id = ?, spk_key = ?, spk_sig = ? WHERE id = ?",
            )?
            .execute(params![spk.id as i64, &spk.key, &spk.signature, id])?;
            Ok(())
        })
        .await?;
        self.cache.bump();
        self.cache.users().remove(id);
        Ok(())
    }

    pub async fn touch_user(&self, id: &str) -> Result<()> {
        let now = interop_proto::now_ms() as i64;
        self.run(|db| {
            db.prepare_cached("UPDATE users SET last_seen_ms = ? WHERE id = ?")?
                .execute(params![now, id])?;
            Ok(())
        })
        .await
    }

    /// Deletes a user with its keys and mailbox (un-enlistment).
    pub async fn delete_user(&self, id: &str) -> Result<()> {
        self.cache.users().remove(id);
        self.cache.blocks().clear();
        self.run(|db| {
            let tx = db.transaction()?;
            for sql in [
                "DELETE FROM users WHERE id = ?",
                "DELETE FROM one_time_keys WHERE user = ?",
                "DELETE FROM mailbox WHERE recipient = ?",
                "DELETE FROM group_members WHERE user = ?",
            ] {
                tx.prepare_cached(sql)?.execute(params![id])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Partner users whose channel was last open before `before_ms`.
    pub async fn stale_partner_users(&self, before_ms: u64) -> Result<Vec<String>> {
        let sql = "SELECT id FROM users WHERE kind = 'partner' AND last_seen_ms < ?";
        self.strings(sql, (before_ms as i64,)).await
    }

    pub async fn count_users(&self) -> Result<u64> {
        let n: i64 = self
            .run(|db| {
                Ok(db.prepare_cached("SELECT COUNT(*) FROM users")?.query_row([], |r| r.get(0))?)
            })
            .await?;
        Ok(n as u64)
    }
}
