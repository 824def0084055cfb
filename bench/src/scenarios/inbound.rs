//! Inbound: gatekeeper users → Matrix. Every contact sends numbered, end-to-end encrypted
//! messages to every Matrix user it has a portal with (round-robin), at a fixed total rate or as
//! fast as its channel allows; the bridge decrypts, stores, orders and sends each into its portal
//! as the contact's ghost. An arrival is the `send` at the stand-in; latency runs from the
//! moment the contact sent the message.

use std::{sync::atomic::Ordering, time::Duration};

use anyhow::Context;

use super::{Collector, Meters, RunResult, row, stream_base, with_progress};
use crate::{
    gatekeeper::{Plan, Target},
    measure::Sent,
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
    let errors_before = world.gatekeeper.counters.errors.load(Ordering::Relaxed);
    let collector = Collector::start(world.standin.subscribe());
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let meters = Meters::start(pid, &label, duration).await;
    let handles: Vec<_> = world
        .contacts
        .iter()
        .zip(plans)
        .map(|(contact, plan)| {
            let contact = contact.clone();
            tokio::spawn(async move { contact.run(plan).await })
        })
        .collect();
    let sent = with_progress(&meters, || collector.delivered(), async {
        let mut sent = Sent::new();
        for handle in handles {
            sent.extend(handle.await??);
        }
        anyhow::Ok(sent)
    })
    .await?;
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
    let errors = world.gatekeeper.counters.errors.load(Ordering::Relaxed) - errors_before;
    if errors > 0 {
        row.extra.push(("errors of the simulated gatekeeper users".into(), errors));
    }
    Ok(row)
}
