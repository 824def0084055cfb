//! SQL migrations compiled into the binary, for sqlx's `Migrator`.
//!
//! sqlx's `migrate!` macro needs its `macros` feature, which the workspace leaves off to keep
//! builds lean and database-free. Both the bridge and the reference gatekeeper embed their
//! migration files with `include_str!` and hand the list here, so the binaries run from any
//! folder and share one implementation.

use std::borrow::Cow;

use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// One migration: (version, description, SQL).
pub type EmbeddedMigration = (i64, &'static str, &'static str);

#[derive(Debug)]
struct Embedded(&'static [EmbeddedMigration]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>>
    {
        let migrations = self
            .0
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// A migrator that applies `migrations` in version order.
pub async fn migrator(migrations: &'static [EmbeddedMigration]) -> Result<Migrator, MigrateError> {
    Migrator::new(Embedded(migrations)).await
}
