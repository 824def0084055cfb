//! The test user's `/sync` loop, and waiting for what arrives through it.
//!
//! Tests wait for the bridge's effects (a bot reply, a typing notice, an invite) with a
//! long-polling `/sync`, never with fixed sleeps: a wait returns as soon as the event arrives and
//! fails with a list of what did arrive when it does not.
//!
//! Every event a sync delivers is kept until a wait takes it, so an event that arrived during an
//! earlier sync is still found. A wait returns the *first* kept event that matches and removes it,
//! so two waits with the same predicate return two different events.

use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    time::Duration,
};

use anyhow::{Context, bail};
use ruma::{
    OwnedRoomId, RoomId, UInt,
    api::client::{
        filter::{FilterDefinition, RoomEventFilter},
        sync::sync_events::v3::{self as sync_events, Filter},
    },
    events::{AnyStrippedStateEvent, AnySyncEphemeralRoomEvent, AnySyncTimelineEvent},
    serde::Raw,
};
use tokio::time::Instant;

use super::{TestUser, events::describe};

/// The longest single long-poll; shorter than any HTTP or test timeout.
const MAX_POLL: Duration = Duration::from_secs(10);
/// Timeline events per room and sync; high so that bursts arrive whole, not as a gap.
const TIMELINE_LIMIT: u32 = 1000;

/// A room the user was invited to, with the stripped state the invite carries.
#[derive(Debug)]
pub struct Invite {
    pub room_id: OwnedRoomId,
    pub state: Vec<Raw<AnyStrippedStateEvent>>,
}

/// Where the user's `/sync` stands and what it received that no wait has taken yet.
#[derive(Default)]
pub(super) struct SyncState {
    since: Option<String>,
    timeline: BTreeMap<OwnedRoomId, VecDeque<Raw<AnySyncTimelineEvent>>>,
    ephemeral: BTreeMap<OwnedRoomId, VecDeque<Raw<AnySyncEphemeralRoomEvent>>>,
    invites: VecDeque<Invite>,
    /// Invites already queued, since Synapse repeats a pending invite in later syncs.
    seen_invites: HashSet<OwnedRoomId>,
}

impl SyncState {
    fn absorb(&mut self, response: &sync_events::Response) {
        for (room_id, room) in &response.rooms.join {
            if room.timeline.limited && self.since.is_some() {
                eprintln!("sync: timeline of {room_id} was limited; some events were skipped");
            }
            self.timeline
                .entry(room_id.clone())
                .or_default()
                .extend(room.timeline.events.iter().cloned());
            self.ephemeral
                .entry(room_id.clone())
                .or_default()
                .extend(room.ephemeral.events.iter().cloned());
        }
        for (room_id, room) in &response.rooms.invite {
            if self.seen_invites.insert(room_id.clone()) {
                let state = room.invite_state.events.clone();
                self.invites.push_back(Invite { room_id: room_id.clone(), state });
            }
        }
        self.since = Some(response.next_batch.clone());
    }
}

/// Removes and returns the first event in `queue` that deserialises and matches `predicate`.
fn take_first<T: serde::de::DeserializeOwned>(
    queue: Option<&mut VecDeque<Raw<T>>>,
    mut predicate: impl FnMut(&T) -> bool,
) -> Option<T> {
    let queue = queue?;
    let (index, event) = queue
        .iter()
        .enumerate()
        .filter_map(|(index, raw)| raw.deserialize().ok().map(|event| (index, event)))
        .find(|(_, event)| predicate(event))?;
    queue.remove(index);
    Some(event)
}

impl TestUser {
    /// One `/sync` that returns at once, continuing from the previous one.
    pub async fn sync_once(&mut self) -> anyhow::Result<sync_events::Response> {
        self.sync(Duration::ZERO).await
    }

