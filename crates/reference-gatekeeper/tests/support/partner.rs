//! A test partner: signs its own JWTs, serves its JWKS, push endpoint and
//! media over axum on loopback, enlists users and opens their channels.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use interop_proto::auth::{Claims, JwtSigner, Scope};
use interop_proto::e2ee::{E2ee, OlmEndpoint};
use interop_proto::enlist::{EnlistRequest, EnlistResponse, KEY_TYPE_CURVE25519, WireSignedPrekey};
use interop_proto::push::PushRequest;
use interop_proto::transport::{ClientAuth, ClientConfig, ClientHello, NoiseKeypair, PartnerAuth};
use reference_gatekeeper::client::Session;
use reference_gatekeeper::client::session::Persisted;
use reference_gatekeeper::config::PartnerConfig;
use tokio::net::TcpListener;
use url::Url;

pub const GATEKEEPER_ID: &str = "gatekeeper.example";

#[derive(Default)]
pub struct PartnerState {
    pub pushes: Mutex<Vec<(PushRequest, String)>>,
    pub blobs: Mutex<HashMap<String, Vec<u8>>>,
    pub media_auth: Mutex<Vec<String>>,
}

pub struct TestPartner {
    pub id: String,
    pub base: Url,
    pub signer: JwtSigner,
    pub state: Arc<PartnerState>,
}

/// One enlisted partner user, with its keys.
pub struct PartnerUser {
    pub visible: String,
    pub login: String,
    pub noise: NoiseKeypair,
    pub e2ee: OlmEndpoint,
}

impl TestPartner {
    /// Serves JWKS at `/.well-known/jwks.json`, push at `/push`, media at `/{ref}`.
    pub async fn start(id: &str) -> Self {
        let signer = JwtSigner::generate("p1");
        let state = Arc::new(PartnerState::default());
        let jwks = serde_json::to_value(signer.jwks()).unwrap();
        let app = Router::new()
            .route("/.well-known/jwks.json", get(move || async move { Json(jwks.clone()) }))
            .route("/push", post(push))
            .route("/{reference}", get(media))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            id: id.to_owned(),
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            signer,
            state,
        }
    }

    pub fn config(&self) -> PartnerConfig {
        PartnerConfig { id: self.id.clone(), base_url: self.base.clone() }
    }

    pub fn token(
        &self,
        signer: &JwtSigner,
        user: &str,
        scope: Scope,
        authkey: &[u8; 32],
        ttl: u64,
    ) -> String {
        let claims = Claims::new(&self.id, user, GATEKEEPER_ID, scope, ttl).with_authkey(authkey);
        signer.sign(&claims).unwrap()
    }

    /// Builds an enlistment request for a new identity.
    pub fn enlist_request(
        &self,
        visible: &str,
        signer: &JwtSigner,
    ) -> (EnlistRequest, PartnerUser) {
        let noise = NoiseKeypair::generate();
        let mut e2ee = OlmEndpoint::new();
        let ids = e2ee.identity_keys();
        let spk = e2ee.signed_prekey();
        let otks = e2ee.generate_one_time_keys(20);
        let req = EnlistRequest {
            partner: self.id.clone(),
            user: visible.to_owned(),
            authkey: noise.public().to_vec(),
            key_type: KEY_TYPE_CURVE25519,
            scheme: 1,
            identity_key: ids.curve25519.to_vec(),
            signing_key: ids.ed25519.to_vec(),
            signed_prekey: WireSignedPrekey { id: spk.id, key: spk.key, signature: spk.signature },
            one_time_keys: otks.into_iter().map(|k| k.key).collect(),
            token: self.token(signer, visible, Scope::Enlist, &noise.public(), 300),
        };
        (req, PartnerUser { visible: visible.to_owned(), login: String::new(), noise, e2ee })
    }

    /// POSTs an enlistment; returns the HTTP status and the answer.
    pub async fn post_enlist(&self, gk_http: &str, req: &EnlistRequest) -> (u16, EnlistResponse) {
        let resp = reqwest::Client::new()
            .post(format!("{gk_http}v1/enlist"))
            .json(req)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn enlist(&self, gk_http: &str, visible: &str) -> PartnerUser {
        let (req, mut user) = self.enlist_request(visible, &self.signer);
        match self.post_enlist(gk_http, &req).await {
            (200, EnlistResponse::Ok { login }) => user.login = login,
            other => panic!("enlistment failed: {other:?}"),
        }
        user
    }

    /// Opens the user's channel and wraps it in a session.
    pub async fn connect(&self, chat_url: &str, user: PartnerUser) -> Session {
        let jwt = self.token(&self.signer, &user.visible, Scope::Chat, &user.noise.public(), 300);
        let hello = ClientHello {
            version: 1,
            client: "test-partner".into(),
            auth: Some(ClientAuth::Partner(PartnerAuth { jwt, login: user.login.clone() })),
        };
        let config = ClientConfig::new(user.noise.clone(), hello);
        let (channel, server_hello) =
            interop_proto::transport::connect(chat_url, &config).await.expect("partner connects");
        Session::new(channel, &server_hello, user.e2ee, Persisted::default())
    }
}

async fn push(
    State(state): State<Arc<PartnerState>>,
    headers: HeaderMap,
    Json(body): Json<PushRequest>,
) -> StatusCode {
    let auth =
        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    state.pushes.lock().unwrap().push((body, auth));
    StatusCode::ACCEPTED
}

async fn media(
    State(state): State<Arc<PartnerState>>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Vec<u8>, StatusCode> {
    let auth =
        headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    state.media_auth.lock().unwrap().push(auth);
    state.blobs.lock().unwrap().get(&reference).cloned().ok_or(StatusCode::NOT_FOUND)
}
