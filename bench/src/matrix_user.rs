//! A real Matrix user on Synapse, as the benchmark plays one: a client that creates rooms,
//! joins and sends over the client-server API, and a `/sync` loop that runs for as long as the
//! user exists.
//!
//! The sync loop is where a message's trip ends: a numbered message (see [`crate::seq`]) in
//! any room becomes an [`Arrival`], timed when the sync that carried it returned, just as a
//! client would first see it. Other messages (the bot's notices, warm-ups) are kept for the
//! set-up to wait on; invitations are accepted at once and remembered with who sent them, so
//! the set-up can tell which portal belongs to which contact.
//!
//! Plain JSON over `reqwest`: the benchmark needs a handful of endpoints, and keeping the timed
//! path thin keeps the client's own cost out of the figures.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::{sync::Notify, task::JoinHandle};

use crate::{
    measure::Sent,
    pace::{Pacer, Step},
    seq::{self, Stamp},
    sink::Sink,
    standin::{Arrival, ArrivalKind},
    synapse::Synapse,
};

/// How long one `/sync` long-polls when nothing happens.
const POLL_MS: u64 = 30_000;
/// Timeline events per room and sync: high, so that no burst comes as a gap.
const FILTER: &str =
    r#"{"room":{"timeline":{"limit":1000}},"presence":{"types":[]},"account_data":{"types":[]}}"#;

/// A message that is not a numbered benchmark message.
#[derive(Debug, Clone)]
pub struct Message {
    pub room_id: String,
    pub sender: String,
    pub body: String,
}

/// An invitation the user got (and accepted).
#[derive(Debug, Clone)]
pub struct Invite {
    pub room_id: String,
    /// Who invited the user (the sender of its membership event).
    pub inviter: String,
    /// The room is a Space (the bridge's inbox), not a chat.
    pub is_space: bool,
}

/// What the sync loop saw, for the set-up to wait on.
#[derive(Default)]
struct Seen {
    messages: Mutex<Vec<Message>>,
    invites: Mutex<Vec<Invite>>,
    joined: Mutex<HashSet<String>>,
    changed: Notify,
    errors: AtomicU64,
}

/// The part of a user that talks to Synapse; cheap to clone into tasks.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    /// With an appservice's token: the user it acts as (`?user_id=`).
    as_user: Option<String>,
    next_txn: Arc<AtomicU64>,
}

/// A registered user, with its sync loop running unless it only sends; the loop stops when
/// the user is dropped.
pub struct MatrixUser {
    pub user_id: String,
    pub client: Client,
    seen: Arc<Seen>,
    sync: Option<JoinHandle<()>>,
}

impl MatrixUser {
    /// Registers `localpart` on `synapse` and starts its sync loop, where numbered messages it
    /// receives from others go to `sink`. Without a sink, the user only sends and never syncs,
    /// as a bridge's ghost.
    pub async fn register(
        synapse: &Synapse,
        http: &reqwest::Client,
        localpart: &str,
        sink: Option<Sink>,
    ) -> anyhow::Result<MatrixUser> {
        let registered = synapse.register(localpart).await?;
        let client = Client {
            http: http.clone(),
            base: synapse.url(),
            token: registered.access_token,
            as_user: None,
            next_txn: Arc::new(AtomicU64::new(0)),
        };
        let seen = Arc::new(Seen::default());
        let user_id = registered.user_id;
        let sync = sink.map(|sink| {
            tokio::spawn(sync_loop(client.clone(), user_id.clone(), seen.clone(), sink))
        });
        Ok(MatrixUser { user_id, client, seen, sync })
    }

