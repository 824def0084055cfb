//! The transaction worker: applies stored transactions in the order they arrived.
//!
//! It wakes when a transaction is stored (and at start, to replay anything a crash left
//! unprocessed), hands every event to its handler, then marks the transaction processed. When
//! the homeserver may have dropped events (it went away, or the bridge started), it catches up
//! on them first ([`catch_up`]). On shutdown it goes on for up to [`SHUTDOWN_DRAIN`], so that
//! what just arrived is handled, and leaves the rest stored for the next start.

use std::{sync::Arc, time::Duration};

use tokio::sync::{Notify, watch};

use ruma::{
    UserId,
    events::{
        AnyMessageLikeEvent, AnyTimelineEvent, MessageLikeEvent, TimelineEventType,
        room::message::RoomMessageEventContent,
    },
    serde::Raw,
};

use super::{
    Bridge, BridgeError, bot, catch_up, ephemeral, portal, queue, transaction::TransactionBody,
    work::PortalWork,
};
use crate::{
    config::PermissionLevel,
    store::{Direction, NewPortalWork, StoreError, StoredTransaction},
};

/// How many stored transactions are read per round.
const BATCH: i64 = 50;
/// Processed transactions and finished portal work are kept this long (for diagnosis, and so
/// that a late redelivery still finds its de-duplication key), then pruned.
const KEEP_PROCESSED_MS: i64 = 7 * 24 * 3600 * 1000;
/// Media our users sent is hosted this long: the gatekeeper keeps undelivered messages (whose
/// recipients still have to fetch it) 30 days.
const KEEP_MEDIA_MS: i64 = 31 * 24 * 3600 * 1000;
/// How long to wait before trying a catch-up again that could not reach the homeserver.
const CATCH_UP_RETRY: Duration = Duration::from_secs(2);
/// How long a shutdown may go on processing stored transactions. Nothing is lost when it
/// stops before the end (they stay stored), and a long backlog must not hold up a restart.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
/// How often old transactions are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs until `shutdown` turns true and nothing stored is left to process, or
/// [`SHUTDOWN_DRAIN`] has passed since.
/// Typing and receipts go into `lane`, which the door shares ([`super::door`]).
pub async fn run(
    bridge: Arc<Bridge>,
    lane: Arc<ephemeral::Lane>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_prune: Option<std::time::Instant> = None;
    let mut stopping_since: Option<std::time::Instant> = None;
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(std::time::Instant::now());
            match bridge.store.prune_processed_transactions(KEEP_PROCESSED_MS).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned old processed transactions"),
                Err(error) => tracing::warn!(%error, "could not prune old transactions"),
            }
            // Hosted media outlives the gatekeeper's mailbox (30 days, protocol §9.2).
            let media_before = crate::store::now_ms() - KEEP_MEDIA_MS;
            match bridge.store.prune_partner_media(media_before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned hosted media older than 31 days"),
                Err(error) => tracing::warn!(%error, "could not prune old hosted media"),
            }
            // Finished portal work, likewise: without this the queue table only ever grows.
            match bridge.store.prune_portal_work(KEEP_PROCESSED_MS).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned old finished portal work"),
                Err(error) => tracing::warn!(%error, "could not prune old portal work"),
            }
        }
        let shutting_down = *shutdown.borrow();
        if shutting_down {
            let since = *stopping_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= SHUTDOWN_DRAIN {
                tracing::info!(
                    "stopping with transactions still stored; the next start takes them up"
                );
                return;
            }
        }
        let drained = match process_pending(&bridge, &lane, shutting_down).await {
            Ok(drained) => drained,
            Err(error) => {
                tracing::error!(%error, "cannot read stored transactions; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                false
            }
        };
        if drained {
            if *shutdown.borrow() {
                // Only a look taken on the way out is sure to have left nothing behind.
                if shutting_down {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Processes one batch; returns true when nothing is left pending (as far as it knows: a
/// transaction stored meanwhile wakes the worker).
async fn process_pending(
    bridge: &Arc<Bridge>,
    lane: &ephemeral::Lane,
    shutting_down: bool,
) -> Result<bool, crate::store::StoreError> {
    // Not on the way out: the next start catches up anyway.
    if !shutting_down && let Some(due) = bridge.catch_up.due() {
        // Transactions stored before the homeserver may have dropped events hold older events
        // than those: they go first, then the catch-up, then the rest.
        let older = bridge.store.pending_transactions_before(BATCH, due.since_ms).await?;
        if !older.is_empty() {
            process_batch(bridge, lane, older).await?;
            return Ok(false);
        }
        match catch_up::run(bridge, due.since_ms).await {
            Ok(()) => bridge.catch_up.done(due),
            Err(BridgeError::Store(error)) => return Err(error),
            Err(error) => {
                tracing::warn!(%error, "cannot catch up on dropped events yet; retrying");
                tokio::time::sleep(CATCH_UP_RETRY).await;
                return Ok(false);
            }
        }
    }
    let pending = bridge.store.pending_transactions(BATCH).await?;
    if pending.is_empty() {
        return Ok(true);
    }
    // A short batch was all there was: what arrived meanwhile left a wake-up behind, so the
    // worker need not look again first (except on the way out, when nothing wakes it).
    let all = (pending.len() as i64) < BATCH && !shutting_down;
    process_batch(bridge, lane, pending).await?;
    Ok(all)
}

async fn process_batch(
    bridge: &Arc<Bridge>,
    lane: &ephemeral::Lane,
    pending: Vec<StoredTransaction>,
) -> Result<(), StoreError> {
    // The batch's portal work is queued, and the batch marked processed, in one write: should
    // the bridge stop before it, the batch is processed again, which finds every command
    // answered.
    let mut processed = Vec::with_capacity(pending.len());
    let mut work = Vec::new();
    for transaction in pending {
        // A store failure leaves the transaction unprocessed, to be tried again in full.
        let mut queued = Vec::new();
        if let Err(error) = process_transaction(bridge, lane, &transaction, &mut queued).await {
            queue::store_and_wake(bridge, &work, &processed).await?;
            return Err(error);
        }
        work.append(&mut queued);
        processed.push(transaction.seq);
    }
    queue::store_and_wake(bridge, &work, &processed).await?;
    Ok(())
}

/// Handles a transaction's events: bot commands at once, portal events into `work`.
async fn process_transaction(
    bridge: &Arc<Bridge>,
    lane: &ephemeral::Lane,
    transaction: &StoredTransaction,
    work: &mut Vec<NewPortalWork>,
) -> Result<(), StoreError> {
    let body = match TransactionBody::parse(&transaction.body) {
        Ok(body) => body,
        Err(error) => {
            // The route validated it before storing, so this means a schema change; keep the
            // stored copy and move on instead of blocking every later transaction.
            tracing::error!(txn_id = transaction.txn_id, %error, "stored transaction is unreadable; skipped");
            return Ok(());
        }
    };
    tracing::debug!(
        txn_id = transaction.txn_id,
        events = body.events.len(),
        ephemeral = body.ephemeral().len(),
        "processing transaction"
    );
    for raw in &body.events {
        let event = match raw.deserialize() {
            Ok(event) => event,
            Err(error) => {
                let event_type = raw.get_field::<String>("type").ok().flatten().unwrap_or_default();
                tracing::debug!(event_type, %error, "ignoring an event we do not understand");
                continue;
            }
        };
        bot::handle_event(bridge, &event).await;
        work.extend(portal_work_for(bridge, raw, &event).await?);
    }
    lane.push(body.ephemeral().to_vec()).await;
    Ok(())
}

/// Puts a portal event into the portal's queue at once (see [`portal_work_for`]). Returns
/// whether the event was newly queued (an event queued before, by its transaction or by a
/// catch-up, is not queued again).
pub(super) async fn queue_portal_event(
    bridge: &Arc<Bridge>,
    raw: &Raw<AnyTimelineEvent>,
    event: &AnyTimelineEvent,
) -> Result<bool, StoreError> {
    let Some(work) = portal_work_for(bridge, raw, event).await? else { return Ok(false) };
    Ok(queue::store_and_wake(bridge, &[work], &[]).await? == 1)
}

/// The portal work an event is, if any: the owner's events, and with relay mode on, messages
/// of other users allowed to relay, are bridged in order through the portal's queue. Anyone
/// else is told once why their message stays on Matrix.
///
/// Every way an event enters a portal queue goes through here or through the door
/// ([`super::door`]), and both decide with [`route_in_portal`], so the checks cannot be missed.
async fn portal_work_for(
    bridge: &Arc<Bridge>,
    raw: &Raw<AnyTimelineEvent>,
    event: &AnyTimelineEvent,
) -> Result<Option<NewPortalWork>, StoreError> {
    if bridge.is_own_user(event.sender()) {
        return Ok(None);
    }
    let portal = match portal::by_room(bridge, event.room_id()).await {
        Ok(Some(portal)) => portal,
        Ok(None) => return Ok(None),
        Err(BridgeError::Store(error)) => return Err(error),
        Err(error) => {
            tracing::error!(%error, "a portal's stored data is damaged; the event is not bridged");
            return Ok(None);
        }
    };
    Ok(match route_in_portal(bridge, &portal, raw, event) {
        PortalRoute::Queue(work) => Some(work),
        PortalRoute::Ignore | PortalRoute::Command => None,
        PortalRoute::NotBridged => {
            not_bridged_hint(bridge, &portal, event.sender()).await;
            None
        }
    })
}

/// What a portal's event (not one of the bridge's own users') is to the portal's queue.
pub(super) enum PortalRoute {
    /// Bridged: this work goes into the portal's queue.
    Queue(NewPortalWork),
    /// Not bridged, and nothing to say: state, membership, an unknown type, a relay message
    /// that cannot be serialised.
    Ignore,
    /// A prefixed bot command: the bot answers it; it stays off the gatekeeper.
    Command,
    /// A message of somebody who may not write to this chat: they are told once why.
    NotBridged,
}

/// Whether the event is of a type portals bridge: messages, reactions and redactions.
pub(super) fn is_bridged_type(event: &AnyTimelineEvent) -> bool {
    matches!(
        event.event_type(),
        TimelineEventType::RoomMessage
            | TimelineEventType::Reaction
            | TimelineEventType::RoomRedaction
    )
}

/// Decides what a portal's event is, from memory alone (no I/O), so that the door can decide
/// it too.
pub(super) fn route_in_portal(
    bridge: &Bridge,
    portal: &portal::Portal,
    raw: &Raw<AnyTimelineEvent>,
    event: &AnyTimelineEvent,
) -> PortalRoute {
    if !is_bridged_type(event) {
        return PortalRoute::Ignore;
    }
    if let AnyTimelineEvent::MessageLike(AnyMessageLikeEvent::RoomMessage(
        MessageLikeEvent::Original(message),
    )) = event
        && bot::is_prefixed_command(bridge, message.content.body())
    {
        return PortalRoute::Command;
    }
    if portal.owner != event.sender() {
        let relayed = portal.relay
            && event.event_type() == TimelineEventType::RoomMessage
            && bridge.permission_level(event.sender()) >= PermissionLevel::Relay;
        if !relayed {
            return match event.event_type() {
                TimelineEventType::RoomMessage => PortalRoute::NotBridged,
                _ => PortalRoute::Ignore,
            };
        }
    }
    let work = PortalWork::Matrix { event: raw.clone() };
    match serde_json::to_string(&work) {
        Ok(payload) => PortalRoute::Queue(NewPortalWork {
            owner: portal.owner.to_string(),
            remote_chat: portal.remote_chat.clone(),
            direction: Direction::ToRemote,
            dedupe_key: format!("m|{}", event.event_id()),
            payload,
        }),
        Err(error) => {
            tracing::error!(%error, "cannot serialise a portal event; not bridged");
            PortalRoute::Ignore
        }
    }
}

/// Tells a user once per portal that their messages are not bridged here, and what to do.
async fn not_bridged_hint(bridge: &Bridge, portal: &portal::Portal, sender: &UserId) {
    let key = format!("not-bridged|{}|{sender}", portal.room_id);
    if !matches!(bridge.store.notice_sent(&key).await, Ok(false)) {
        return;
    }
    let network = &bridge.config.gatekeeper.network_name;
    let text = format!(
        "{sender}: your messages in this room are not sent to {network}; only {owner} writes \
         to this chat. To chat on {network} yourself, send \"login\" to {bot}; or {owner} can \
         turn on relay mode here with \"{prefix} relay on\".",
        owner = portal.owner,
        bot = bridge.bot_user_id,
        prefix = bridge.config.bridge.command_prefix,
    );
    let content = RoomMessageEventContent::notice_plain(text);
    // Replayable: a crash between posting and recording it must not post it twice.
    match portal::notice(bridge, portal, content, &key, true).await {
        Ok(()) => {
            if let Err(error) = bridge.store.mark_notice_sent(&key).await {
                tracing::warn!(%error, "cannot record a hint as sent");
            }
        }
        Err(error) => tracing::info!(%error, "cannot post a hint"),
    }
}
