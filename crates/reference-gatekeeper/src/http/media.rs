//! Media: native users' encrypted blobs are stored here and fetched by
//! partners by URL; partner users' blobs are fetched from the partner
//! (`{partner_base}/{storage_reference}`, media-scoped JWT) and relayed to
//! native users. Blobs are ciphertext: the keys travel end to end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interop_proto::auth::{self, Claims, Scope};
use rand::RngCore;

use super::{error, native_user};
use crate::api::MediaUploaded;
use crate::state::Shared;
use crate::store::UserKind;

/// References are URL-safe base64 of random bytes; anything else is refused
/// before it can touch the file system.
fn valid_reference(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 256
        && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match native_user(&shared, &headers).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if body.len() as u64 > shared.config.max_media_bytes {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "blob too large");
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let reference = URL_SAFE_NO_PAD.encode(raw);
    let dir = shared.config.data_dir.join("media");
    let write = async {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(dir.join(&reference), &body).await
    };
    if let Err(e) = write.await {
        tracing::error!(error = %e, "could not store a blob");
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure");
    }
    if shared.store.add_media(&reference, &user.id, body.len() as u64).await.is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure");
    }
    let url = shared.public(&format!("v1/media/{reference}"));
    Json(MediaUploaded { url }).into_response()
}

pub async fn download(
    State(shared): State<Arc<Shared>>,
    Path(reference): Path<String>,
) -> Response {
    if !valid_reference(&reference) || !shared.store.media_exists(&reference).await.unwrap_or(false)
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(shared.config.data_dir.join("media").join(&reference)).await {
        Ok(bytes) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /v1/partner-media/{ref}?sender=<internal id>`: the gatekeeper fetches
/// the sender's blob from its partner and relays it to the native user.
pub async fn partner_media(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = native_user(&shared, &headers).await {
        return r;
    }
    if !valid_reference(&reference) {
        return error(StatusCode::BAD_REQUEST, "bad_request", "bad storage reference");
    }
    let sender = q.get("sender").map(String::as_str).unwrap_or_default();
    let row = match shared.store.user(sender).await {
        Ok(Some(u)) if u.kind == UserKind::Partner => u,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                "sender is not an enlisted partner user",
            );
        }
    };
    let (Some(partner_id), Some(visible)) = (row.partner.as_deref(), row.visible_id.as_deref())
    else {
        return error(StatusCode::NOT_FOUND, "not_found", "sender has no partner");
    };
    let Some(partner) = shared.config.partner(partner_id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "partner not configured");
    };
    let claims = Claims::new(&shared.config.gatekeeper_id, visible, partner_id, Scope::Media, 300);
    let Ok(token) = shared.keys.jwt.sign(&claims) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "signing failed");
    };
    let Ok(url) = auth::join(&partner.base_url, &reference) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "bad storage reference");
    };
    let resp =
        shared.http.get(url).bearer_auth(token).timeout(Duration::from_secs(60)).send().await;
    match resp {
        Ok(r) if r.status().is_success() => {
            if r.content_length().is_some_and(|n| n > shared.config.max_media_bytes) {
                return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "blob too large");
            }
            match r.bytes().await {
                Ok(b) if b.len() as u64 <= shared.config.max_media_bytes => {
                    ([("content-type", "application/octet-stream")], b).into_response()
                }
                Ok(_) => error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "blob too large"),
                Err(e) => error(StatusCode::BAD_GATEWAY, "partner_failed", e.to_string()),
            }
        }
        Ok(r) => error(
            StatusCode::BAD_GATEWAY,
            "partner_failed",
            format!("partner answered {}", r.status()),
        ),
        Err(e) => error(StatusCode::BAD_GATEWAY, "partner_failed", e.to_string()),
    }
}
