//! The schema migrations, compiled into the binary so it runs from any folder.

use embedded_migrations::EmbeddedMigration;
use sqlx::migrate::{MigrateError, Migrator};

const SQLITE: &[EmbeddedMigration] =
    &[(1, "initial", include_str!("../../migrations/0001_initial.sql"))];

pub async fn migrator() -> Result<Migrator, MigrateError> {
    embedded_migrations::migrator(SQLITE).await
}