    /// Registers `localpart` in the namespace of the appservice with `as_token`: a user that
    /// only sends, the way a bridge's ghost does (the appservice's token, `?user_id=`).
    pub async fn register_appservice(
        synapse: &Synapse,
        http: &reqwest::Client,
        as_token: &str,
        localpart: &str,
    ) -> anyhow::Result<MatrixUser> {
        let mut client = Client {
            http: http.clone(),
            base: synapse.url(),
            token: as_token.to_owned(),
            as_user: None,
            next_txn: Arc::new(AtomicU64::new(0)),
        };
        let body = json!({"type": "m.login.application_service", "username": localpart,
            "inhibit_login": true});
        let answer = client.call(reqwest::Method::POST, "/register", Some(body)).await?;
        let user_id = answer["user_id"].as_str().context("register gave no user_id")?.to_owned();
        client.as_user = Some(user_id.clone());
        Ok(MatrixUser { user_id, client, seen: Arc::default(), sync: None })
    }

    /// Requests that failed in the sync loop (and were retried).
    pub fn sync_errors(&self) -> u64 {
        self.seen.errors.load(Ordering::Relaxed)
    }

    /// How many messages from `sender` in `room` the user has seen.
    pub fn message_count(&self, room: &str, sender: &str) -> usize {
        let messages = self.seen.messages.lock().unwrap_or_else(|e| e.into_inner());
        messages.iter().filter(|m| m.room_id == room && m.sender == sender).count()
    }

    /// Waits for a message from `sender` in `room`, after its first `skip`, that contains
    /// `needle`; returns its body.
    pub async fn wait_for_message(
        &self,
        room: &str,
        sender: &str,
        needle: &str,
        skip: usize,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let found = self
            .wait_for(timeout, |seen| {
                let messages = seen.messages.lock().unwrap_or_else(|e| e.into_inner());
                messages
                    .iter()
                    .filter(|m| m.room_id == room && m.sender == sender)
                    .skip(skip)
                    .find(|m| m.body.contains(needle))
                    .map(|m| m.body.clone())
            })
            .await;
        found.with_context(|| {
            let messages = self.seen.messages.lock().unwrap_or_else(|e| e.into_inner());
            let bodies: Vec<&str> = messages
                .iter()
                .filter(|m| m.room_id == room && m.sender == sender)
                .map(|m| m.body.as_str())
                .collect();
            format!(
                "{} saw no message with {needle:?} from {sender} in {room} within {timeout:?}; seen {bodies:?}",
                self.user_id
            )
        })
    }

    /// Waits until the user has joined a room it was invited to by `inviter` (not a Space).
    pub async fn wait_for_invite_from(
        &self,
        inviter: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let found = self
            .wait_for(timeout, |seen| {
                let invites = seen.invites.lock().unwrap_or_else(|e| e.into_inner());
                let joined = seen.joined.lock().unwrap_or_else(|e| e.into_inner());
                invites
                    .iter()
                    .find(|i| i.inviter == inviter && !i.is_space && joined.contains(&i.room_id))
                    .map(|i| i.room_id.clone())
            })
            .await;
        found.with_context(|| {
            format!("{} was not invited by {inviter} within {timeout:?}", self.user_id)
        })
    }

    /// Waits until the user's sync shows it joined `room`.
    pub async fn wait_joined(&self, room: &str, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for(timeout, |seen| {
            seen.joined.lock().unwrap_or_else(|e| e.into_inner()).contains(room).then_some(())
        })
        .await
        .with_context(|| format!("{} did not join {room} within {timeout:?}", self.user_id))
    }

