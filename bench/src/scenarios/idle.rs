//! Idle: what many idle portals cost. The bridge is started twice against the stand-in — on
//! an empty store, then on a store holding `N` portals — and each time the benchmark measures
//! the start-up time (from spawning the process to its "bridge is running" line) and the RSS
//! once it has settled. RSS per idle portal = (RSS with N − RSS with none) / N.
//!
//! The portal rows are seeded straight into the store with SQL matching `migrations/` (the
//! bridge's own migrations are applied first, through its store API), because opening 100,000
//! portals through the bot would take far longer than the measurement. Their owners have no
//! login, so nothing but the bridge's own start-up touches them — which is the point: idle
//! portals should stay out of memory.

use std::{path::Path, time::Duration};

use sqlx::Connection as _;

use interop_bridge::{
    config::{DatabaseConfig, DatabaseKind},
    store::Store,
};

use crate::{
    bridge_proc::{BridgeProc, Database},
    measure::rss_bytes,
    report::IdleRow,
    standin::{DOMAIN, StandIn},
};

/// How long the bridge may settle after start-up before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);
/// Portal rows per INSERT statement.
const CHUNK: u64 = 1000;

pub async fn run(
    bin: &Path,
    example: &Path,
    database: &Database,
    portals: u64,
) -> anyhow::Result<IdleRow> {
    let standin = StandIn::start().await?;
    let (startup_empty, _, rss_empty) = measure(bin, example, database, &standin, 0).await?;
    let (startup, logged, rss) = measure(bin, example, database, &standin, portals).await?;
    Ok(IdleRow {
        database: label(database).to_owned(),
        portals,
        startup_empty_ms: startup_empty.as_secs_f64() * 1000.0,
        startup_ms: startup.as_secs_f64() * 1000.0,
        startup_logged_ms: logged,
        idle_rss_empty_bytes: rss_empty,
        idle_rss_bytes: rss,
        rss_per_portal_bytes: if portals > 0 {
            (rss as f64 - rss_empty as f64) / portals as f64
        } else {
            0.0
        },
    })
}

pub fn label(database: &Database) -> &'static str {
    match database {
        Database::Sqlite => "sqlite",
        Database::Postgres { .. } => "postgres",
    }
}

async fn measure(
    bin: &Path,
    example: &Path,
    database: &Database,
    standin: &StandIn,
    portals: u64,
) -> anyhow::Result<(Duration, Option<u64>, u64)> {
    let mut bridge = BridgeProc::configure(bin, example, &standin.url, database).await?;
    let result = async {
        seed(&bridge, portals).await?;
        let (startup, logged) = bridge.start().await?;
        tokio::time::sleep(SETTLE).await;
        let rss = bridge.pid().and_then(rss_bytes).unwrap_or(0);
        anyhow::Ok((startup, logged, rss))
    }
    .await;
    let stopped = bridge.stop().await;
    bridge.drop_schema().await;
    let result = result?;
    stopped?;
    Ok(result)
}

/// Migrates the bridge's store and inserts `portals` portal rows.
async fn seed(bridge: &BridgeProc, portals: u64) -> anyhow::Result<()> {
    let kind = match bridge.database {
        Database::Sqlite => DatabaseKind::Sqlite,
        Database::Postgres { .. } => DatabaseKind::Postgres,
    };
    let config = DatabaseConfig { kind, uri: bridge.database_uri.clone(), max_connections: 1 };
    let store = Store::connect(&config).await?;
    store.migrate().await?;
    let now = crate::pusher::wall_ms();
    let mut start = 0;
    let mut statements = Vec::new();
    while start < portals {
        let end = (start + CHUNK).min(portals);
        let values: Vec<String> = (start..end)
            .map(|i| {
                format!(
                    "('@idle{}:{DOMAIN}', '4916{:09}@native', '!idle{i}:{DOMAIN}', {now}, FALSE)",
                    i / 100,
                    i
                )
            })
            .collect();
        statements.push(format!(
            "INSERT INTO portals (owner, remote_chat, room_id, created_at, relay) VALUES {}",
            values.join(", ")
        ));
        start = end;
    }
    store.close().await;
    // Seeded over a connection of its own: the store's API has no bulk insert of portals.
    let count = "SELECT COUNT(*) FROM portals";
    let uri = &bridge.database_uri;
    let stored: i64 = match bridge.database {
        Database::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(uri).await?;
            let mut tx = connection.begin().await?;
            for sql in &statements {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query_scalar(count).fetch_one(&mut connection).await?
        }
        Database::Postgres { .. } => {
            let mut connection = sqlx::PgConnection::connect(uri).await?;
            let mut tx = connection.begin().await?;
            for sql in &statements {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            sqlx::query_scalar(count).fetch_one(&mut connection).await?
        }
    };
    anyhow::ensure!(
        u64::try_from(stored).ok() == Some(portals),
        "seeded {portals} portals, but the store holds {stored}"
    );
    Ok(())
}
