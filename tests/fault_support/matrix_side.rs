//! The Matrix end of one portal: the user sends numbered texts, replies and reactions as a real
//! client does (a failed `PUT /send` is retried with the same `txnId`), and reads what the
//! contact's ghost posts: live over `/sync` (for reply and reaction targets, and to know when
//! everything arrived), and once more over `/messages` at the end, which is what the verdict
//! is based on.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use interop_bridge::matrix::MatrixClient;
use rand::{SeedableRng, rngs::StdRng};
use ruma::{
    OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, TransactionId, UInt,
    api::client::{
        filter::RoomEventFilter, message::get_message_events, message::send_message_event,
    },
    events::{
        MessageLikeEventContent,
        reaction::ReactionEventContent,
        relation::{Annotation, Reply},
        room::message::{Relation, RoomMessageEventContent},
    },
};
use serde_json::Value;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::{
    Kind, Params, PeerMessages, kind_of,
    ledger::{Seen, Sent, Stream},
    number_in, text,
};
use crate::support::TestUser;

/// How long one send may keep failing (an outage) before the test gives up.
const SEND_DEADLINE: Duration = Duration::from_secs(120);
/// One request never takes longer than this (the client retries inside).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// One portal as its Matrix user sees it.
#[derive(Debug, Clone)]
pub struct MatrixChat {
    /// The user's label in texts (`u2`); the contact's is `gk`.
    pub label: String,
    pub room: OwnedRoomId,
    pub ghost: OwnedUserId,
}

/// Shared between the user's sender and reader: the ghost's messages seen so far (for reply
/// and reaction targets) and the user's own event ids by number (to recognise the targets of
/// the contact's replies and reactions).
#[derive(Default)]
pub struct MatrixState {
    pub peer: PeerMessages<OwnedEventId>,
    pub own: HashMap<OwnedEventId, u32>,
}

pub type Shared = Arc<Mutex<MatrixState>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, MatrixState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends the user's items, paced by `params`, recording each once the homeserver accepted it.
pub async fn send_all(
    client: MatrixClient,
    chat: MatrixChat,
    params: Params,
    stream: Arc<Stream>,
    state: Shared,
    seed: u64,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Due times, not pauses after each send: slow answers during outages do not stretch the
    // run, a sender that fell behind catches up.
    let mut due = Instant::now();
    for n in 1..=params.per_stream() {
        due += params.gap(&mut rng);
        sleep_until(due).await;
        let body = text(&chat.label, "gk", n);
        let (kind, reply, react) = {
            let mut state = lock(&state);
            match kind_of(n) {
                Kind::Reaction => (Kind::Reaction, None, state.peer.take_reaction_target()),
                Kind::Reply => (Kind::Reply, state.peer.newest(), None),
                Kind::Text => (Kind::Text, None, None),
            }
        };
        let (event_id, item) = match (kind, reply, react) {
            (Kind::Reaction, _, Some((target, event))) => {
                let content = ReactionEventContent::new(Annotation::new(event, "👍".into()));
                (put(&client, &chat.room, &content).await?, Sent::Reaction { n, target })
            }
            (Kind::Reply, Some((target, event)), _) => {
                let mut content = RoomMessageEventContent::text_plain(body);
                content.relates_to = Some(Relation::Reply(Reply::with_event_id(event)));
                let item = Sent::Text { n, reply_to: Some(target) };
                (put(&client, &chat.room, &content).await?, item)
            }
            // Nothing to reply or react to yet: a plain text instead.
            _ => {
                let content = RoomMessageEventContent::text_plain(body);
                (put(&client, &chat.room, &content).await?, Sent::Text { n, reply_to: None })
            }
        };
        lock(&state).own.insert(event_id, n);
        stream.record_sent(item);
    }
    Ok(())
}

