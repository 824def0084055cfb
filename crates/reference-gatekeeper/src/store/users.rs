//! Native and partner users, with their public keys.

use interop_proto::stanza::{KeyBundle, SignedPrekey};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

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

fn from_row(r: &SqliteRow) -> Result<UserRow> {
    let kind = match r.try_get::<String, _>("kind")?.as_str() {
        "native" => UserKind::Native,
        "partner" => UserKind::Partner,
        _ => return Err(StoreError::Corrupt("user kind")),
    };
    Ok(UserRow {
        id: r.try_get("id")?,
        kind,
        phone: r.try_get("phone")?,
        partner: r.try_get("partner")?,
        visible_id: r.try_get("visible_id")?,
        display_name: r.try_get("display_name")?,
        has_avatar: r.try_get("has_avatar")?,
        authkey: key32(r.try_get("authkey")?, "authkey")?,
        token_hash: r.try_get("token_hash")?,
        bundle: KeyBundle {
            scheme: interop_proto::e2ee::SCHEME_OLM_V1,
            identity_key: r.try_get("identity_key")?,
            signing_key: r.try_get("signing_key")?,
            signed_prekey: Some(SignedPrekey {
                id: r.try_get::<i64, _>("spk_id")? as u32,
                key: r.try_get("spk_key")?,
                signature: r.try_get("spk_sig")?,
            }),
            one_time_key: None,
        },
    })
}

impl Store {
    /// Inserts or replaces (same id) a user; returns the previous row if any.
    pub async fn upsert_user(&self, u: &NewUser) -> Result<Option<UserRow>> {
        let previous = self.user(&u.id).await?;
        self.cache.users().remove(&u.id);
        let spk = u.bundle.signed_prekey.clone().unwrap_or_default();
        let now = interop_proto::now_ms() as i64;
        sqlx::query(
            "INSERT INTO users (id, kind, phone, partner, visible_id, display_name, avatar, authkey,
                token_hash, identity_key, signing_key, spk_id, spk_key, spk_sig, created_ms, last_seen_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
                avatar = COALESCE(excluded.avatar, users.avatar), authkey = excluded.authkey,
                token_hash = excluded.token_hash, identity_key = excluded.identity_key,
                signing_key = excluded.signing_key, spk_id = excluded.spk_id,
                spk_key = excluded.spk_key, spk_sig = excluded.spk_sig, last_seen_ms = excluded.last_seen_ms",
        )
        .bind(&u.id)
        .bind(u.kind.as_str())
        .bind(&u.phone)
        .bind(&u.partner)
        .bind(&u.visible_id)
        .bind(&u.display_name)
        .bind(&u.avatar)
        .bind(u.authkey.as_slice())
        .bind(&u.token_hash)
        .bind(&u.bundle.identity_key)
        .bind(&u.bundle.signing_key)
        .bind(spk.id as i64)
        .bind(&spk.key)
        .bind(&spk.signature)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
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
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        let user = row.as_ref().map(from_row).transpose()?;
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
        let row = sqlx::query(&sql).bind(phone).fetch_optional(&self.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn partner_user(&self, partner: &str, visible_id: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE partner = ? AND visible_id = ?");
        let row =
            sqlx::query(&sql).bind(partner).bind(visible_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn avatar(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let v: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT avatar FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.flatten())
    }

    pub async fn set_signed_prekey(&self, id: &str, spk: &SignedPrekey) -> Result<()> {
        sqlx::query("UPDATE users SET spk_id = ?, spk_key = ?, spk_sig = ? WHERE id = ?")
            .bind(spk.id as i64)
            .bind(&spk.key)
            .bind(&spk.signature)
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.cache.bump();
        self.cache.users().remove(id);
        Ok(())
    }

    pub async fn touch_user(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET last_seen_ms = ? WHERE id = ?")
            .bind(interop_proto::now_ms() as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes a user with its keys and mailbox (un-enlistment).
    pub async fn delete_user(&self, id: &str) -> Result<()> {
        self.cache.users().remove(id);
        self.cache.blocks().clear();
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM users WHERE id = ?",
            "DELETE FROM one_time_keys WHERE user = ?",
            "DELETE FROM mailbox WHERE recipient = ?",
            "DELETE FROM group_members WHERE user = ?",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Partner users whose channel was last open before `before_ms`.
    pub async fn stale_partner_users(&self, before_ms: u64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM users WHERE kind = 'partner' AND last_seen_ms < ?")
            .bind(before_ms as i64)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?;
        Ok(n as u64)
    }
}
