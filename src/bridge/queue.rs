//! One ordered worker per portal and direction.
//!
//! Work for a portal is stored in `portal_queue` first; then the portal's worker for its
//! [`Direction`] is woken. Each direction has an order and a worker of its own, so a backlog one
//! way (Matrix can push faster than the gatekeeper takes) does not hold up the other. Across the
//! two, cause and effect keeps the order: a reply, reaction, edit, delete or receipt can only
//! refer to a message its writer has seen, so that message was bridged already. After a crash
//! it may not be recorded yet; an item whose target is not found then waits while the other
//! direction has older unfinished work ([`Bridge::target_may_come`]). A worker reads the oldest
//! unfinished items of its direction (up to [`BATCH`]), applies them in order, and marks them
//! done only after they took effect (in one commit with the records of the messages they
//! bridged, [`super::mappings`]). So a crash replays them, and the
//! idempotent sends make the replay harmless: a homeserver send looks for its event first when
//! the item is a replay, and an interop message keeps a stable id, which the gatekeeper
//! de-duplicates. Which items are replays is known without writing anything down as they start:
//! every item queued before this start ([`PortalQueues::new`]) may have been applied in part by
//! the last run, and so may an item this run tried that had to wait. An item that cannot go now
//! (the gatekeeper channel is down, the homeserver is unreachable) stays at the head, so later
//! items never overtake it. Workers exit when idle and are started again by the next wake.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::sync::Notify;

use super::Bridge;
use crate::store::{Direction, NewPortalWork, StoreError};

/// How many items a worker takes from its queue at once (one write marks them done).
const BATCH: i64 = 32;
// A replay looks for its event among the sender's latest few: every item of a batch that may
// have been sent before must be among them.
const _: () = assert!(BATCH < super::once::LOOKBACK as i64);
/// How long an idle worker waits for more work before it exits.
const IDLE: Duration = Duration::from_secs(30);
/// Retry delays for work that cannot go now: doubling, capped.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// What became of one item.
#[derive(Debug)]
pub enum Outcome {
    /// It took effect, or failed for good and the user was told: mark it done.
    Done,
    /// It cannot go now; try again later, keeping it first in line.
    Later(String),
}

type PortalKey = (String, String, Direction);

/// The running workers, by portal `(owner, remote_chat)` and direction.
pub struct PortalQueues {
    workers: Mutex<HashMap<PortalKey, Arc<Notify>>>,
    /// Items up to this `seq` were queued before this start: replays.
    replays_up_to: i64,
}

impl PortalQueues {
    /// `replays_up_to`: the newest item's `seq` at start
    /// ([`crate::store::Store::last_portal_work_seq`]), read before any worker runs.
    pub fn new(replays_up_to: i64) -> Self {
        Self { workers: Mutex::default(), replays_up_to }
    }

