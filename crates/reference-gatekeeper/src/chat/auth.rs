//! Checking a `ClientHello`: native token or partner JWT, and that the
//! Noise static key is the one registered for the user.

use interop_proto::ErrorCode;
use interop_proto::auth::{Expected, Scope};
use interop_proto::stanza::StanzaError;
use interop_proto::transport::{ClientAuth, ClientHello};
use sha2::{Digest, Sha256};

use crate::state::Shared;
use crate::store::{UserKind, UserRow};

fn refuse(code: ErrorCode, text: &str) -> StanzaError {
    StanzaError::new(code, text)
}

pub async fn authenticate(
    shared: &Shared,
    hello: &ClientHello,
    client_key: [u8; 32],
) -> Result<UserRow, StanzaError> {
    let internal = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "store failure during log-in");
        refuse(ErrorCode::Internal, "internal error")
    };
    match &hello.auth {
        Some(ClientAuth::Native(n)) => {
            let user = shared.store.user_by_phone(&n.phone).await.map_err(internal)?;
            let Some(user) = user else {
                return Err(refuse(
                    ErrorCode::NotAuthorized,
                    "not_authorized: unknown phone number",
                ));
            };
            let hash = Sha256::digest(n.token.as_bytes()).to_vec();
            if user.token_hash.as_deref() != Some(hash.as_slice()) {
                return Err(refuse(ErrorCode::NotAuthorized, "not_authorized: bad token"));
            }
            if user.authkey != client_key {
                return Err(refuse(
                    ErrorCode::NotAuthorized,
                    "not_authorized: static key is not the registered one",
                ));
            }
            Ok(user)
        }
        Some(ClientAuth::Partner(p)) => {
            let user = shared.store.user(&p.login).await.map_err(internal)?;
            let Some(user) = user.filter(|u| u.kind == UserKind::Partner) else {
                return Err(refuse(ErrorCode::Gone, "gone: no such enlisted user"));
            };
            if user.authkey != client_key {
                return Err(refuse(
                    ErrorCode::NotAuthorized,
                    "not_authorized: static key is not the enlisted authkey",
                ));
            }
            let partner_id = user.partner.clone().unwrap_or_default();
            let Some(partner) = shared.config.partner(&partner_id) else {
                return Err(refuse(
                    ErrorCode::NotAuthorized,
                    "not_authorized: partner no longer allowed",
                ));
            };
            let expected = Expected {
                issuer: &partner.id,
                audience: &shared.config.gatekeeper_id,
                scope: Scope::Chat,
                authkey: Some(&client_key),
            };
            let claims = shared.jwks.verify(partner, &p.jwt, &expected).await.map_err(|e| {
                tracing::info!(user = %user.id, error = %e, "chat token refused");
                refuse(ErrorCode::NotAuthorized, "not_authorized: bad chat token")
            })?;
            if Some(claims.sub.as_str()) != user.visible_id.as_deref() {
                return Err(refuse(
                    ErrorCode::NotAuthorized,
                    "not_authorized: token subject is another user",
                ));
            }
            Ok(user)
        }
        None => Err(refuse(ErrorCode::NotAuthorized, "not_authorized: no credentials")),
    }
}