/// `PUT /send` until the homeserver accepts it, always with the same `txnId` (what a real
/// client does), so a retry after a lost answer cannot make a second event.
async fn put<C: MessageLikeEventContent>(
    client: &MatrixClient,
    room: &RoomId,
    content: &C,
) -> anyhow::Result<OwnedEventId> {
    let txn_id = TransactionId::new();
    let deadline = Instant::now() + SEND_DEADLINE;
    loop {
        let request =
            send_message_event::v3::Request::new(room.to_owned(), txn_id.clone(), content)?;
        let error = match timeout(REQUEST_TIMEOUT, client.send(request)).await {
            Ok(Ok(response)) => return Ok(response.event_id),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if Instant::now() > deadline {
            anyhow::bail!("the homeserver did not accept a message for {SEND_DEADLINE:?}: {error}");
        }
        sleep(Duration::from_millis(300)).await;
    }
}

/// Reads the portal over `/sync` until `stop`, recording the ghost's items as they arrive.
/// Returns the user, whose sync position the caller may go on with.
pub async fn read_live(
    mut user: TestUser,
    chat: MatrixChat,
    stream: Arc<Stream>,
    state: Shared,
    stop: Arc<AtomicBool>,
) -> TestUser {
    while !stop.load(Ordering::Acquire) {
        let events = match user.take_timeline(&chat.room, Duration::from_secs(2)).await {
            Ok(events) => events,
            Err(_) => {
                // The homeserver is restarting; the sync position is kept, nothing is skipped.
                sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        for raw in events {
            let Ok(json) = serde_json::from_str::<Value>(raw.json().get()) else { continue };
            let mut state = lock(&state);
            if let Some(seen) = seen_from(&json, &chat, &state.own) {
                if let (Seen::Text { n, .. }, Some(id)) = (&seen, event_id(&json)) {
                    state.peer.push(*n, id);
                }
                stream.record_seen(seen);
            }
        }
    }
    user
}

/// The whole portal timeline over `/messages`, oldest first: the ghost's items as the verdict
/// counts them. The user's own events give the numbers of reply and reaction targets.
pub async fn read_all(client: &MatrixClient, chat: &MatrixChat) -> anyhow::Result<Vec<Seen>> {
    let mut events = Vec::new();
    let mut from = None;
    loop {
        let mut request = get_message_events::v3::Request::forward(chat.room.clone());
        request.from = from.clone();
        request.limit = UInt::from(500u32);
        request.filter = RoomEventFilter::default();
        let response = client.send(request).await.context("reading the portal")?;
        let done = response.chunk.is_empty() || response.end.is_none();
        for raw in &response.chunk {
            events.push(serde_json::from_str::<Value>(raw.json().get())?);
        }
        if done {
            break;
        }
        from = response.end;
    }
    let own: HashMap<OwnedEventId, u32> = events
        .iter()
        .filter(|e| e["sender"] != chat.ghost.as_str() && e["type"] == "m.room.message")
        .filter_map(|e| {
            let n = number_in(e["content"]["body"].as_str()?, &chat.label, "gk")?;
            Some((event_id(e)?, n))
        })
        .collect();
    Ok(events.iter().filter_map(|e| seen_from(e, chat, &own)).collect())
}

fn event_id(json: &Value) -> Option<OwnedEventId> {
    json["event_id"].as_str().and_then(|id| id.try_into().ok())
}

/// What a timeline event is for the verdict, if the ghost sent it.
fn seen_from(json: &Value, chat: &MatrixChat, own: &HashMap<OwnedEventId, u32>) -> Option<Seen> {
    if json["sender"] != chat.ghost.as_str() {
        return None;
    }
    let content = &json["content"];
    let target_of = |value: &Value| {
        let id: Option<OwnedEventId> = value.as_str().and_then(|id| id.try_into().ok());
        id.and_then(|id| own.get(&id).copied())
    };
    match json["type"].as_str()? {
        "m.room.message" => {
            let body = content["body"].as_str().unwrap_or_default();
            Some(match number_in(body, "gk", &chat.label) {
                // The warm-up message, before the books were opened.
                Some(0) => return None,
                Some(n) => Seen::Text {
                    n,
                    reply_to: target_of(&content["m.relates_to"]["m.in_reply_to"]["event_id"]),
                },
                None => Seen::Unexpected(format!("ghost message {body:?}")),
            })
        }
        "m.reaction" => Some(match target_of(&content["m.relates_to"]["event_id"]) {
            Some(target) => Seen::Reaction { target },
            None => Seen::Unexpected(format!("reaction {content}")),
        }),
        // Membership, profile and other state the ghost sets is not part of the stream.
        _ => None,
    }
}
