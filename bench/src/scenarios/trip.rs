//! Trip (`--homeserver synapse`): how long a message takes end to end with a real Synapse in
//! the way, and how much of that the bridge adds. Each run at the same fixed rate, spread over
//! as many rooms:
//!
//! - **baseline**: Matrix users send over the client-server API, others receive over `/sync`,
//!   in DMs laid out like the portals — Synapse alone, no bridge. Before the inbound run the
//!   senders are users of an appservice that only send, as the ghosts; before the outbound run
//!   ordinary users whose sync runs, as the bridge's users (see [`crate::synapse_world`]).
//! - **inbound**: a gatekeeper user sends an encrypted message; the bridge decrypts it and sends
//!   it into the portal as the ghost; the trip ends when the Matrix user's `/sync` returns it.
//! - **outbound**: the Matrix user sends into the portal; Synapse pushes it to the bridge, which
//!   encrypts it for the contact; the trip ends when the contact has decrypted it.
//!
//! What the bridge adds to a direction's trip is measured two ways. Its own part, door to door
//! ([`crate::door`]): inbound from the contact's send until the bridge's send reached Synapse,
//! outbound from Synapse's push until the contact decrypted the message; the target is judged
//! on it. And the trip's p50 minus the baseline's, which compares two paths through Synapse
//! and moves with it (run to run, by more than the target). The metric is latency, not
//! throughput: the rate is modest (5 messages/s by default: Synapse on two busy cores
//! applies about 10) so that nothing queues.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;

use super::{
    Collector, Meters, RunResult, Senders, contact_senders, errors_now, inbound, join_senders,
    push_errors, row, stream_base, with_progress,
};
use crate::{
    matrix_user::{Client, send_stream},
    measure::{Percentiles, Tally, settle},
    report::{Overhead, Row},
    sink::Sink,
    synapse_world::{SenderSet, SynapseWorld},
};

/// The longest Synapse may stay busy with the run before the next starts.
const SYNAPSE_SETTLE: Duration = Duration::from_secs(10);

/// Which trips to measure (each with its baseline).
#[derive(Debug, Clone, Copy)]
pub struct Directions {
    pub inbound: bool,
    pub outbound: bool,
}

/// Runs the chosen directions, each after its baseline; returns their rows, and what the
/// bridge adds to each direction's p50.
pub async fn run(
    world: &SynapseWorld,
    directions: Directions,
    duration: Duration,
    rate: f64,
    database: &str,
) -> anyhow::Result<(Vec<Row>, Vec<Overhead>)> {
    let mut rows = Vec::new();
    let mut overhead = Vec::new();
    let like_ghosts = &world.baseline.like_ghosts;
    let like_users = &world.baseline.like_users;
    if directions.inbound {
        let base = baseline(world, like_ghosts, "baseline, as ghosts", duration, rate).await?;
        let (row, mut part) = self::inbound(world, duration, rate, database).await?;
        overhead.push(Overhead::of("inbound (gatekeeper → Matrix)", &row, &base, &mut part));
        rows.extend([base, row]);
    }
    if directions.outbound {
        let base = baseline(world, like_users, "baseline, as users", duration, rate).await?;
        let (row, mut part) = self::outbound(world, duration, rate, database).await?;
        overhead.push(Overhead::of("outbound (Matrix → gatekeeper)", &row, &base, &mut part));
        rows.extend([base, row]);
    }
    Ok((rows, overhead))
}

/// Matrix → Matrix through Synapse alone, from `senders`; the subject measured is Synapse's
/// process.
async fn baseline(
    world: &SynapseWorld,
    senders: &SenderSet,
    label: &str,
    duration: Duration,
    rate: f64,
) -> anyhow::Result<Row> {
    let rooms: Vec<_> =
        senders.rooms.iter().map(|r| (&senders.senders[r.sender].client, &r.room_id)).collect();
    let answered = Arc::default();
    let start = || streams(&rooms, rate, duration, &answered);
    let pid = world.synapse.pid().context("Synapse's process id is unknown")?;
    let label = format!("{label} @{rate:.0}/s");
    let (mut row, _) =
        measured(world, &world.sink, pid, &label, "Synapse alone", start, duration).await?;
    row.target_rate = Some(rate);
    row.notes.push("CPU and RSS columns are Synapse's".into());
    push_answered(&mut row, &answered);
    push_sync_errors(world, &mut row);
    Ok(row)
}

/// Gatekeeper users → the bridge → Synapse → the Matrix users' `/sync`; with the bridge's part
/// of each trip, from the contact's send until the bridge's send reached Synapse's door.
async fn inbound(
    world: &SynapseWorld,
    duration: Duration,
    rate: f64,
    database: &str,
) -> anyhow::Result<(Row, Vec<u64>)> {
    let remote_ids: Vec<String> = world.users.iter().map(|u| u.remote_id.clone()).collect();
    let plans =
        inbound::plans(&remote_ids, world.contacts.len(), stream_base(), Some(rate), duration);
    let errors_before = errors_now(&world.gatekeeper.counters);
    let senders = || contact_senders(&world.contacts, plans);
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let label = format!("trip inbound @{rate:.0}/s");
    world.homeserver_door.take();
    let (mut row, _) =
        measured(world, &world.sink, pid, &label, "bridge", senders, duration).await?;
    let part: Vec<u64> = world
        .homeserver_door
        .take()
        .into_values()
        .map(|(passed, sent)| passed.saturating_sub(sent))
        .collect();
    row.database = database.to_owned();
    row.target_rate = Some(rate);
    push_errors(&mut row, &world.gatekeeper.counters, errors_before);
    push_sync_errors(world, &mut row);
    Ok((row, part))
}

