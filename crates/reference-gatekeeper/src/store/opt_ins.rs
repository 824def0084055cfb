//! Native users' opt-in to third-party chats, per partner, with their inbox choice.

use interop_proto::stanza::Inbox;

use super::{Result, Store};

impl Store {
    /// Sets the choice; `Inbox::Unspecified` means opted out.
    pub async fn set_opt_in(&self, user: &str, partner: &str, inbox: Inbox) -> Result<()> {
        if inbox == Inbox::Unspecified {
            sqlx::query("DELETE FROM opt_ins WHERE user = ? AND partner = ?")
                .bind(user)
                .bind(partner)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO opt_ins (user, partner, inbox, updated_ms) VALUES (?, ?, ?, ?)
                 ON CONFLICT (user, partner) DO UPDATE SET inbox = excluded.inbox, updated_ms = excluded.updated_ms",
            )
            .bind(user)
            .bind(partner)
            .bind(inbox as i32)
            .bind(interop_proto::now_ms() as i64)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// The inbox the user chose for this partner, `None` if not opted in.
    pub async fn opt_in(&self, user: &str, partner: &str) -> Result<Option<Inbox>> {
        let v: Option<i32> =
            sqlx::query_scalar("SELECT inbox FROM opt_ins WHERE user = ? AND partner = ?")
                .bind(user)
                .bind(partner)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.map(|i| Inbox::try_from(i).unwrap_or(Inbox::Separate)))
    }
}
