//! A minimal homeserver stand-in, in process, so the benchmark measures the bridge's own cost
//! and not a homeserver's.
//!
//! It answers only the client-server calls the bridge (and the peer appservices) make — versions,
//! register, profile, appservice ping, whoami, createRoom, join, leave, state, send, redact,
//! receipts, typing, account data, media upload, `/messages` and the bridge's `/sync` watch —
//! with minimal valid bodies, at once. Anything else answers 200 `{}`, so a framework that
//! probes other endpoints still works. What arrives is recorded cheaply: a numbered benchmark
//! message (see [`crate::seq`]) becomes a small [`Arrival`] on an unbounded channel; room
//! creations and the bot's notices are kept for the set-up, which waits on them.
//!
//! Transactions to an appservice are pushed by [`crate::pusher`], not here.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::{
    seq::{self, Stamp},
    sink::Sink,
};

/// The server name every user and room of the benchmark lives on.
pub const DOMAIN: &str = "bench.local";

/// A numbered benchmark event that reached the stand-in.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub stamp: Stamp,
    /// Nanoseconds since the benchmark's clock started ([`crate::seq::now_ns`]).
    pub at_ns: u64,
    pub kind: ArrivalKind,
    /// The number in the event id the stand-in gave it (`$e<n>`); 0 for arrivals elsewhere.
    pub event_n: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalKind {
    Message,
    Reaction,
}

/// A room created through `createRoom`: who created it, who was invited, whether it is a DM.
#[derive(Debug, Clone)]
pub struct CreatedRoom {
    pub room_id: String,
    pub creator: Option<String>,
    pub invite: Vec<String>,
    pub is_direct: bool,
}

/// A message that is not a numbered benchmark message (a bot notice, a portal notice).
#[derive(Debug, Clone)]
pub struct Notice {
    pub room_id: String,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    arrivals: Sink,
    rooms: Mutex<Vec<CreatedRoom>>,
    notices: Mutex<Vec<Notice>>,
    receipts: AtomicU64,
    next_id: AtomicU64,
    changed: Notify,
    /// as_token → the appservice's bot user id, for `whoami`.
    tokens: Mutex<HashMap<String, String>>,
}

/// Serves `app` on a free loopback port for as long as the benchmark runs; returns its URL.
pub async fn serve_on_loopback(app: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    // As Synapse (Twisted) does: no Nagle, so no answer waits for a delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// The running stand-in; cheap to clone.
#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    shared: Arc<Shared>,
}

impl StandIn {
    pub async fn start() -> anyhow::Result<StandIn> {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let url = serve_on_loopback(app).await?;
        Ok(StandIn { url, shared })
    }

    /// Numbered arrivals from now on go to the returned receiver (and no longer to any before).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Arrival> {
        self.shared.arrivals.subscribe()
    }

    /// Stops recording numbered arrivals.
    pub fn unsubscribe(&self) {
        self.shared.arrivals.unsubscribe()
    }

    /// Makes `whoami` with `as_token` answer `user_id`.
    pub fn register_appservice(&self, as_token: &str, user_id: &str) {
        let mut tokens = self.shared.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(as_token.to_owned(), user_id.to_owned());
    }

    pub fn rooms(&self) -> Vec<CreatedRoom> {
        self.shared.rooms.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn receipts(&self) -> u64 {
        self.shared.receipts.load(Ordering::Relaxed)
    }

    /// Waits until a notice in `room` contains `needle`; returns its body.
    pub async fn wait_for_notice(
        &self,
        room: &str,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        self.wait_for_notice_after(room, needle, 0, timeout).await
    }

    /// How many notices were sent to `room` so far.
    pub fn notice_count(&self, room: &str) -> usize {
        let notices = self.shared.notices.lock().unwrap_or_else(|e| e.into_inner());
        notices.iter().filter(|n| n.room_id == room).count()
    }

    /// Like [`Self::wait_for_notice`], among the notices of `room` after the first `skip`.
    pub async fn wait_for_notice_after(
        &self,
        room: &str,
        needle: &str,
        skip: usize,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            {
                let notices = self.shared.notices.lock().unwrap_or_else(|e| e.into_inner());
                let found = notices
                    .iter()
                    .filter(|n| n.room_id == room)
                    .skip(skip)
                    .find(|n| n.body.contains(needle));
                if let Some(n) = found {
                    return Ok(n.body.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let notices = self.shared.notices.lock().unwrap_or_else(|e| e.into_inner());
                let seen: Vec<&str> =
                    notices.iter().filter(|n| n.room_id == room).map(|n| n.body.as_str()).collect();
                anyhow::bail!(
                    "no notice with {needle:?} in {room} within {timeout:?}; seen {seen:?}"
                );
            }
        }
    }

    /// Waits until `pick` holds for the created rooms.
    pub async fn wait_for_rooms(
        &self,
        timeout: Duration,
        mut pick: impl FnMut(&[CreatedRoom]) -> bool,
    ) -> anyhow::Result<Vec<CreatedRoom>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            let rooms = self.rooms();
            if pick(&rooms) {
                return Ok(rooms);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!("the rooms awaited were not created within {timeout:?}");
            }
        }
    }
}

/// The user a call acts as: `?user_id=`, if any.
fn user_id_of(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "user_id")
        .map(|(_, v)| v.into_owned())
}

fn query_has(uri: &Uri, key: &str) -> bool {
    uri.query().is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == key))
}

