//! The Application Service API served on loopback with a fresh store and no homeserver, for
//! the tests that call its routes over real HTTP (`tests/appservice_api.rs`,
//! `tests/appservice_hostile.rs`).

#![allow(dead_code)]

use std::sync::{Arc, atomic::AtomicBool};

use interop_bridge::{
    appservice::{
        AppserviceState, PartnerEndpoints, router,
        txn_order::{self, TxnOrder},
    },
    config::{DatabaseConfig, DatabaseKind, UsernameTemplate},
    matrix::{Ghosts, MatrixClient},
    store::Store,
};
use interop_proto::auth::JwtSigner;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const HS_TOKEN: &str = "hs-token-for-tests-0123456789";
pub const MAX_BODY: usize = 64 * 1024;

pub struct Api {
    pub base: String,
    pub signer: Arc<JwtSigner>,
    pub http: reqwest::Client,
    pub store: Store,
    _dir: tempfile::TempDir,
}

impl Api {
    pub async fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let db = DatabaseConfig {
            kind: DatabaseKind::Sqlite,
            uri: format!("sqlite:{}", dir.path().join("bridge.db").display()),
            max_connections: 4,
        };
        let store = Store::connect(&db).await.unwrap();
        store.migrate().await.unwrap();
        // No homeserver runs here: the routes under test must not need one.
        let client = MatrixClient::new(reqwest::Client::new(), "http://127.0.0.1:9", "as-token");
        let ghosts = Ghosts::new(
            client,
            store.clone(),
            UsernameTemplate::parse("wa_{{.id}}").unwrap(),
            "example.org".into(),
        );
        let signer = Arc::new(JwtSigner::generate("partner-test"));
        let partner =
            PartnerEndpoints::new("http://127.0.0.1:29340/_interop", signer.clone()).unwrap();
        let state = Arc::new(AppserviceState {
            hs_token: HS_TOKEN.into(),
            max_body_bytes: MAX_BODY,
            protocol_id: "whatsapp".into(),
            network_name: "WhatsApp".into(),
            store: store.clone(),
            ghosts,
            wake_processor: Arc::new(Notify::new()),
            accepting: AtomicBool::new(true),
            partner,
            order: TxnOrder::new(None, txn_order::MAX_WAIT),
            door: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Api { base, signer, http: reqwest::Client::new(), store, _dir: dir }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn put_txn(&self, txn_id: &str, body: impl Into<Vec<u8>>) -> (StatusCode, Value) {
        let path = format!("/_matrix/app/v1/transactions/{txn_id}");
        self.call(Method::PUT, &path, Some(HS_TOKEN), Some(body.into())).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(HS_TOKEN), None).await
    }

    pub async fn stored_transactions(&self) -> usize {
        self.store.pending_transactions(1000).await.unwrap().len()
    }
}

pub fn errcode(body: &Value) -> &str {
    body["errcode"].as_str().unwrap_or("<none>")
}

pub fn message_event(n: u32) -> Value {
    json!({
        "type": "m.room.message", "event_id": format!("$event{n}"), "room_id": "!room:example.org",
        "sender": "@alice:example.org", "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "hi"}
    })
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