    /// One `/sync` that waits up to `timeout` for something new.
    async fn sync(&mut self, timeout: Duration) -> anyhow::Result<sync_events::Response> {
        let mut request = sync_events::Request::new();
        request.since = self.sync.since.clone();
        request.timeout = Some(timeout);
        request.filter = Some(Filter::FilterDefinition(sync_filter()));
        let response = self
            .client()
            .send(request)
            .await
            .with_context(|| format!("{} syncing", self.user_id()))?;
        self.sync.absorb(&response);
        Ok(response)
    }

    /// Waits until a timeline event in `room` matches `predicate`, and returns it.
    pub async fn wait_for(
        &mut self,
        room: &RoomId,
        timeout: Duration,
        mut predicate: impl FnMut(&AnySyncTimelineEvent) -> bool,
    ) -> anyhow::Result<AnySyncTimelineEvent> {
        let found = self
            .wait_until(timeout, |sync| take_first(sync.timeline.get_mut(room), &mut predicate))
            .await?;
        match found {
            Some(event) => Ok(event),
            None => bail!(
                "{} saw no matching event in {room} within {timeout:?}; unmatched events there:\n{}",
                self.user_id(),
                self.describe_timeline(room)
            ),
        }
    }

    /// Waits until an ephemeral event (typing, receipt) in `room` matches `predicate`.
    pub async fn wait_for_ephemeral(
        &mut self,
        room: &RoomId,
        timeout: Duration,
        mut predicate: impl FnMut(&AnySyncEphemeralRoomEvent) -> bool,
    ) -> anyhow::Result<AnySyncEphemeralRoomEvent> {
        let found = self
            .wait_until(timeout, |sync| take_first(sync.ephemeral.get_mut(room), &mut predicate))
            .await?;
        found.with_context(|| {
            format!(
                "{} saw no matching ephemeral event in {room} within {timeout:?}",
                self.user_id()
            )
        })
    }

    /// Waits until the user is invited to a room it has not been handed an invite for yet.
    pub async fn wait_for_invite(&mut self, timeout: Duration) -> anyhow::Result<Invite> {
        let found = self.wait_until(timeout, |sync| sync.invites.pop_front()).await?;
        found.with_context(|| format!("{} got no invite within {timeout:?}", self.user_id()))
    }

    /// One `/sync` that waits up to `timeout` for something new, then hands over (and forgets)
    /// every timeline event of `room` that no wait has taken, oldest first.
    pub async fn take_timeline(
        &mut self,
        room: &RoomId,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Raw<AnySyncTimelineEvent>>> {
        self.sync(timeout.min(MAX_POLL)).await?;
        // Other rooms' events would pile up unread; this caller only ever reads `room`.
        self.sync.ephemeral.clear();
        let events = self.sync.timeline.remove(room).unwrap_or_default();
        self.sync.timeline.clear();
        Ok(events.into())
    }

    /// Long-polls `/sync` until `take` finds something or `timeout` passes (then `None`).
    async fn wait_until<T>(
        &mut self,
        timeout: Duration,
        mut take: impl FnMut(&mut SyncState) -> Option<T>,
    ) -> anyhow::Result<Option<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = take(&mut self.sync) {
                return Ok(Some(found));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sync(left.min(MAX_POLL)).await?;
        }
    }

    fn describe_timeline(&self, room: &RoomId) -> String {
        let Some(events) = self.sync.timeline.get(room) else {
            return "  (none: room not synced)".to_owned();
        };
        let lines: Vec<String> = events
            .iter()
            .map(|raw| match raw.deserialize() {
                Ok(event) => format!("  {}", describe(&event)),
                Err(error) => format!("  (unreadable event: {error})"),
            })
            .collect();
        if lines.is_empty() { "  (none)".to_owned() } else { lines.join("\n") }
    }
}

/// The filter of every sync: a high timeline limit, everything else as the server defaults.
fn sync_filter() -> FilterDefinition {
    let mut timeline = RoomEventFilter::default();
    timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    let mut filter = FilterDefinition::default();
    filter.room.timeline = timeline;
    filter
}