    /// Wakes the worker of a portal's direction, starting it if needed.
    pub fn wake(&self, bridge: &Arc<Bridge>, owner: &str, remote_chat: &str, way: Direction) {
        let key = (owner.to_owned(), remote_chat.to_owned(), way);
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(notify) = workers.get(&key) {
            notify.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(key.clone(), notify.clone());
        tokio::spawn(run_worker(Arc::downgrade(bridge), key, notify));
    }

    /// Starts a worker for every portal with stored unfinished work (after a restart).
    pub async fn resume_all(&self, bridge: &Arc<Bridge>) {
        match bridge.store.portals_with_pending_work().await {
            Ok(portals) => {
                if !portals.is_empty() {
                    tracing::info!(portals = portals.len(), "resuming unfinished portal work");
                }
                for (owner, chat, way) in portals {
                    self.wake(bridge, &owner, &chat, way);
                }
            }
            Err(error) => tracing::error!(%error, "cannot read unfinished portal work"),
        }
    }

    /// Removes an exiting worker's entry (only its own: a newer worker keeps its place).
    fn retire(&self, key: &PortalKey, notify: &Arc<Notify>) {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        if workers.get(key).is_some_and(|current| Arc::ptr_eq(current, notify)) {
            workers.remove(key);
        }
    }
}

/// Stores portal work, in order, and marks the homeserver transactions it came from processed,
/// in one write ([`crate::store::Store::queue_portal_work`]); then wakes the workers of the
/// portals that got work. Returns how many items were newly queued (work queued before is
/// not queued again). Every way work enters a portal queue goes through here.
pub async fn store_and_wake(
    bridge: &Arc<Bridge>,
    work: &[NewPortalWork],
    processed_transactions: &[i64],
) -> Result<u64, StoreError> {
    if work.is_empty() && processed_transactions.is_empty() {
        return Ok(0);
    }
    let queued = bridge.store.queue_portal_work(work, processed_transactions).await?;
    wake_for(bridge, work);
    Ok(queued)
}

/// Wakes the worker of every portal direction that got some of `work`, once each.
pub fn wake_for(bridge: &Arc<Bridge>, work: &[NewPortalWork]) {
    let mut woken = HashSet::new();
    for item in work {
        if woken.insert((&item.owner, &item.remote_chat, item.direction)) {
            bridge.queues.wake(bridge, &item.owner, &item.remote_chat, item.direction);
        }
    }
}

async fn run_worker(bridge_weak: Weak<Bridge>, key: PortalKey, notify: Arc<Notify>) {
    let (owner, chat, way) = (&key.0, &key.1, key.2);
    let mut delay = RETRY_FIRST;
    // Items that took effect, marked done before the next read (one write for them all).
    let mut done: Vec<i64> = Vec::with_capacity(BATCH as usize);
    // Items this worker tried that had to wait: when they run again, they are replays.
    let mut tried: HashSet<i64> = HashSet::new();
    // The last batch was all there was: work queued since left a wake-up behind, so the
    // worker waits for that instead of reading the queue again first.
    let mut took_all = false;
    loop {
        let Some(bridge) = bridge_weak.upgrade() else { return };
        if let Err(error) = finish(&bridge, &done, owner, chat).await {
            // Should the bridge stop now, the finished items run again as replays, which find
            // what they sent.
            tracing::error!(%error, %owner, %chat, "cannot mark portal work done; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
            continue;
        }
        done.clear();
        let pending = match took_all {
            true => Ok(Vec::new()),
            false => bridge.store.pending_portal_work(owner, chat, way, BATCH).await,
        };
        took_all = false;
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(%error, %owner, %chat, "cannot read the portal queue; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                continue;
            }
        };
        if pending.is_empty() {
            drop(bridge);
            if tokio::time::timeout(IDLE, notify.notified()).await.is_ok() {
                continue;
            }
            // Quiet for a while: leave the map, then look once more, so work queued between
            // the last look and the removal starts a new worker instead of being stranded.
            let Some(bridge) = bridge_weak.upgrade() else { return };
            bridge.queues.retire(&key, &notify);
            let left = bridge.store.pending_portal_work(owner, chat, way, 1).await;
            if left.is_ok_and(|left| !left.is_empty()) {
                bridge.queues.wake(&bridge, owner, chat, way);
            }
            return;
        }
        let mut waits = None;
        for work in &pending {
            let replay = work.seq <= bridge.queues.replays_up_to || tried.contains(&work.seq);
            let outcome = super::dispatch::apply(&bridge, work, replay).await;
            tracing::debug!(seq = work.seq, key = %work.dedupe_key, replay, ?outcome, "applied portal work");
            match outcome {
                Outcome::Done => {
                    tried.remove(&work.seq);
                    done.push(work.seq);
                }
                Outcome::Later(reason) => {
                    // It stays first in line; the items after it wait with it.
                    tried.insert(work.seq);
                    waits = Some((work.seq, reason));
                    break;
                }
            }
        }
        let Some((seq, reason)) = waits else {
            took_all = (pending.len() as i64) < BATCH;
            delay = RETRY_FIRST;
            continue;
        };
        // Marked now rather than after the wait.
        match finish(&bridge, &done, owner, chat).await {
            Ok(()) => done.clear(),
            Err(error) => tracing::warn!(%error, "cannot mark portal work done yet"),
        }
        let wait = jittered(delay);
        tracing::info!(%owner, %chat, seq, %reason, retry_in_ms = wait.as_millis() as u64, "portal work waits");
        let connected = bridge.logins.connected.notified();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = connected => {}
        }
        delay = (delay * 2).min(RETRY_MAX);
    }
}

/// Marks the items `done` done, with the records of the messages the portal bridged
/// ([`super::mappings`]), in one commit.
async fn finish(bridge: &Bridge, done: &[i64], owner: &str, chat: &str) -> Result<(), StoreError> {
    let bridged = bridge.mappings.of_portal(owner, chat);
    bridge.store.finish_portal_work(done, &bridged).await?;
    bridge.mappings.stored(&bridged);
    Ok(())
}

/// A wait between half of `delay` and all of it. Portals that failed together (the homeserver
/// went away) then come back spread out instead of all at the same instant.
fn jittered(delay: Duration) -> Duration {
    use rand::Rng;
    let full = delay.as_millis() as u64;
    Duration::from_millis(rand::thread_rng().gen_range(full / 2..=full))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_jittered_within_half_to_full() {
        let delay = Duration::from_secs(8);
        let waits: Vec<Duration> = (0..100).map(|_| jittered(delay)).collect();
        assert!(waits.iter().all(|w| *w >= delay / 2 && *w <= delay));
        assert!(waits.iter().any(|w| *w != waits[0]), "not all the same");
    }
}