    async fn wait_for<T>(&self, timeout: Duration, find: impl Fn(&Seen) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.seen.changed.notified();
            if let Some(found) = find(&self.seen) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for MatrixUser {
    fn drop(&mut self) {
        if let Some(sync) = &self.sync {
            sync.abort();
        }
    }
}

impl Client {
    /// Creates a private chat (a DM when `is_direct`) inviting `invite`; returns its id.
    pub async fn create_room(&self, invite: &[&str], is_direct: bool) -> anyhow::Result<String> {
        let preset = if is_direct { "trusted_private_chat" } else { "private_chat" };
        let body = json!({"invite": invite, "is_direct": is_direct, "preset": preset});
        let answer = self.call(reqwest::Method::POST, "/createRoom", Some(body)).await?;
        answer["room_id"].as_str().map(str::to_owned).context("createRoom gave no room_id")
    }

    /// Sends an `m.text` message; returns once Synapse accepted it.
    pub async fn send_text(&self, room: &str, body: &str) -> anyhow::Result<()> {
        let txn = self.next_txn.fetch_add(1, Ordering::Relaxed);
        let path = format!("/rooms/{}/send/m.room.message/b{txn}", encode(room));
        let content = json!({"msgtype": "m.text", "body": body});
        self.call(reqwest::Method::PUT, &path, Some(content)).await.map(drop)
    }

    async fn join(&self, room: &str) -> anyhow::Result<()> {
        let path = format!("/rooms/{}/join", encode(room));
        self.call(reqwest::Method::POST, &path, Some(json!({}))).await.map(drop)
    }

    /// One client-server call under `/_matrix/client/v3`; fails on any status but 200.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut url = format!("{}/_matrix/client/v3{path}", self.base);
        if let Some(user) = &self.as_user {
            url.push_str(&format!("?user_id={}", encode(user)));
        }
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("calling {path}"))?;
        let status = response.status();
        let text =
            response.text().await.with_context(|| format!("reading the answer to {path}"))?;
        anyhow::ensure!(status.is_success(), "{path} answered {status}: {text}");
        serde_json::from_str(&text).with_context(|| format!("{path} answered {text:?}"))
    }
}

