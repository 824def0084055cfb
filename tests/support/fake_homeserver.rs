//! A stand-in homeserver, for tests of the bridge binary that need no real Synapse: it answers
//! the client-server calls the bridge makes (versions, register, profile, appservice ping, join,
//! leave, send, room creation) with minimal valid bodies, records every call, and pushes
//! transactions to the bridge as a homeserver does. Faster than Synapse, and it lets a test send
//! events no real homeserver would (broken, forged, huge) and see exactly what the bridge did.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{Method, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// One client-server call the bridge made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Percent-decoded path.
    pub path: String,
    /// The `user_id` the bridge acted as (`?user_id=`), if any.
    pub user_id: Option<String>,
    pub body: Value,
}

impl Call {
    /// A message the bridge sent: `PUT …/rooms/{room}/send/m.room.message/{txn}`.
    pub fn sent_message(&self) -> Option<(&str, &str)> {
        let rest = self.path.strip_prefix("/_matrix/client/v3/rooms/")?;
        let (room, rest) = rest.split_once('/')?;
        rest.starts_with("send/m.room.message/").then_some(())?;
        Some((room, self.body["body"].as_str().unwrap_or_default()))
    }
}

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Call>>,
    /// Calls whose body contains the text are answered (and recorded) this much later.
    slow: Mutex<Vec<(String, Duration)>>,
    /// Calls to the path are answered 502 until the instant: a homeserver away.
    away: Mutex<Vec<(String, tokio::time::Instant)>>,
}

pub struct FakeHomeserver {
    pub url: String,
    recorder: Arc<Recorder>,
    http: reqwest::Client,
}

impl FakeHomeserver {
    pub async fn start() -> anyhow::Result<FakeHomeserver> {
        let recorder = Arc::new(Recorder::default());
        let app = Router::new().fallback(answer).with_state(recorder.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeHomeserver { url, recorder, http: reqwest::Client::new() })
    }

    /// Answers every call whose body contains `needle` only after `delay`, and records it
    /// then: a homeserver slow on some requests.
    pub fn slow_down(&self, needle: &str, delay: Duration) {
        let mut slow = self.recorder.slow.lock().unwrap_or_else(|e| e.into_inner());
        slow.push((needle.to_owned(), delay));
    }

    /// Answers calls to `path` with 502 for `how_long`, as a homeserver restarting would.
    pub fn away(&self, path: &str, how_long: Duration) {
        let until = tokio::time::Instant::now() + how_long;
        let mut away = self.recorder.away.lock().unwrap_or_else(|e| e.into_inner());
        away.push((path.to_owned(), until));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.recorder.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The messages sent so far, as `(room, sender, body)`; the sender is the bot if `None`.
    pub fn messages(&self) -> Vec<(String, Option<String>, String)> {
        self.calls()
            .iter()
            .filter_map(|c| {
                let (room, body) = c.sent_message()?;
                Some((room.to_owned(), c.user_id.clone(), body.to_owned()))
            })
            .collect()
    }

    /// Waits until a message whose body contains `needle` was sent to `room`, and returns the
    /// number of messages sent up to and including it.
    pub async fn wait_for_message(&self, room: &str, needle: &str) -> anyhow::Result<usize> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let messages = self.messages();
            if let Some(at) = messages.iter().position(|(r, _, b)| r == room && b.contains(needle))
            {
                return Ok(at + 1);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("no message with {needle:?} in {room}; sent: {messages:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Pushes a transaction to the bridge with `hs_token`; returns the status code.
    pub async fn push(
        &self,
        bridge_port: u16,
        hs_token: &str,
        txn_id: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<u16> {
        let url = format!("http://127.0.0.1:{bridge_port}/_matrix/app/v1/transactions/{txn_id}");
        let response = self
            .http
            .put(url)
            .bearer_auth(hs_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }
}

async fn answer(
    State(recorder): State<Arc<Recorder>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = percent_decode(uri.path());
    let user_id = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "user_id")
            .map(|(_, v)| v.into_owned())
    });
    let delay = {
        let slow = recorder.slow.lock().unwrap_or_else(|e| e.into_inner());
        let text = String::from_utf8_lossy(&body);
        slow.iter().find(|(needle, _)| text.contains(needle.as_str())).map(|(_, delay)| *delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = Call { method: method.to_string(), path: path.clone(), user_id, body };
    let is_away = {
        let away = recorder.away.lock().unwrap_or_else(|e| e.into_inner());
        let now = tokio::time::Instant::now();
        away.iter().any(|(p, until)| *p == call.path && now < *until)
    };
    let reply = match is_away {
        true => {
            let error = json!({"errcode": "M_UNKNOWN", "error": "restarting"});
            (axum::http::StatusCode::BAD_GATEWAY, Json(error)).into_response()
        }
        false => reply_to(&call, recorder.calls.lock().map(|c| c.len()).unwrap_or(0)),
    };
    recorder.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    reply
}

fn reply_to(call: &Call, n: usize) -> Response {
    let path = call.path.as_str();
    let ok = |value: Value| Json(value).into_response();
    if path == "/_matrix/client/versions" {
        return ok(json!({"versions": ["v1.11", "v1.12"], "unstable_features": {}}));
    }
    if path.ends_with("/register") {
        let name = call.body["username"].as_str().unwrap_or("someone");
        return ok(json!({"user_id": format!("@{name}:localhost")}));
    }
    if path.contains("/appservice/") && path.ends_with("/ping") {
        return ok(json!({"duration_ms": 1}));
    }
    if call.method == "GET" && path.contains("/profile/") {
        let error = json!({"errcode": "M_NOT_FOUND", "error": "no profile"});
        return (axum::http::StatusCode::NOT_FOUND, Json(error)).into_response();
    }
    if path.ends_with("/createRoom") {
        return ok(json!({"room_id": format!("!created{n}:localhost")}));
    }
    if let Some(rest) = path.strip_prefix("/_matrix/client/v3/rooms/") {
        let room = rest.split('/').next().unwrap_or_default();
        if rest.ends_with("/join") {
            return ok(json!({"room_id": room}));
        }
        // A replay's look-up of what was sent before: nothing, here.
        if rest.ends_with("/messages") {
            return ok(json!({"chunk": [], "start": "s0"}));
        }
        if rest.contains("/send/") || rest.contains("/state/") || rest.contains("/redact/") {
            return ok(json!({"event_id": format!("$fake{n}")}));
        }
    }
    if let Some(room) = path.strip_prefix("/_matrix/client/v3/join/") {
        return ok(json!({"room_id": room}));
    }
    ok(json!({}))
}

fn percent_decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
}