fn ok(value: Value) -> Response {
    Json(value).into_response()
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path();
    // Fast path first: the sends the benchmark counts.
    if method == Method::PUT
        && let Some(rest) = raw_path.strip_prefix("/_matrix/client/v3/rooms/")
        && let Some((room, tail)) = rest.split_once('/')
        && tail.starts_with("send/")
    {
        return on_send(&shared, room, tail, &body);
    }
    let path = percent_decode(raw_path);
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let json_body = || serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    if path == "/_matrix/client/versions" {
        return ok(json!({"versions": ["v1.11", "v1.12"], "unstable_features": {}}));
    }
    if path.ends_with("/register") {
        let body = json_body();
        let name = body["username"].as_str().unwrap_or("someone");
        return ok(json!({"user_id": format!("@{name}:{DOMAIN}")}));
    }
    if path.ends_with("/account/whoami") {
        let user = user_id_of(&uri).or_else(|| {
            let token = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
                .or_else(|| {
                    let q = uri.query()?;
                    url::form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "access_token")
                        .map(|(_, v)| v.into_owned())
                })?;
            shared.tokens.lock().unwrap_or_else(|e| e.into_inner()).get(&token).cloned()
        });
        return match user {
            Some(user) => ok(json!({"user_id": user, "is_guest": false})),
            None => (
                StatusCode::UNAUTHORIZED,
                Json(json!({"errcode": "M_UNKNOWN_TOKEN", "error": "unknown token"})),
            )
                .into_response(),
        };
    }
    if path.contains("/appservice/") && path.ends_with("/ping") {
        return ok(json!({"duration_ms": 1}));
    }
    if path.contains("/profile/") {
        if method == Method::GET {
            let error = json!({"errcode": "M_NOT_FOUND", "error": "no profile"});
            return (StatusCode::NOT_FOUND, Json(error)).into_response();
        }
        return ok(json!({}));
    }
    if path.ends_with("/createRoom") {
        let body = json_body();
        let room_id = format!("!r{n}:{DOMAIN}");
        let invite = body["invite"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let room = CreatedRoom {
            room_id: room_id.clone(),
            creator: user_id_of(&uri),
            invite,
            is_direct: body["is_direct"].as_bool().unwrap_or(false),
        };
        shared.rooms.lock().unwrap_or_else(|e| e.into_inner()).push(room);
        shared.changed.notify_waiters();
        return ok(json!({"room_id": room_id}));
    }
    if path.starts_with("/_matrix/media/") && path.ends_with("/upload") {
        return ok(json!({"content_uri": format!("mxc://{DOMAIN}/m{n}")}));
    }
    if path.ends_with("/sync") {
        // The bridge's watch: a long poll that answers when nothing happened, as Synapse does.
        if query_has(&uri, "since") {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        return ok(json!({"next_batch": format!("s{n}")}));
    }
    if path.ends_with("/joined_rooms") {
        return ok(json!({"joined_rooms": []}));
    }
    if let Some(rest) = path.strip_prefix("/_matrix/client/v3/rooms/") {
        let room = rest.split('/').next().unwrap_or_default();
        if rest.ends_with("/join") {
            return ok(json!({"room_id": room}));
        }
        if rest.ends_with("/messages") {
            return ok(json!({"chunk": [], "start": "t0"}));
        }
        if rest.contains("/receipt/") {
            shared.receipts.fetch_add(1, Ordering::Relaxed);
            return ok(json!({}));
        }
        if rest.contains("/state/") {
            if method == Method::GET {
                return state_event(&uri, room, rest);
            }
            return ok(json!({"event_id": format!("$s{n}")}));
        }
        if rest.contains("/redact/") {
            return ok(json!({"event_id": format!("$x{n}")}));
        }
    }
    if let Some(room) = path.strip_prefix("/_matrix/client/v3/join/") {
        return ok(json!({"room_id": room}));
    }
    ok(json!({}))
}

/// `GET …/rooms/{room}/state/{type}/{key}`: a create event and empty power levels (what the
/// peers' frameworks look at before their first send), nothing else.
fn state_event(uri: &Uri, room: &str, rest: &str) -> Response {
    if rest.contains("/state/m.room.create") {
        let content = json!({"room_version": "10"});
        let as_event = uri.query().is_some_and(|q| q.contains("format=event"));
        if as_event {
            return ok(json!({
                "type": "m.room.create", "room_id": room, "event_id": "$create",
                "sender": format!("@creator:{DOMAIN}"), "origin_server_ts": 0,
                "state_key": "", "content": content,
            }));
        }
        return ok(content);
    }
    if rest.contains("/state/m.room.power_levels") {
        return ok(json!({}));
    }
    let error = json!({"errcode": "M_NOT_FOUND", "error": "no state"});
    (StatusCode::NOT_FOUND, Json(error)).into_response()
}

/// `PUT …/rooms/{room}/send/{type}/{txnId}`.
fn on_send(shared: &Shared, room: &str, tail: &str, body: &[u8]) -> Response {
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let kind = if tail.starts_with("send/m.reaction/") {
        ArrivalKind::Reaction
    } else {
        ArrivalKind::Message
    };
    match seq::find_in_json(body) {
        Some(stamp) => {
            shared.arrivals.send(Arrival { stamp, at_ns: seq::now_ns(), kind, event_n: n });
        }
        None if kind == ArrivalKind::Message => {
            let parsed = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
            let notice = Notice {
                room_id: percent_decode(room),
                body: parsed["body"].as_str().unwrap_or_default().to_owned(),
            };
            shared.notices.lock().unwrap_or_else(|e| e.into_inner()).push(notice);
            shared.changed.notify_waiters();
        }
        None => {}
    }
    ok(json!({"event_id": format!("$e{n}")}))
}

fn percent_decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StandIn {{ url: {} }}", self.url)
    }
}
