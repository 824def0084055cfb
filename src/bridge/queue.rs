//! One ordered worker per portal.
//!
//! Work for a portal (both directions) is stored in `portal_queue` first; then the portal's
//! worker is woken. A worker takes the oldest unfinished item, counts the attempt, applies it,
//! and marks it done only after it took effect, so a crash replays it and the idempotent sends
//! (a homeserver send looks for its event first when the item was attempted before; a stable
//! interop message id, which the gatekeeper de-duplicates) make the replay harmless. An item that cannot go now (the
//! gatekeeper channel is down, the homeserver is unreachable) stays at the head, so later
//! items never overtake it. Workers exit when idle and are started again by the next wake.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use tokio::sync::Notify;

use super::Bridge;

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

type PortalKey = (String, String);

/// The running workers, by portal `(owner, remote_chat)`.
#[derive(Default)]
pub struct PortalQueues {
    workers: Mutex<HashMap<PortalKey, Arc<Notify>>>,
}

impl PortalQueues {
    /// Wakes the worker of a portal, starting it if needed.
    pub fn wake(&self, bridge: &Arc<Bridge>, owner: &str, remote_chat: &str) {
        let key = (owner.to_owned(), remote_chat.to_owned());
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
                for (owner, chat) in portals {
                    self.wake(bridge, &owner, &chat);
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

async fn run_worker(bridge_weak: Weak<Bridge>, key: PortalKey, notify: Arc<Notify>) {
    let (owner, chat) = (&key.0, &key.1);
    let mut delay = RETRY_FIRST;
    loop {
        let Some(bridge) = bridge_weak.upgrade() else { return };
        let next = match bridge.store.next_portal_work(owner, chat).await {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(%error, %owner, %chat, "cannot read the portal queue; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                continue;
            }
        };
        let Some(work) = next else {
            drop(bridge);
            if tokio::time::timeout(IDLE, notify.notified()).await.is_ok() {
                continue;
            }
            // Quiet for a while: leave the map, then look once more, so work queued between
            // the last look and the removal starts a new worker instead of being stranded.
            let Some(bridge) = bridge_weak.upgrade() else { return };
            bridge.queues.retire(&key, &notify);
            if let Ok(Some(_)) = bridge.store.next_portal_work(owner, chat).await {
                bridge.queues.wake(&bridge, owner, chat);
            }
            return;
        };
        // Counted before it runs: should the bridge die while applying it, the next run knows
        // the item is a replay and that its sends may have happened.
        if let Err(error) = bridge.store.mark_portal_work_started(work.seq).await {
            tracing::error!(%error, seq = work.seq, "cannot record a work attempt; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
            continue;
        }
        let outcome = super::dispatch::apply(&bridge, &work).await;
        match outcome {
            Outcome::Done => {
                delay = RETRY_FIRST;
                if let Err(error) = bridge.store.finish_portal_work(work.seq).await {
                    tracing::error!(%error, seq = work.seq, "cannot mark portal work done; it will run again");
                    tokio::time::sleep(delay).await;
                }
            }
            Outcome::Later(reason) => {
                let wait = jittered(delay);
                tracing::info!(%owner, %chat, seq = work.seq, %reason, retry_in_ms = wait.as_millis() as u64, "portal work waits");
                let connected = bridge.logins.connected.notified();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = connected => {}
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
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
