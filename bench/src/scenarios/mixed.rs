//! Mixed: both directions at once, as a busy bridge sees them. Contacts send numbered messages
//! (inbound) while the stand-in pushes numbered messages from the portals' owners (outbound), at
//! half the rate each; every 10th outbound message is followed by a reaction of its sender to
//! the message before, and with every transaction the owners' read receipts for the latest
//! inbound message of each portal go along (as ephemeral events). Messages are matched and
//! timed per direction; reactions and read receipts that reached the contacts are counted.

use std::{sync::atomic::Ordering, time::Duration};

use anyhow::Context;
use serde_json::{Value, json};

use super::{
    Collector, Meters, RunResult, contact_senders, drain, inbound, join_senders, outbound, row,
    stream_base, with_progress,
};
use crate::{
    pusher::{self, Load},
    report::Row,
    setup::World,
};

/// Returns the inbound and the outbound row. `rate`: messages/s in all (`None`: as fast as
/// possible both ways).
pub async fn run(
    world: &mut World,
    duration: Duration,
    rate: Option<f64>,
    database: &str,
) -> anyhow::Result<Vec<Row>> {
    let suffix = rate.map(|r| format!(" @{r:.0}/s")).unwrap_or_default();
    let half = rate.map(|r| r / 2.0);
    let users = world.users.len() as u32;
    let in_base = stream_base();
    let remote_ids: Vec<String> = world.users.iter().map(|u| u.remote_id.clone()).collect();
    let plans = inbound::plans(&remote_ids, world.contacts.len(), in_base, half, duration);
    // Inbound stream → (portal room, owner), for the read receipts.
    let mut receipt_target = std::collections::HashMap::new();
    for p in &world.portals {
        let stream = in_base + p.contact as u32 * users + p.user as u32;
        receipt_target.insert(stream, (p.room_id.clone(), world.users[p.user].user_id.clone()));
    }
    let out_streams = outbound::streams(world, stream_base());
    let load = Load { per_txn: 10, rate: half.unwrap_or(0.0), duration, reaction_every: Some(10) };
    let counters = world.gatekeeper.counters.clone();
    let (reactions0, reads0) = (
        counters.reactions.load(Ordering::Relaxed),
        counters.read_receipts.load(Ordering::Relaxed),
    );
    let receipts_hs0 = world.standin.receipts();
    let inbound = Collector::start(world.standin.subscribe());
    let outbound_c = Collector::start(world.gatekeeper.sink.subscribe());
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let meters = Meters::start(pid, &format!("mixed{suffix}"), duration).await;
    let senders = contact_senders(&world.contacts, plans);
    let mut receipts_pushed = 0u64;
    let mut ephemeral = || -> Vec<Value> {
        let latest = inbound.take_latest();
        let mut out = Vec::new();
        for (stream, n) in latest {
            if let Some((room, owner)) = receipt_target.get(&stream) {
                let event_id = format!("$e{n}");
                out.push(json!({
                    "type": "m.receipt", "room_id": room,
                    "content": {event_id: {"m.read": {owner.clone(): {"ts": pusher::wall_ms()}}}},
                }));
                receipts_pushed += 1;
            }
        }
        out
    };
    let out_sent = with_progress(
        &meters,
        || inbound.delivered() + outbound_c.delivered(),
        pusher::drive(&mut world.pusher, &out_streams, load, &mut ephemeral),
    )
    .await?;
    let in_sent = join_senders(senders).await?;
    let (in_tally, out_tally) =
        tokio::join!(inbound.finish(&in_sent), outbound_c.finish(&out_sent));
    world.standin.unsubscribe();
    world.gatekeeper.sink.unsubscribe();
    let (subject_cpu_s, harness_cpu_s, peak_rss, wall_s) = meters.finish();
    // Receipts trail the messages in their lane: wait for them as for late messages, while
    // they keep coming (not counted in the row's time or CPU, as before).
    let reads = || counters.read_receipts.load(Ordering::Relaxed) - reads0;
    drain(|| (reads() >= receipts_pushed, reads())).await;
    // CPU and memory are shared by both directions: each row shows the whole process, per
    // message of both directions.
    let total = (in_tally.delivered() + out_tally.delivered()).max(1) as f64;
    let share = |tally: &crate::measure::Tally| subject_cpu_s * tally.delivered() as f64 / total;
    let in_cpu = share(&in_tally);
    let out_cpu = share(&out_tally);
    let mut rows = Vec::new();
    let mut in_row = row(
        &format!("mixed inbound{suffix}"),
        "bridge",
        database,
        RunResult {
            tally: in_tally,
            sent: in_sent,
            subject_cpu_s: in_cpu,
            harness_cpu_s,
            peak_rss,
            wall_s,
        },
    );
    in_row.cpu_cores = subject_cpu_s / wall_s.max(1e-9);
    in_row.target_rate = half;
    in_row.notes.push("CPU split between the directions by their message counts".into());
    in_row.extra.push(("read receipts pushed".into(), receipts_pushed));
    in_row.extra.push(("read receipts that reached the contacts".into(), reads()));
    rows.push(in_row);
    let mut out_row = row(
        &format!("mixed outbound{suffix}"),
        "bridge",
        database,
        RunResult {
            tally: out_tally,
            sent: out_sent,
            subject_cpu_s: out_cpu,
            harness_cpu_s,
            peak_rss,
            wall_s,
        },
    );
    out_row.cpu_cores = subject_cpu_s / wall_s.max(1e-9);
    out_row.events_per_txn = Some(10);
    out_row.target_rate = half;
    out_row.extra.push((
        "reactions that reached the contacts".into(),
        counters.reactions.load(Ordering::Relaxed) - reactions0,
    ));
    out_row.extra.push((
        "homeserver receipts sent by the bridge".into(),
        world.standin.receipts() - receipts_hs0,
    ));
    rows.push(out_row);
    Ok(rows)
}
