//! The faults: the bridge killed with SIGKILL (sometimes again while it starts up and replays),
//! the gatekeeper stopped and started again on the same ports and data, Synapse restarted.
//! They come one after the other at random moments of the sending window, so every kind meets
//! messages in flight in both directions.

use std::time::Duration;

use rand::{Rng, rngs::StdRng, seq::SliceRandom};
use tokio::time::{Instant, sleep, sleep_until};

use super::Params;
use crate::support::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    KillBridge,
    RestartGatekeeper,
    RestartSynapse,
}

/// What was done, for the summary line.
#[derive(Debug, Default)]
pub struct Tally {
    pub bridge_kills: u32,
    /// Kills of a bridge that was still starting up (migrating, reconnecting, replaying).
    pub kills_during_start: u32,
    pub gatekeeper_restarts: u32,
    pub synapse_restarts: u32,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bridge SIGKILLs ({} of them during start-up), {} gatekeeper restarts, {} homeserver restarts",
            self.bridge_kills + self.kills_during_start,
            self.kills_during_start,
            self.gatekeeper_restarts,
            self.synapse_restarts
        )
    }
}

/// The faults of a run at their moments (offsets from the start of sending), in order.
pub fn schedule(params: &Params, rng: &mut StdRng) -> Vec<(Duration, Fault)> {
    let mut faults = Vec::new();
    faults.extend((0..params.bridge_kills).map(|_| Fault::KillBridge));
    faults.extend((0..params.gatekeeper_restarts).map(|_| Fault::RestartGatekeeper));
    faults.extend((0..params.synapse_restarts).map(|_| Fault::RestartSynapse));
    faults.shuffle(rng);
    let window = params.window.as_secs_f64();
    let mut moments: Vec<Duration> = (0..faults.len())
        .map(|_| Duration::from_secs_f64(rng.gen_range(0.02 * window..0.9 * window)))
        .collect();
    moments.sort();
    moments.into_iter().zip(faults).collect()
}

/// Applies `schedule` from `start` on; returns with everything running again.
pub async fn run(
    world: &mut World,
    schedule: &[(Duration, Fault)],
    start: Instant,
    rng: &mut StdRng,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for (at, fault) in schedule {
        sleep_until(start + *at).await;
        let began = Instant::now();
        match fault {
            Fault::KillBridge => kill_bridge(world, rng, &mut tally).await?,
            Fault::RestartGatekeeper => {
                world.gatekeeper.stop().await;
                sleep(Duration::from_millis(rng.gen_range(300..3000))).await;
                world.gatekeeper.start_again().await?;
                tally.gatekeeper_restarts += 1;
            }
            Fault::RestartSynapse => {
                tokio::task::block_in_place(|| world.synapse.restart())?;
                tally.synapse_restarts += 1;
            }
        }
        eprintln!(
            "fault injection: {fault:?} at {:.1}s, back after {:.1}s",
            at.as_secs_f64(),
            began.elapsed().as_secs_f64()
        );
    }
    Ok(tally)
}

/// SIGKILL, a short outage, and a restart; one time in three the restarted bridge is killed
/// again before it finished starting.
async fn kill_bridge(world: &mut World, rng: &mut StdRng, tally: &mut Tally) -> anyhow::Result<()> {
    tokio::task::block_in_place(|| world.bridge.kill())?;
    tally.bridge_kills += 1;
    sleep(Duration::from_millis(rng.gen_range(0..1500))).await;
    if rng.gen_bool(1.0 / 3.0) {
        world.bridge.launch()?;
        sleep(Duration::from_millis(rng.gen_range(50..1200))).await;
        tokio::task::block_in_place(|| world.bridge.kill())?;
        tally.kills_during_start += 1;
    }
    tokio::task::block_in_place(|| world.bridge.start())
}
