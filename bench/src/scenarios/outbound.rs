//! Outbound: Matrix → gatekeeper users. The stand-in pushes transactions of numbered
//! `m.room.message` events from each portal's owner, one transaction at a time as Synapse does,
//! `per_txn` events each; the bridge stores, orders, converts and encrypts each for its contact,
//! who receives and decrypts it. An arrival is the decrypted message at the contact; latency
//! runs from the moment the event was due to be pushed.
//!
//! The same pushes (1 and 10 events per transaction, as fast as answered) drive the peers in
//! [`crate::peers`], so these rows are the bridge's side of that comparison.

use anyhow::Context;

use super::{
    Collector, Meters, RunResult, errors_now, push_errors, row, stream_base, with_progress,
};
use crate::{
    pusher::{self, Load, Stream},
    report::Row,
    setup::World,
};

/// The streams of a run: one per portal, written by its owner.
pub fn streams(world: &World, base: u32) -> Vec<Stream> {
    world
        .portals
        .iter()
        .enumerate()
        .map(|(i, p)| Stream {
            id: base + i as u32,
            room: p.room_id.clone(),
            sender: world.users[p.user].user_id.clone(),
        })
        .collect()
}

pub async fn run(world: &mut World, load: Load, database: &str) -> anyhow::Result<Row> {
    let label = match load.rate {
        r if r > 0.0 => format!("outbound @{r:.0}/s"),
        _ => "outbound".to_owned(),
    };
    let streams = streams(world, stream_base());
    let errors_before = errors_now(&world.gatekeeper.counters);
    let collector = Collector::start(world.gatekeeper.sink.subscribe());
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let meters = Meters::start(pid, &label, load.duration).await;
    let sent = with_progress(
        &meters,
        || collector.delivered(),
        pusher::drive(&mut world.pusher, &streams, load, Vec::new),
    )
    .await?;
    let tally = with_progress(&meters, || 0, collector.finish(&sent)).await;
    world.gatekeeper.sink.unsubscribe();
    let (subject_cpu_s, harness_cpu_s, peak_rss, wall_s) = meters.finish();
    let mut row = row(
        &label,
        "bridge",
        database,
        RunResult { tally, sent, subject_cpu_s, harness_cpu_s, peak_rss, wall_s },
    );
    row.events_per_txn = Some(load.per_txn);
    row.target_rate = (load.rate > 0.0).then_some(load.rate);
    push_errors(&mut row, &world.gatekeeper.counters, errors_before);
    Ok(row)
}
