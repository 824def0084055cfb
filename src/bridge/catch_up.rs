//! Catching up on portal events the homeserver never pushed.
//!
//! Synapse hands an event to its appservice sender through an in-memory queue and moves its
//! persisted stream position on before the event is in a stored transaction. If it stops in
//! between (a restart), the event is in the room but never reaches the bridge: a message lost
//! (seen in the fault-injection test, `docs/reliability.md`).
//!
//! So whenever the homeserver may have restarted — the watch below lost it, or
//! the bridge itself (re)started — the transaction worker catches up before it goes on: it first
//! applies the transactions stored before that moment (their events are older than any the
//! homeserver could have dropped), then reads every recently active portal's events since a
//! little before that moment over `/messages` and queues those to bridge (the owner's, relayed
//! ones; the same checks as for pushed events) that the bridge has not seen (the portal queue's de-duplication key makes the known ones no-ops), in timeline
//! order, and only then takes the transactions that came since. A dropped event thus takes its
//! place before everything written after it; events the homeserver still holds for the bridge
//! (its backlog after an outage of the bridge) are queued in order too, and their transactions
//! are no-ops when they come.

use std::{sync::Arc, time::Duration};

use ruma::{
    RoomId, UInt, UserId,
    api::client::{
        discovery::get_supported_versions, filter::RoomEventFilter, message::get_message_events,
    },
    events::AnyTimelineEvent,
    serde::Raw,
};
use tokio::sync::{Notify, watch};

use super::{Bridge, BridgeError, portal};
use crate::{matrix::Retry, store::now_ms};

/// Events older than this before the moment the homeserver may have dropped events are not
/// looked for: its in-memory queue holds an event for moments, and the portal queue's
/// de-duplication keys (kept 7 days) must still know every event looked at.
const LOOK_BACK_MS: i64 = 10 * 60 * 1000;
/// Events read per `/messages` page, and at most per portal.
const PAGE: u32 = 100;
const MAX_EVENTS_PER_PORTAL: usize = 5000;
/// Portals with queue activity this long before the moment are caught up; a portal quiet for
/// longer is unlikely to have had a message in the homeserver's queue just then.
const ACTIVE_WITHIN_MS: i64 = 24 * 3600 * 1000;
/// Never looked further back than this: the de-duplication keys of older events may be pruned
/// (after 7 days), and such an event would be bridged a second time.
const NEVER_BEFORE_MS: i64 = 6 * 24 * 3600 * 1000;
/// How often the watch looks for the homeserver.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Whether a catch-up is due, and since when the homeserver may have dropped events.
#[derive(Debug, Default)]
pub struct CatchUp {
    state: std::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    since_ms: Option<i64>,
    /// Counts the needs, so that one noted during a catch-up is not cleared by it.
    needs: u64,
}

/// A due catch-up: since when, and which need it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub since_ms: i64,
    needs: u64,
}

impl CatchUp {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock holds two plain numbers that are still valid.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The homeserver may have dropped events pushed until `at_ms`; the earliest such moment
    /// not yet caught up on counts.
    pub fn needed(&self, at_ms: i64) {
        let mut state = self.lock();
        state.since_ms = Some(state.since_ms.map_or(at_ms, |earlier| earlier.min(at_ms)));
        state.needs += 1;
    }

    pub fn due(&self) -> Option<Due> {
        let state = self.lock();
        state.since_ms.map(|since_ms| Due { since_ms, needs: state.needs })
    }

    /// The catch-up `due` is done; a need noted since then stays.
    pub fn done(&self, due: Due) {
        let mut state = self.lock();
        if state.needs == due.needs {
            state.since_ms = None;
        }
    }
}

/// Queues the bridged events of every recently active portal that the bridge has not seen.
pub async fn run(bridge: &Arc<Bridge>, since_ms: i64) -> Result<(), BridgeError> {
    let from_ms = (since_ms - LOOK_BACK_MS).max(now_ms() - NEVER_BEFORE_MS);
    let portals = bridge.store.portals_active_since(from_ms - ACTIVE_WITHIN_MS).await?;
    let mut queued = 0;
    for (owner, chat) in portals {
        let Ok(owner) = UserId::parse(&owner) else { continue };
        let Some(portal) = portal::find(bridge, &owner, &chat).await? else { continue };
        let events = match user_events(bridge, &portal.room_id, &portal.ghost, from_ms).await {
            Ok(events) => events,
            // This room will refuse again (the ghost left it…): do not hold up every other.
            Err(BridgeError::Matrix(error)) if is_refusal(&error) => {
                tracing::warn!(%error, room = %portal.room_id, "cannot read a portal to catch up");
                continue;
            }
            Err(error) => return Err(error),
        };
        for raw in events.iter().rev() {
            let event = match raw.deserialize() {
                Ok(event) => event,
                Err(error) => {
                    tracing::debug!(%error, room = %portal.room_id, "ignoring an event we do not understand");
                    continue;
                }
            };
            // The same checks as for pushed events: commands, relay, own ghosts, hints.
            if super::processor::queue_portal_event(bridge, raw, &event).await? {
                // Dropped by the homeserver, or still in its backlog for the bridge: either way
                // its place is here, and its transaction (if one comes) is a no-op.
                tracing::debug!(event_id = %event.event_id(), room = %portal.room_id, "queued an event from the room that the homeserver had not pushed");
                queued += 1;
            }
        }
    }
    tracing::info!(queued, "caught up on events the homeserver had not pushed");
    Ok(())
}

