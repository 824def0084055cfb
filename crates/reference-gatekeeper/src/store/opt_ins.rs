//! Native users' opt-in to third-party chats, per partner, with their inbox choice.

use interop_proto::stanza::Inbox;

use rusqlite::params;

use super::{Result, Store};

impl Store {
    /// Sets the choice; `Inbox::Unspecified` means opted out.
    pub async fn set_opt_in(&self, user: &str, partner: &str, inbox: Inbox) -> Result<()> {
        let now = interop_proto::now_ms() as i64;
        self.run(|db| {
            if inbox == Inbox::Unspecified {
                db.prepare_cached("DELETE FROM opt_ins WHERE user = ? AND partner = ?")?
                    .execute(params![user, partner])?;
            } else {
                db.prepare_cached(
                    "INSERT INTO opt_ins (user, partner, inbox, updated_ms) VALUES (?, ?, ?, ?)
                     ON CONFLICT (user, partner) DO UPDATE SET inbox = excluded.inbox, updated_ms = excluded.updated_ms",
                )?
                .execute(params![user, partner, inbox as i32, now])?;
            }
            Ok(())
        })
        .await
    }

    /// The inbox the user chose for this partner, `None` if not opted in.
    pub async fn opt_in(&self, user: &str, partner: &str) -> Result<Option<Inbox>> {
        let sql = "SELECT inbox FROM opt_ins WHERE user = ? AND partner = ?";
        let v: Option<i32> = self.first(sql, (user, partner)).await?;
        Ok(v.map(|i| Inbox::try_from(i).unwrap_or(Inbox::Separate)))
    }
}