/// Sends numbered messages into `room` as stream `stream`, one after the other (so they keep
/// their order), `rate` per second for `duration`; returns how many it sent, and how long
/// Synapse took to answer each send (ns): the part of a trip spent before Synapse has it.
pub async fn send_stream(
    client: Client,
    room: String,
    stream: u32,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<(Sent, Vec<u64>)> {
    let mut pacer = Pacer::new(duration, rate);
    let mut seq = 0;
    let mut answered = Vec::new();
    loop {
        match pacer.step(1) {
            Step::Done => break,
            Step::Wait(wait) => tokio::time::sleep(wait).await,
            Step::Send(_) => {
                let stamp = Stamp { stream, seq, sent_ns: pacer.issue() };
                let start = seq::now_ns();
                client.send_text(&room, &stamp.body()).await?;
                answered.push(seq::now_ns() - start);
                seq += 1;
            }
        }
    }
    Ok(([(stream, seq)].into_iter().collect(), answered))
}

/// Long-polls `/sync` until the task is aborted: numbered messages from others go to `sink`,
/// the rest into `seen`; invitations are accepted.
async fn sync_loop(client: Client, me: String, seen: Arc<Seen>, sink: Sink) {
    let mut since: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/_matrix/client/v3/sync?timeout={POLL_MS}&filter={}",
            client.base,
            encode(FILTER)
        );
        if let Some(since) = &since {
            url.push_str(&format!("&since={}", encode(since)));
        }
        let answer = async {
            let response = client.http.get(&url).bearer_auth(&client.token).send().await?;
            let response = response.error_for_status()?;
            anyhow::Ok(response.json::<Value>().await?)
        }
        .await;
        let at_ns = seq::now_ns();
        let body = match answer {
            Ok(body) => body,
            Err(_) => {
                seen.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        absorb(&client, &me, &seen, &sink, &body, at_ns);
        since = body["next_batch"].as_str().map(str::to_owned).or(since);
        seen.changed.notify_waiters();
    }
}

/// Takes in one sync response.
fn absorb(client: &Client, me: &str, seen: &Seen, sink: &Sink, body: &Value, at_ns: u64) {
    let empty = serde_json::Map::new();
    let joined = body["rooms"]["join"].as_object().unwrap_or(&empty);
    for (room_id, room) in joined {
        seen.joined.lock().unwrap_or_else(|e| e.into_inner()).insert(room_id.clone());
        let events = room["timeline"]["events"].as_array().map(Vec::as_slice).unwrap_or_default();
        for event in events {
            let sender = event["sender"].as_str().unwrap_or_default();
            if event["type"] != "m.room.message" || sender == me {
                continue;
            }
            let text = event["content"]["body"].as_str().unwrap_or_default();
            match Stamp::parse(text) {
                Some(stamp) => {
                    sink.send(Arrival { stamp, at_ns, kind: ArrivalKind::Message, event_n: 0 })
                }
                None => seen.messages.lock().unwrap_or_else(|e| e.into_inner()).push(Message {
                    room_id: room_id.clone(),
                    sender: sender.to_owned(),
                    body: text.to_owned(),
                }),
            }
        }
    }
    let invited = body["rooms"]["invite"].as_object().unwrap_or(&empty);
    for (room_id, room) in invited {
        let mut invites = seen.invites.lock().unwrap_or_else(|e| e.into_inner());
        // Synapse repeats a pending invitation in later syncs until it is accepted.
        if invites.iter().any(|i| &i.room_id == room_id) {
            continue;
        }
        let state =
            room["invite_state"]["events"].as_array().map(Vec::as_slice).unwrap_or_default();
        // The invitation itself; failing that, the room's creator (a portal's is its ghost).
        let sender_of = |kind: &str, key: &str| {
            state
                .iter()
                .find(|e| e["type"] == kind && e["state_key"] == key)
                .and_then(|e| e["sender"].as_str())
        };
        let inviter = sender_of("m.room.member", me)
            .or_else(|| sender_of("m.room.create", ""))
            .unwrap_or_default()
            .to_owned();
        let is_space =
            state.iter().any(|e| e["type"] == "m.room.create" && e["content"]["type"] == "m.space");
        invites.push(Invite { room_id: room_id.clone(), inviter, is_space });
        let (client, room_id) = (client.clone(), room_id.clone());
        tokio::spawn(async move {
            // A failed join shows as a portal that never becomes joined; the set-up says so.
            let _ = client.join(&room_id).await;
        });
    }
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sync_response_gives_arrivals_messages_and_invites() {
        let me = "@u0:bench.local";
        let client = Client {
            http: reqwest::Client::new(),
            // Nothing listens there: the automatic join fails quietly.
            base: "http://127.0.0.1:9".into(),
            token: String::new(),
            as_user: None,
            next_txn: Arc::new(AtomicU64::new(0)),
        };
        let (seen, sink) = (Seen::default(), Sink::default());
        let mut arrivals = sink.subscribe();
        let stamp = Stamp { stream: 7, seq: 3, sent_ns: 5 };
        let text = |sender: &str, body: &str| json!({"type": "m.room.message", "sender": sender, "content": {"body": body}});
        let body = json!({"rooms": {
            "join": {"!p:bench.local": {"timeline": {"events": [
                text("@wa_1:bench.local", &stamp.body()),
                text("@wa_1:bench.local", "warm-up"),
                text(me, &Stamp { stream: 8, ..stamp }.body()),
            ]}}},
            "invite": {"!q:bench.local": {"invite_state": {"events": [
                {"type": "m.room.create", "state_key": "", "sender": "@wa_2:bench.local",
                 "content": {}},
                {"type": "m.room.member", "state_key": me, "sender": "@wa_2:bench.local",
                 "content": {"membership": "invite"}},
            ]}}},
        }});
        absorb(&client, me, &seen, &sink, &body, 42);
        let arrival = arrivals.try_recv().expect("the numbered message arrives");
        assert_eq!((arrival.stamp, arrival.at_ns), (stamp, 42));
        // The user's own message is no arrival.
        assert!(arrivals.try_recv().is_err());
        let messages = seen.messages.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].body, "warm-up");
        let invites = seen.invites.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(invites.len(), 1);
        assert_eq!(invites[0].inviter, "@wa_2:bench.local");
        assert!(!invites[0].is_space);
        assert!(seen.joined.lock().unwrap_or_else(|e| e.into_inner()).contains("!p:bench.local"));
    }
}
