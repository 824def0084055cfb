//! Partner numbers: the `<n>` in a partner user's internal id `<n>-<digits>@interop`.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store};

impl Store {
    /// The partner's number, assigned on first use and kept forever.
    pub async fn partner_num(&self, partner: &str) -> Result<i64> {
        self.run(|db| {
            if let Some(n) = db
                .prepare_cached("SELECT num FROM partners WHERE id = ?")?
                .query_row(params![partner], |r| r.get(0))
                .optional()?
            {
                return Ok(n);
            }
            Ok(db
                .prepare_cached(
                    "INSERT INTO partners (id, num) VALUES (?, (SELECT COALESCE(MAX(num), 0) + 1 FROM partners))
                     ON CONFLICT (id) DO UPDATE SET num = num RETURNING num",
                )?
                .query_row(params![partner], |r| r.get(0))?)
        })
        .await
    }
}
