//! Partner enlistment (spec §3.1): verify the partner-signed JWT against its
//! JWKS, store the user's keys, answer with the internal id.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use interop_proto::auth::{Expected, Scope};
use interop_proto::e2ee::verify_bundle;
use interop_proto::enlist::{EnlistFailure, EnlistRequest, EnlistResponse, UnenlistRequest};
use interop_proto::stanza::{CloseCode, IdentityChange, NotificationBody, Unenlisted};
use rand::Rng;

use crate::mailbox;
use crate::state::Shared;
use crate::store::{NewUser, UserKind};

fn fail(reason: EnlistFailure, detail: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = EnlistResponse::Fail { reason: reason.clone(), detail: detail.into() };
    let mut resp = (status, Json(body)).into_response();
    if reason == EnlistFailure::RateLimited {
        resp.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    resp
}

fn internal() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

pub async fn enlist(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: EnlistRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return fail(EnlistFailure::BadKeys, format!("malformed request: {e}")),
    };
    let Some(partner) = shared.config.partner(&req.partner).cloned() else {
        tracing::info!(partner = %req.partner, "enlistment from an unknown partner");
        return fail(EnlistFailure::BadIntegrator, "unknown partner");
    };
    if shared.enlist_limit.check(&partner.id).is_err() {
        return fail(EnlistFailure::RateLimited, "too many enlistments");
    }
    if let Err(reason) = req.validate() {
        return fail(reason, "invalid request");
    }
    let bundle = req.key_bundle();
    if verify_bundle(&bundle).is_err() {
        return fail(EnlistFailure::BadKeys, "signed prekey does not verify");
    }
    let Some(authkey) = req.authkey_array() else { return fail(EnlistFailure::BadKeys, "authkey") };
    let expected = Expected {
        issuer: &partner.id,
        audience: &shared.config.gatekeeper_id,
        scope: Scope::Enlist,
        authkey: Some(&authkey),
    };
    let claims = match shared.jwks.verify(&partner, &req.token, &expected).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(partner = %partner.id, error = %e, "enlistment token refused");
            return fail(e.enlist_failure(), e.to_string());
        }
    };
    if claims.sub != req.user {
        return fail(EnlistFailure::BadToken, "token subject is not the enlisted user");
    }
    let store = &shared.store;
    let existing = match store.partner_user(&partner.id, &req.user).await {
        Ok(e) => e,
        Err(_) => return internal(),
    };
    let id = match &existing {
        Some(u) => u.id.clone(),
        None => {
            let Ok(num) = store.partner_num(&partner.id).await else { return internal() };
            let digits: u64 = rand::thread_rng().gen_range(10_000_000_000_000..100_000_000_000_000);
            format!("{num}-{digits}@interop")
        }
    };
    let new = NewUser {
        id: id.clone(),
        kind: UserKind::Partner,
        phone: None,
        partner: Some(partner.id.clone()),
        visible_id: Some(req.user.clone()),
        display_name: String::new(),
        avatar: None,
        authkey,
        token_hash: None,
        bundle: bundle.clone(),
    };
    if store.upsert_user(&new).await.is_err() || store.clear_one_time_keys(&id).await.is_err() {
        return internal();
    }
    if store.add_one_time_keys(&id, &req.one_time_keys).await.is_err() {
        return internal();
    }
    if let Some(old) = existing {
        // One encryption identity per partner user: the old channel and sessions are void.
        shared.hub.kick(&id, CloseCode::AuthFailed);
        if old.bundle.identity_key != bundle.identity_key {
            notify_identity_change(&shared, &id, &bundle.identity_key, &bundle.signing_key).await;
        }
        tracing::info!(user = %id, partner = %partner.id, "re-enlisted");
    } else {
        tracing::info!(user = %id, partner = %partner.id, "enlisted");
    }
    Json(EnlistResponse::Ok { login: id }).into_response()
}

pub async fn notify_identity_change(
    shared: &Arc<Shared>,
    user: &str,
    identity_key: &[u8],
    signing_key: &[u8],
) {
    let contacts = shared.store.contacts(user).await.unwrap_or_default();
    for c in contacts {
        let body = NotificationBody::IdentityChange(IdentityChange {
            user: user.to_owned(),
            identity_key: identity_key.to_vec(),
            signing_key: signing_key.to_vec(),
        });
        if let Err(e) = mailbox::notify(shared, &c, body).await {
            tracing::warn!(error = %e, "could not queue an identity change");
        }
    }
}

pub async fn unenlist(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: UnenlistRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return fail(EnlistFailure::BadToken, format!("malformed request: {e}")),
    };
    let Some(partner) = shared.config.partner(&req.partner).cloned() else {
        return fail(EnlistFailure::BadIntegrator, "unknown partner");
    };
    let expected = Expected {
        issuer: &partner.id,
        audience: &shared.config.gatekeeper_id,
        scope: Scope::Enlist,
        authkey: None,
    };
    match shared.jwks.verify(&partner, &req.token, &expected).await {
        Ok(c) if c.sub == req.user => {}
        Ok(_) => return fail(EnlistFailure::BadToken, "token subject is not the user"),
        Err(e) => return fail(e.enlist_failure(), e.to_string()),
    }
    let user = match shared.store.partner_user(&partner.id, &req.user).await {
        Ok(Some(u)) => u,
        Ok(None) => return fail(EnlistFailure::NotEnlisted, "no such user"),
        Err(_) => return internal(),
    };
    // Deleted first: a channel that opens meanwhile registers after the kick below, and then
    // finds the user gone (`chat::session`), so no channel outlives the user.
    if shared.store.delete_user(&user.id).await.is_err() {
        return internal();
    }
    if let Some(conn) = shared.hub.get(&user.id) {
        let n = interop_proto::stanza::Notification {
            id: "unenlisted".into(),
            timestamp: interop_proto::now_ms(),
            body: Some(NotificationBody::Unenlisted(Unenlisted {
                reason: "unenlisted by the partner".into(),
            })),
        };
        let _ = conn.sender.send(&interop_proto::Stanza::Notification(n)).await;
    }
    shared.hub.kick(&user.id, CloseCode::Unenlisted);
    tracing::info!(user = %user.id, "un-enlisted");
    Json(EnlistResponse::Ok { login: user.id }).into_response()
}
