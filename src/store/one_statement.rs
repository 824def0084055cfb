//! On PostgreSQL, the writes every message makes on its way, each as one statement.
//!
//! Every statement to PostgreSQL is a round trip, and the server spends more CPU on each than
//! the bridge does; `BEGIN` and `COMMIT` are two more. The login's Olm save and the item's
//! finish with its record were a transaction of two statements each, eight round trips for
//! every message. Here each is one statement, whose parts are data-modifying `WITH` clauses:
//! PostgreSQL runs a statement in a transaction of its own, so the parts are still written
//! together or not at all. Rows go in as arrays (`UNNEST`), so a statement's text does not
//! change with the number of rows.
//!
//! A prepared statement keeps the plan PostgreSQL made for it once its table looked small,
//! often while the table was still empty. A plan that scans the table takes longer with every
//! message stored, until the table is analysed. So the usual lookup, one item, is equality on
//! its key, whose plan uses the index at any size ([`finish_sql`]).
//!
//! SQLite, whose statements cost no round trip, runs the same writes statement by statement
//! in a transaction ([`super::in_transaction`]); it has no data-modifying `WITH` either.

use sqlx::PgPool;

use super::{MessageRow, OlmSave, StoreError};

/// Marks the items `done` done and records the messages they bridged.
pub(super) async fn finish_portal_work(
    pool: &PgPool,
    done: &[i64],
    bridged: &[MessageRow],
    now: i64,
) -> Result<(), StoreError> {
    let column = |get: fn(&MessageRow) -> &str| bridged.iter().map(get).collect::<Vec<_>>();
    sqlx::query(finish_sql(done.len()))
        .bind(now)
        .bind(done)
        .bind(column(|m| &m.room_id))
        .bind(column(|m| &m.event_id))
        .bind(column(|m| &m.owner))
        .bind(column(|m| &m.remote_chat))
        .bind(column(|m| &m.remote_sender))
        .bind(column(|m| &m.remote_id))
        .execute(pool)
        .await?;
    Ok(())
}

/// The statement that finishes `done` items. One item, the usual case, is found by equality on
/// its key. A batch is found with `= ANY`, which a plan made while the table was small may
/// scan it for (the benchmark's runs showed no such scan).
fn finish_sql(done: usize) -> &'static str {
    /// The records of the bridged messages, after the `WITH` that marks the items done.
    macro_rules! with_records {
        ($done:literal) => {
            concat!(
                "WITH done AS (UPDATE portal_queue SET done_at = $1 WHERE ",
                $done,
                ") INSERT INTO messages
                   (room_id, event_id, owner, remote_chat, remote_sender, remote_id, created_at)
                 SELECT room_id, event_id, owner, remote_chat, remote_sender, remote_id, $1
                 FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                   AS m (room_id, event_id, owner, remote_chat, remote_sender, remote_id)
                 ON CONFLICT DO NOTHING"
            )
        };
    }
    match done {
        1 => with_records!("seq = ($2::bigint[])[1]"),
        _ => with_records!("seq = ANY($2)"),
    }
}

/// Saves a login's Olm state if its keys are still `save.keys_version`; says whether they were.
pub(super) async fn save_olm_state(
    pool: &PgPool,
    matrix_user_id: &str,
    save: &OlmSave<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    // A row may be written once per statement: the last sealed state of a peer wins.
    let mut peers: Vec<(&str, &[u8])> = Vec::with_capacity(save.sealed_peers.len());
    for (peer, sealed) in save.sealed_peers.iter().rev() {
        if !peers.iter().any(|(seen, _)| seen == peer) {
            peers.push((peer, sealed));
        }
    }
    let (senders, ids): (Vec<&str>, Vec<&str>) =
        save.seen.iter().map(|(sender, id)| (sender.as_str(), id.as_str())).unzip();
    let updated: i64 = sqlx::query_scalar(
        "WITH login AS (
           UPDATE logins SET olm_pickle = COALESCE($1, olm_pickle), updated_at = $2
           WHERE matrix_user_id = $3 AND keys_version = $4 RETURNING 1
         ), peers AS (
           INSERT INTO olm_peers (matrix_user_id, peer, sealed)
           SELECT $3, peer, sealed FROM UNNEST($5::text[], $6::bytea[]) AS p (peer, sealed)
           WHERE EXISTS (SELECT 1 FROM login)
           ON CONFLICT (matrix_user_id, peer) DO UPDATE SET sealed = excluded.sealed
         ), seen AS (
           INSERT INTO remote_seen (matrix_user_id, sender, message_id, seen_at)
           SELECT $3, sender, message_id, $2 FROM UNNEST($7::text[], $8::text[])
             AS s (sender, message_id)
           WHERE EXISTS (SELECT 1 FROM login)
           ON CONFLICT DO NOTHING
         )
         SELECT COUNT(*) FROM login",
    )
    .bind(save.sealed_core)
    .bind(now)
    .bind(matrix_user_id)
    .bind(save.keys_version)
    .bind(peers.iter().map(|(peer, _)| *peer).collect::<Vec<_>>())
    .bind(peers.iter().map(|(_, sealed)| *sealed).collect::<Vec<_>>())
    .bind(senders)
    .bind(ids)
    .fetch_one(pool)
    .await?;
    Ok(updated > 0)
}
