//! Inbound: gatekeeper users → Matrix. Every contact sends numbered, end-to-end encrypted
//! messages to every Matrix user it has a portal with (round-robin), at a fixed total rate or as
//! fast as its channel allows; the bridge decrypts, stores, orders and sends each into its portal
//! as the contact's ghost. An arrival is the `send` at the stand-in; latency runs from the
//! moment the contact sent the message.

use std::time::Duration;

use anyhow::Context;

use super::{
    Collector, Meters, RunResult, contact_senders, errors_now, join_senders, push_errors, row,
    stream_base, with_progress,
};
use crate::{
    gatekeeper::{Plan, Target},
    report::Row,
    setup::World,
};

/// Every contact's plan: to each of the Matrix users (by gatekeeper id) in turn, in stream
/// `base + contact × users + user`, at `rate` messages/s in all (`None`: as fast as possible).
pub fn plans(
    remote_ids: &[String],
    contacts: usize,
    base: u32,
    rate: Option<f64>,
    duration: Duration,
) -> Vec<Plan> {
    let users = remote_ids.len() as u32;
    (0..contacts as u32)
        .map(|c| Plan {
            targets: remote_ids
                .iter()
                .enumerate()
                .map(|(u, to)| Target { to: to.clone(), stream: base + c * users + u as u32 })
                .collect(),
            rate: rate.map_or(0.0, |r| r / contacts.max(1) as f64),
            duration,
        })
        .collect()
}

/// `rate`: messages/s in all, or `None` for as fast as possible.
pub async fn run(
    world: &mut World,
    duration: Duration,
    rate: Option<f64>,
    database: &str,
) -> anyhow::Result<Row> {
    let label = match rate {
        Some(r) => format!("inbound @{r:.0}/s"),
        None => "inbound".to_owned(),
    };
    let remote_ids: Vec<String> = world.users.iter().map(|u| u.remote_id.clone()).collect();
    let plans = plans(&remote_ids, world.contacts.len(), stream_base(), rate, duration);
    let errors_before = errors_now(&world.gatekeeper.counters);
    let collector = Collector::start(world.standin.subscribe());
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let meters = Meters::start(pid, &label, duration).await;
    let senders = contact_senders(&world.contacts, plans);
    let sent = with_progress(&meters, || collector.delivered(), join_senders(senders)).await?;
    let tally = with_progress(&meters, || 0, collector.finish(&sent)).await;
    world.standin.unsubscribe();
    let (subject_cpu_s, harness_cpu_s, peak_rss, wall_s) = meters.finish();
    let mut row = row(
        &label,
        "bridge",
        database,
        RunResult { tally, sent, subject_cpu_s, harness_cpu_s, peak_rss, wall_s },
    );
    row.target_rate = rate;
    push_errors(&mut row, &world.gatekeeper.counters, errors_before);
    Ok(row)
}
