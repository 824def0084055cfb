//! The schema migrations, compiled into the binary so it runs from any folder.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, sql) for SQLite and PostgreSQL; the two lists move in step.
const SQLITE: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/sqlite/0001_initial.sql")),
    (2, "partner_keys", include_str!("../../migrations/sqlite/0002_partner_keys.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/postgres/0001_initial.sql")),
    (2, "partner_keys", include_str!("../../migrations/postgres/0002_partner_keys.sql")),
];

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

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

pub async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(SQLITE)).await
}

pub async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(POSTGRES)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_databases_have_the_same_migrations() {
        let versions = |list: &[(i64, &'static str, &'static str)]| {
            list.iter().map(|m| (m.0, m.1)).collect::<Vec<(i64, &'static str)>>()
        };
        assert_eq!(versions(super::SQLITE), versions(super::POSTGRES));
    }
}
