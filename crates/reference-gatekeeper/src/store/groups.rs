//! Groups and their members.

use interop_proto::stanza::GroupInfo;
use rusqlite::{OptionalExtension, params};

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
        let now = interop_proto::now_ms() as i64;
        self.run(|db| {
            let tx = db.transaction()?;
            tx.prepare_cached(
                "INSERT INTO groups (id, subject, creator, created_ms) VALUES (?, ?, ?, ?)",
            )?
            .execute(params![id, subject, creator, now])?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO group_members (group_id, user, admin) VALUES (?, ?, ?)",
                )?;
                for m in members {
                    insert.execute(params![id, m, m == creator])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRow>> {
        self.run(|db| {
            let Some((subject, creator, created_ms)) = db
                .prepare_cached("SELECT subject, creator, created_ms FROM groups WHERE id = ?")?
                .query_row(params![id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut info = GroupInfo {
                group: id.to_owned(),
                subject,
                creator,
                created: created_ms as u64,
                ..Default::default()
            };
            let mut statement = db.prepare_cached(
                "SELECT user, admin FROM group_members WHERE group_id = ? ORDER BY user",
            )?;
            let members = statement
                .query_map(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
            for member in members {
                let (user, admin) = member?;
                if admin {
                    info.admins.push(user.clone());
                }
                info.participants.push(user);
            }
            Ok(Some(GroupRow { info }))
        })
        .await
    }

    pub async fn update_group(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
        subject: &str,
    ) -> Result<()> {
        self.run(|db| {
            let tx = db.transaction()?;
            for m in add {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO group_members (group_id, user, admin) VALUES (?, ?, 0)",
                )?
                .execute(params![id, m])?;
            }
            for m in remove {
                tx.prepare_cached("DELETE FROM group_members WHERE group_id = ? AND user = ?")?
                    .execute(params![id, m])?;
            }
            if !subject.is_empty() {
                tx.prepare_cached("UPDATE groups SET subject = ? WHERE id = ?")?
                    .execute(params![subject, id])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
