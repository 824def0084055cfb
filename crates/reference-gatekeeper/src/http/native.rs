//! The native app's own API: registration by phone number, and the opt-in
//! to third-party chats per partner with the inbox choice.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interop_proto::PhoneNumber;
use interop_proto::e2ee::verify_bundle;
use interop_proto::stanza::{Inbox, KeyBundle, NotificationBody, OptInChange, SignedPrekey};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{error, native_user};
use crate::api::{OptInRequest, RegisterRequest, RegisterResponse};
use crate::mailbox;
use crate::state::Shared;
use crate::store::{NewUser, UserKind};

const MAX_AVATAR: usize = 512 * 1024;

pub async fn register(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if !shared.config.open_registration {
        return error(StatusCode::FORBIDDEN, "forbidden", "registration is closed");
    }
    let req: RegisterRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    let phone = match PhoneNumber::parse(&req.phone) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_phone", e.to_string()),
    };
    let Ok(authkey) = <[u8; 32]>::try_from(req.authkey.as_slice()) else {
        return error(StatusCode::BAD_REQUEST, "bad_keys", "authkey must be 32 bytes");
    };
    if req.name.len() > 256 || req.avatar.len() > MAX_AVATAR || req.one_time_keys.len() > 100 {
        return error(StatusCode::BAD_REQUEST, "bad_request", "name, avatar or key list too large");
    }
    let bundle = KeyBundle {
        scheme: interop_proto::e2ee::SCHEME_OLM_V1,
        identity_key: req.identity_key.clone(),
        signing_key: req.signing_key.clone(),
        signed_prekey: Some(SignedPrekey {
            id: req.signed_prekey.id,
            key: req.signed_prekey.key.clone(),
            signature: req.signed_prekey.signature.clone(),
        }),
        one_time_key: None,
    };
    if verify_bundle(&bundle).is_err() || req.one_time_keys.iter().any(|k| k.len() != 32) {
        return error(StatusCode::BAD_REQUEST, "bad_keys", "keys do not verify");
    }
    let id = format!("{}@native", phone.digits());
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{id}:{}", URL_SAFE_NO_PAD.encode(secret));
    let new = NewUser {
        id: id.clone(),
        kind: UserKind::Native,
        phone: Some(phone.as_str().to_owned()),
        partner: None,
        visible_id: None,
        display_name: req.name.clone(),
        avatar: (!req.avatar.is_empty()).then(|| req.avatar.clone()),
        authkey,
        token_hash: Some(Sha256::digest(token.as_bytes()).to_vec()),
        bundle: bundle.clone(),
    };
    let store = &shared.store;
    let previous = match store.upsert_user(&new).await {
        Ok(p) => p,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure"),
    };
    if store.clear_one_time_keys(&id).await.is_err()
        || store.add_one_time_keys(&id, &req.one_time_keys).await.is_err()
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure");
    }
    if let Some(old) = previous {
        shared.hub.kick(&id, interop_proto::stanza::CloseCode::AuthFailed);
        if old.bundle.identity_key != bundle.identity_key {
            super::enlist::notify_identity_change(
                &shared,
                &id,
                &bundle.identity_key,
                &bundle.signing_key,
            )
            .await;
        }
    }
    tracing::info!(user = %id, "native user registered");
    Json(RegisterResponse { user: id, token }).into_response()
}

pub async fn opt_in(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = match native_user(&shared, &headers).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let req: OptInRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    if shared.config.partner(&req.partner).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_partner",
            format!("no partner {}", req.partner),
        );
    }
    let inbox = match req.inbox.as_str() {
        "separate" => Inbox::Separate,
        "combined" => Inbox::Combined,
        "none" => Inbox::Unspecified,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("inbox {other}: use separate, combined or none"),
            );
        }
    };
    if shared.store.set_opt_in(&user.id, &req.partner, inbox).await.is_err() {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure");
    }
    // Partner users this user talked to learn the new choice.
    let prefix = match shared.store.partner_num(&req.partner).await {
        Ok(n) => format!("{n}-"),
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failure"),
    };
    for c in shared.store.contacts(&user.id).await.unwrap_or_default() {
        if c.starts_with(&prefix) && c.ends_with("@interop") {
            let body = NotificationBody::OptInChange(OptInChange {
                user: user.id.clone(),
                opted_in: inbox != Inbox::Unspecified,
                inbox: inbox as i32,
            });
            let _ = mailbox::notify(&shared, &c, body).await;
        }
    }
    tracing::info!(user = %user.id, partner = %req.partner, inbox = %req.inbox, "opt-in changed");
    Json(serde_json::json!({ "partner": req.partner, "inbox": req.inbox })).into_response()
}
