//! A door in front of a server: forwards every HTTP request to it unchanged, and notes when each
//! numbered message passed through.
//!
//! With `--homeserver synapse` one stands before Synapse's client API for the bridge's requests,
//! and one before the bridge's appservice API for Synapse's pushes. The times a message passed
//! them bound the bridge's own part of its trip, which a difference of two trips through a busy
//! Synapse cannot resolve: inbound, from the contact's send until the bridge's send reached
//! Synapse; outbound, from Synapse's push until the contact decrypted the message. Both include
//! the gatekeeper's relay and the contact's encryption, so they are upper bounds.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};

use crate::seq::{self, PREFIX, Stamp};

/// Each numbered message that passed the door, by `(stream, seq)`: when it first passed, and
/// when it was sent (benchmark clock, ns).
pub type Passed = HashMap<(u32, u32), (u64, u64)>;

/// A running door; stops with the benchmark.
#[derive(Clone)]
pub struct Door {
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    passed: Mutex<Passed>,
}

impl Door {
    /// Opens a door on a loopback port in front of `upstream` (`http://host:port`).
    pub async fn open(upstream: &str) -> anyhow::Result<Door> {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            // Long enough for a `/sync` that waits for news.
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            passed: Mutex::default(),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let url = crate::standin::serve_on_loopback(app).await?;
        Ok(Door { url, shared })
    }

    /// What passed since the last call, and forgets it.
    pub fn take(&self) -> Passed {
        std::mem::take(&mut *self.shared.passed.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Headers about one connection rather than the request; the door's own client sets them.
const HOP_BY_HOP: [&str; 6] =
    ["host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"];

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = seq::now_ns();
    let stamps = stamps_in(&body);
    if !stamps.is_empty() {
        let mut passed = shared.passed.lock().unwrap_or_else(|e| e.into_inner());
        for stamp in stamps {
            passed.entry((stamp.stream, stamp.seq)).or_insert((at, stamp.sent_ns));
        }
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared.http.request(method, format!("{}{path}", shared.upstream));
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    match request.body(body).send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if !HOP_BY_HOP.contains(&name.as_str()) {
                    out.append(name, value.clone());
                }
            }
            match answer.bytes().await {
                Ok(bytes) => (status, out, Body::from(bytes)).into_response(),
                Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
            }
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Every numbered message in a body (a pushed transaction can hold several).
fn stamps_in(body: &[u8]) -> Vec<Stamp> {
    let needle = PREFIX.as_bytes();
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        if let Some(stamp) = seq::find_in_json(&rest[at..]) {
            found.push(stamp);
        }
        rest = &rest[at + needle.len()..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_numbered_message_of_a_pushed_transaction_is_found() {
        let one = Stamp { stream: 3, seq: 7, sent_ns: 11 };
        let two = Stamp { stream: 4, seq: 0, sent_ns: 12 };
        let body = format!(
            r#"{{"events":[{{"content":{{"body":"{}"}}}},{{"content":{{"body":"{}"}}}}]}}"#,
            one.body(),
            two.body()
        );
        assert_eq!(stamps_in(body.as_bytes()), vec![one, two]);
        assert!(stamps_in(b"{\"events\":[]}").is_empty());
    }
}
