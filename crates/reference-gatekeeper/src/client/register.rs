//! The native HTTP API from the device's side: registration, opt-in, and
//! media upload/download.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interop_proto::content::{MediaLocation, MediaRef};
use interop_proto::e2ee::{E2ee, MAX_ONE_TIME_KEYS, OlmEndpoint};
use interop_proto::enlist::WireSignedPrekey;
use interop_proto::transport::NoiseKeypair;
use serde::de::DeserializeOwned;
use url::Url;

use super::ClientError;
use super::home::{Credentials, Home};
use super::session::Persisted;
use crate::api::{
    ApiError, MEDIA_PATH, MediaUploaded, OPT_IN_PATH, OptInRequest, PARTNER_MEDIA_PATH,
    REGISTER_PATH, RegisterRequest, RegisterResponse,
};
use crate::http::ServerInfoBody;

fn join(base: &str, path: &str) -> Result<Url, ClientError> {
    let base =
        Url::parse(base).map_err(|e| ClientError::Usage(format!("bad server URL {base}: {e}")))?;
    interop_proto::auth::join(&base, path).map_err(|e| ClientError::Usage(e.to_string()))
}

async fn answer<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp.json().await?);
    }
    let message = match resp.json::<ApiError>().await {
        Ok(e) => format!("{}: {}", e.error, e.message),
        Err(_) => status.to_string(),
    };
    Err(ClientError::Api { status: status.as_u16(), message })
}

/// What the gatekeeper says about itself at `GET /v1/info`.
pub async fn server_info(
    http: &reqwest::Client,
    server: &str,
) -> Result<ServerInfoBody, ClientError> {
    answer(http.get(join(server, "v1/info")?).send().await?).await
}

/// Registers a new device for `phone` and saves it in `home`.
pub async fn register(
    home: &Home,
    server: &str,
    phone: &str,
    name: &str,
    avatar: Vec<u8>,
) -> Result<Credentials, ClientError> {
    let http = reqwest::Client::new();
    let info = server_info(&http, server).await?;
    let noise = NoiseKeypair::generate();
    let mut e2ee = OlmEndpoint::new();
    let ids = e2ee.identity_keys();
    let spk = e2ee.signed_prekey();
    let otks = e2ee.generate_one_time_keys(MAX_ONE_TIME_KEYS);
    let req = RegisterRequest {
        phone: phone.to_owned(),
        name: name.to_owned(),
        avatar,
        authkey: noise.public().to_vec(),
        identity_key: ids.curve25519.to_vec(),
        signing_key: ids.ed25519.to_vec(),
        signed_prekey: WireSignedPrekey { id: spk.id, key: spk.key, signature: spk.signature },
        one_time_keys: otks.into_iter().map(|k| k.key).collect(),
    };
    let resp: RegisterResponse =
        answer(http.post(join(server, REGISTER_PATH)?).json(&req).send().await?).await?;
    let creds = Credentials {
        server: server.to_owned(),
        chat_url: info.chat_url,
        server_key: info.server_key,
        phone: phone.to_owned(),
        user: resp.user,
        token: resp.token,
        authkey: URL_SAFE_NO_PAD.encode(*noise.private_bytes()),
    };
    home.save(&creds, &e2ee, &Persisted::default())?;
    Ok(creds)
}

/// Opts in (`separate` / `combined`) or out (`none`) of chats from `partner`.
pub async fn opt_in(creds: &Credentials, partner: &str, inbox: &str) -> Result<(), ClientError> {
    let req = OptInRequest { partner: partner.to_owned(), inbox: inbox.to_owned() };
    let resp = reqwest::Client::new()
        .post(join(&creds.server, OPT_IN_PATH)?)
        .bearer_auth(&creds.token)
        .json(&req)
        .send()
        .await?;
    answer::<serde_json::Value>(resp).await.map(|_| ())
}

/// How a device reaches media: its server and token.
#[derive(Clone)]
pub struct MediaAccess {
    pub http: reqwest::Client,
    pub server: String,
    pub token: String,
    pub files_dir: std::path::PathBuf,
}

impl std::fmt::Debug for MediaAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaAccess {{ server: {:?} }}", self.server)
    }
}

impl MediaAccess {
    pub fn from_credentials(creds: &Credentials, files_dir: std::path::PathBuf) -> Self {
        Self {
            http: reqwest::Client::new(),
            server: creds.server.clone(),
            token: creds.token.clone(),
            files_dir,
        }
    }

    /// Uploads an encrypted blob; returns its URL on the media host.
    pub async fn upload(&self, ciphertext: Vec<u8>) -> Result<String, ClientError> {
        let resp = self
            .http
            .post(join(&self.server, MEDIA_PATH)?)
            .bearer_auth(&self.token)
            .body(ciphertext)
            .send()
            .await?;
        Ok(answer::<MediaUploaded>(resp).await?.url)
    }

    /// Downloads a blob: native media by URL, partner media through the gatekeeper.
    pub async fn download(&self, media: &MediaRef, sender: &str) -> Result<Vec<u8>, ClientError> {
        let req = match &media.location {
            Some(MediaLocation::Url(u)) => self.http.get(u.as_str()),
            Some(MediaLocation::StorageReference(r)) => {
                let mut url = join(&self.server, &format!("{PARTNER_MEDIA_PATH}/{r}"))?;
                url.query_pairs_mut().append_pair("sender", sender);
                self.http.get(url).bearer_auth(&self.token)
            }
            None => return Err(ClientError::Media("no location".into())),
        };
        let resp = req.send().await?;
        if !resp.status().is_success() {
            return Err(ClientError::Media(format!("download answered {}", resp.status())));
        }
        Ok(resp.bytes().await?.to_vec())
    }
}
