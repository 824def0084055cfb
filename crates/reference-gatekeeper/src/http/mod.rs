//! The gatekeeper's HTTP API: partner enlistment, native registration and
//! settings, media, and the gatekeeper's own JWKS.
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/v1/enlist`, `/v1/unenlist` | partner | spec §3.1 |
//! | GET | `/.well-known/jwks.json` | anyone | keys of push/media tokens |
//! | GET | `/v1/info` | anyone | id, profile, capabilities, channel URL, Noise key to pin |
//! | POST | `/v1/native/register` | native app | phone, name, avatar, keys → id + token |
//! | POST | `/v1/native/opt-in` | native (Bearer) | per partner: `separate`, `combined` or `none` |
//! | POST | `/v1/media` | native (Bearer) | upload an encrypted blob → `{url}` |
//! | GET | `/v1/media/{ref}` | anyone with the URL | an encrypted blob (spec §9.3) |
//! | GET | `/v1/partner-media/{ref}?sender=<id>` | native (Bearer) | a partner user's blob, fetched from the partner |
//! | GET | `/v1/avatar/{user}` | anyone | profile picture |
//! | GET | `/health` | anyone | `ok` |

mod enlist;
mod media;
mod native;

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::state::Shared;
use crate::store::{UserKind, UserRow};

pub fn router(shared: Arc<Shared>) -> axum::Router {
    let media_limit = shared.config.max_media_bytes as usize;
    axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/info", get(info))
        .route("/v1/enlist", post(enlist::enlist))
        .route("/v1/unenlist", post(enlist::unenlist))
        .route("/v1/native/register", post(native::register))
        .route("/v1/native/opt-in", post(native::opt_in))
        .route("/v1/media", post(media::upload).layer(DefaultBodyLimit::max(media_limit)))
        .route("/v1/media/{reference}", get(media::download))
        .route("/v1/partner-media/{reference}", get(media::partner_media))
        .route("/v1/avatar/{user}", get(avatar))
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(shared)
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.keys.jwt.jwks()).into_response()
}

/// `GET /v1/info`: what a client needs to connect.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ServerInfoBody {
    pub gatekeeper_id: String,
    pub profile: crate::config::Profile,
    pub capabilities: Vec<String>,
    /// `ws://…/chat`.
    pub chat_url: String,
    /// The server's Noise static public key, base64url: pin it.
    pub server_key: String,
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    use base64::Engine as _;
    Json(ServerInfoBody {
        gatekeeper_id: shared.config.gatekeeper_id.clone(),
        profile: shared.config.profile,
        capabilities: shared.capabilities.to_wire(),
        chat_url: shared.config.chat_url(),
        server_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(shared.keys.noise.public()),
    })
    .into_response()
}

async fn avatar(State(shared): State<Arc<Shared>>, Path(user): Path<String>) -> Response {
    match shared.store.avatar(&user).await {
        Ok(Some(bytes)) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A JSON error for the native API: `{"error": code, "message": text}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": code, "message": message.into() });
    (status, Json(body)).into_response()
}

/// The native user a `Authorization: Bearer <token>` belongs to.
/// Tokens are `<internal id>:<secret>`; only their SHA-256 is stored.
pub async fn native_user(shared: &Shared, headers: &HeaderMap) -> Result<UserRow, Response> {
    let unauthorized =
        || error(StatusCode::UNAUTHORIZED, "not_authorized", "missing or bad access token");
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let (id, _) = token.split_once(':').ok_or_else(unauthorized)?;
    let user = shared.store.user(id).await.map_err(|_| unauthorized())?.ok_or_else(unauthorized)?;
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    if user.kind != UserKind::Native || user.token_hash.as_deref() != Some(hash.as_slice()) {
        return Err(unauthorized());
    }
    Ok(user)
}