/// The events of the portal room's Matrix users (not the ghost's) of the bridged types, sent at
/// `from_ms` or later, newest first. Which of them are bridged (the owner's, relayed ones) is
/// decided as for pushed events.
async fn user_events(
    bridge: &Bridge,
    room: &RoomId,
    ghost: &UserId,
    from_ms: i64,
) -> Result<Vec<Raw<AnyTimelineEvent>>, BridgeError> {
    let mut filter = RoomEventFilter::default();
    filter.not_senders = vec![ghost.to_owned(), bridge.bot_user_id.clone()];
    filter.types =
        Some(["m.room.message", "m.reaction", "m.room.redaction"].map(str::to_owned).to_vec());
    // Read as the ghost, who is in every portal room.
    let client = bridge.bot.as_user(ghost);
    let mut events = Vec::new();
    let mut from = None;
    while events.len() < MAX_EVENTS_PER_PORTAL {
        let mut request = get_message_events::v3::Request::backward(room.to_owned());
        request.from = from.take();
        request.limit = UInt::from(PAGE);
        request.filter = filter.clone();
        let response = client.send(request).await?;
        let page_len = response.chunk.len();
        for raw in response.chunk {
            match id_and_time(&raw) {
                Some((_, ts)) if ts < from_ms => return Ok(events),
                _ => events.push(raw),
            }
        }
        match response.end {
            Some(end) if page_len > 0 => from = Some(end),
            _ => break,
        }
    }
    Ok(events)
}

/// A refusal the homeserver will repeat (4xx other than a rate limit).
fn is_refusal(error: &crate::matrix::MatrixError) -> bool {
    matches!(error, crate::matrix::MatrixError::Api(api)
        if api.status_code.is_client_error() && api.status_code.as_u16() != 429)
}

fn id_and_time(raw: &Raw<AnyTimelineEvent>) -> Option<(String, i64)> {
    let event_id = raw.get_field::<String>("event_id").ok().flatten()?;
    let ts = raw.get_field::<i64>("origin_server_ts").ok().flatten()?;
    Some((event_id, ts))
}

/// Asks the homeserver every [`WATCH_EVERY`] whether it is there, only to notice it going
/// away: then a catch-up is due, and the transaction worker is woken once it is back (a dropped
/// event may have been the last one, with no transaction to come after it). A restart takes
/// Synapse seconds, so it does not fit between two looks. (A long-polling `/sync` would notice
/// at once, but Synapse refuses `/sync` to an appservice's own user.)
pub async fn watch(bridge: Arc<Bridge>, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    // At start the bridge has already noted a catch-up (`run.rs`).
    let mut up = false;
    loop {
        let request = get_supported_versions::Request::new();
        let result = tokio::select! {
            // No retries inside: a failure is the news this is waiting for.
            result = bridge.bot.send_with(request, Retry::RateLimitsOnly) => result,
            _ = shutdown.changed() => return,
        };
        match result {
            Ok(_) if !up => {
                // Back after losing the homeserver (or at start): catch up now.
                up = true;
                wake.notify_one();
            }
            Ok(_) => {}
            Err(error) if up => {
                tracing::info!(%error, "lost the homeserver; catching up on events once it is back");
                bridge.catch_up.needed(now_ms());
                up = false;
            }
            Err(error) => tracing::debug!(%error, "the homeserver is still away"),
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_need_counts_and_one_noted_meanwhile_survives_the_catch_up() {
        let catch_up = CatchUp::default();
        assert_eq!(catch_up.due(), None);
        catch_up.needed(20);
        catch_up.needed(10);
        let due = catch_up.due().unwrap();
        assert_eq!(due.since_ms, 10);
        catch_up.done(due);
        assert_eq!(catch_up.due(), None);
        catch_up.needed(30);
        let due = catch_up.due().unwrap();
        catch_up.needed(40);
        catch_up.done(due);
        assert_eq!(catch_up.due().map(|d| d.since_ms), Some(30), "still due");
    }
}
