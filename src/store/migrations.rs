//! The schema migrations, compiled into the binary so it runs from any folder.

use embedded_migrations::{EmbeddedMigration, migrator};
use sqlx::migrate::{MigrateError, Migrator};

/// (version, description, sql) for SQLite and PostgreSQL; the two lists move in step.
const SQLITE: &[EmbeddedMigration] = &[
    (1, "initial", include_str!("../../migrations/sqlite/0001_initial.sql")),
    (2, "partner_keys", include_str!("../../migrations/sqlite/0002_partner_keys.sql")),
    (3, "logins", include_str!("../../migrations/sqlite/0003_logins.sql")),
    (4, "portals", include_str!("../../migrations/sqlite/0004_portals.sql")),
    (5, "relay", include_str!("../../migrations/sqlite/0005_relay.sql")),
    (6, "olm_peers", include_str!("../../migrations/sqlite/0006_olm_peers.sql")),
    (7, "queue_directions", include_str!("../../migrations/sqlite/0007_queue_directions.sql")),
];
const POSTGRES: &[EmbeddedMigration] = &[
    (1, "initial", include_str!("../../migrations/postgres/0001_initial.sql")),
    (2, "partner_keys", include_str!("../../migrations/postgres/0002_partner_keys.sql")),
    (3, "logins", include_str!("../../migrations/postgres/0003_logins.sql")),
    (4, "portals", include_str!("../../migrations/postgres/0004_portals.sql")),
    (5, "relay", include_str!("../../migrations/postgres/0005_relay.sql")),
    (6, "olm_peers", include_str!("../../migrations/postgres/0006_olm_peers.sql")),
    (7, "queue_directions", include_str!("../../migrations/postgres/0007_queue_directions.sql")),
];

pub async fn sqlite() -> Result<Migrator, MigrateError> {
    migrator(SQLITE).await
}

pub async fn postgres() -> Result<Migrator, MigrateError> {
    migrator(POSTGRES).await
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