/// The Matrix users' sends → Synapse → the bridge → the contacts; with the bridge's part of
/// each trip, from Synapse's push reaching the bridge's door until the contact decrypted it.
async fn outbound(
    world: &SynapseWorld,
    duration: Duration,
    rate: f64,
    database: &str,
) -> anyhow::Result<(Row, Vec<u64>)> {
    let rooms: Vec<_> =
        world.portals.iter().map(|p| (&world.users[p.user].matrix.client, &p.room_id)).collect();
    let answered = Arc::default();
    let senders = || streams(&rooms, rate, duration, &answered);
    let errors_before = errors_now(&world.gatekeeper.counters);
    let pid = world.bridge.pid().context("the bridge is not running")?;
    let label = format!("trip outbound @{rate:.0}/s");
    let sink = &world.gatekeeper.sink;
    world.bridge_door.take();
    let (mut row, tally) = measured(world, sink, pid, &label, "bridge", senders, duration).await?;
    let pushed = world.bridge_door.take();
    let part: Vec<u64> = pushed
        .into_iter()
        .filter_map(|((stream, seq), (passed, _))| {
            tally.arrival_ns(stream, seq).map(|arrived| arrived.saturating_sub(passed))
        })
        .collect();
    push_answered(&mut row, &answered);
    row.database = database.to_owned();
    row.target_rate = Some(rate);
    push_errors(&mut row, &world.gatekeeper.counters, errors_before);
    Ok((row, part))
}

/// Numbered messages from Matrix users, one stream (and task) per room, `rate` per second in
/// all; how long Synapse took to answer each send goes to `answered` (ns).
fn streams(
    rooms: &[(&Client, &String)],
    rate: f64,
    duration: Duration,
    answered: &Arc<Mutex<Vec<u64>>>,
) -> Senders {
    let base = stream_base();
    let per_room = rate / rooms.len().max(1) as f64;
    let rooms = rooms.iter().enumerate();
    rooms
        .map(|(i, (client, room))| {
            let answered = answered.clone();
            let sender = send_stream(
                (*client).clone(),
                (*room).clone(),
                base + i as u32,
                per_room,
                duration,
            );
            tokio::spawn(async move {
                let (sent, times) = sender.await?;
                answered.lock().unwrap_or_else(|e| e.into_inner()).extend(times);
                Ok(sent)
            })
        })
        .collect()
}

/// Adds the p50 of how long Synapse took to answer the sends to `row`.
fn push_answered(row: &mut Row, answered: &Mutex<Vec<u64>>) {
    let mut times = std::mem::take(&mut *answered.lock().unwrap_or_else(|e| e.into_inner()));
    let p50 = Percentiles::of(&mut times).p50_ms;
    row.extra.push(("p50 ms until Synapse answered a send".into(), p50.round() as u64));
}

/// Waits for Synapse and the subject to go idle, then starts the `senders` and collects from
/// `sink` while they send, and the stragglers after; returns the row, and the arrivals by
/// message.
async fn measured(
    world: &SynapseWorld,
    sink: &Sink,
    pid: u32,
    label: &str,
    subject: &str,
    senders: impl FnOnce() -> Senders,
    duration: Duration,
) -> anyhow::Result<(Row, Tally)> {
    // Work left from the run before (receipts, pushes) would count against this one.
    if let Some(synapse) = world.synapse.pid() {
        settle(synapse, SYNAPSE_SETTLE).await;
    }
    let collector = Collector::start(sink.subscribe());
    let meters = Meters::start(pid, label, duration).await;
    let senders = senders();
    let sent = with_progress(&meters, || collector.delivered(), join_senders(senders)).await;
    let sent = match sent {
        Ok(sent) => sent,
        Err(error) => {
            sink.unsubscribe();
            return Err(error.context(format!("{label}: sending failed")));
        }
    };
    let tally = with_progress(&meters, || 0, collector.finish(&sent)).await;
    sink.unsubscribe();
    let (subject_cpu_s, harness_cpu_s, peak_rss, wall_s) = meters.finish();
    let run =
        RunResult { tally: tally.clone(), sent, subject_cpu_s, harness_cpu_s, peak_rss, wall_s };
    Ok((row(label, subject, "-", run), tally))
}

fn push_sync_errors(world: &SynapseWorld, row: &mut Row) {
    let errors: u64 = world.users.iter().map(|u| u.matrix.sync_errors()).sum::<u64>()
        + world.baseline.receivers.iter().map(|u| u.sync_errors()).sum::<u64>();
    if errors > 0 {
        row.extra.push(("failed /sync requests of the Matrix users (retried)".into(), errors));
    }
}
