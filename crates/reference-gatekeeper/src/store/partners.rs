//! Partner numbers: the `<n>` in a partner user's internal id `<n>-<digits>@interop`.

use super::{Result, Store};

impl Store {
    /// The partner's number, assigned on first use and kept forever.
    pub async fn partner_num(&self, partner: &str) -> Result<i64> {
        if let Some(n) = sqlx::query_scalar("SELECT num FROM partners WHERE id = ?")
            .bind(partner)
            .fetch_optional(&self.pool)
            .await?
        {
            return Ok(n);
        }
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO partners (id, num) VALUES (?, (SELECT COALESCE(MAX(num), 0) + 1 FROM partners))
             ON CONFLICT (id) DO UPDATE SET num = num RETURNING num",
        )
        .bind(partner)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }
}
