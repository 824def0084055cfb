//! Groups and their members.

use interop_proto::stanza::GroupInfo;
use sqlx::Row;

use super::{Result, Store};

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub info: GroupInfo,
}

impl Store {
    pub async fn create_group(
        &self,
        id: &str,
        subject: &str,
        creator: &str,
        members: &[String],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO groups (id, subject, creator, created_ms) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(subject)
            .bind(creator)
            .bind(interop_proto::now_ms() as i64)
            .execute(&mut *tx)
            .await?;
        for m in members {
            sqlx::query(
                "INSERT OR IGNORE INTO group_members (group_id, user, admin) VALUES (?, ?, ?)",
            )
            .bind(id)
            .bind(m)
            .bind(m == creator)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRow>> {
        let Some(row) = sqlx::query("SELECT subject, creator, created_ms FROM groups WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let members =
            sqlx::query("SELECT user, admin FROM group_members WHERE group_id = ? ORDER BY user")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let mut info = GroupInfo {
            group: id.to_owned(),
            subject: row.try_get("subject")?,
            creator: row.try_get("creator")?,
            created: row.try_get::<i64, _>("created_ms")? as u64,
            ..Default::default()
        };
        for m in members {
            let user: String = m.try_get("user")?;
            if m.try_get::<bool, _>("admin")? {
                info.admins.push(user.clone());
            }
            info.participants.push(user);
        }
        Ok(Some(GroupRow { info }))
    }

    pub async fn update_group(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        subject: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for m in add {
            sqlx::query(
                "INSERT OR IGNORE INTO group_members (group_id, user, admin) VALUES (?, ?, 0)",
            )
            .bind(id)
            .bind(m)
            .execute(&mut *tx)
            .await?;
        }
        for m in remove {
            sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user = ?")
                .bind(id)
                .bind(m)
                .execute(&mut *tx)
                .await?;
        }
        if !subject.is_empty() {
            sqlx::query("UPDATE groups SET subject = ? WHERE id = ?")
                .bind(subject)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
