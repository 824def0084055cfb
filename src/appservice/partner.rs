//! The partner endpoints the gatekeeper calls on us, under `gatekeeper.partner_base`.
//!
//! - `GET {base}/.well-known/jwks.json`: the public half of our signing key, so the gatekeeper
//!   can check the tokens we sign (interop protocol §3.3).
//! - `POST {base}/push`: the gatekeeper wakes a user whose channel is closed (§3.4).
//! - `GET {base}/{reference}`: the gatekeeper fetches a blob one of our users sent (§9.2).
//!
//! They come from the gatekeeper, not the homeserver, so they sit outside the hs_token check
//! that guards the Application Service API: push and media carry a token the gatekeeper signed
//! instead, checked against its JWKS. Without a configured gatekeeper only the JWKS is served.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use interop_proto::auth::{JWKS_PATH, JwkSet, JwtSigner, Scope};
use interop_proto::push::{PUSH_PATH, PushRequest};

use crate::gatekeeper::{
    GatekeeperConnector,
    interop::{InteropConnector, TokenError},
};

/// What the partner routes serve, and under which path.
#[derive(Clone, Debug)]
pub struct PartnerEndpoints {
    /// The path of `partner_base`, without a trailing `/` (e.g. `/_interop`, or empty).
    base_path: String,
    signer: Arc<JwtSigner>,
    connector: Option<Arc<InteropConnector>>,
}

impl PartnerEndpoints {
    /// Endpoints for the public URL `partner_base` (only its path matters to the listener).
    pub fn new(partner_base: &str, signer: Arc<JwtSigner>) -> Result<Self, url::ParseError> {
        let url = url::Url::parse(partner_base)?;
        Ok(Self { base_path: url.path().trim_end_matches('/').to_owned(), signer, connector: None })
    }

    /// Also serves push and media for `connector`'s users.
    pub fn with_connector(mut self, connector: Arc<InteropConnector>) -> Self {
        self.connector = Some(connector);
        self
    }

    /// The listener path of the JWKS, e.g. `/_interop/.well-known/jwks.json`.
    pub fn jwks_path(&self) -> String {
        format!("{}/{JWKS_PATH}", self.base_path)
    }

    /// The listener path of push, e.g. `/_interop/push`.
    pub fn push_path(&self) -> String {
        format!("{}/{PUSH_PATH}", self.base_path)
    }

    /// The partner routes, for the appservice listener (or any other, e.g. in tests). Push and
    /// media are only served with a connector.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new().route(&self.jwks_path(), get(jwks));
        if self.connector.is_some() {
            router = router
                .route(&self.push_path(), post(push))
                .route(&format!("{}/{{reference}}", self.base_path), get(media));
        }
        router.with_state(self.clone())
    }
}

async fn jwks(State(partner): State<PartnerEndpoints>) -> Json<JwkSet> {
    Json(partner.signer.jwks())
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// Checks the gatekeeper's token on a request: `Err` is the response to send.
async fn verify(
    connector: &InteropConnector,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<interop_proto::auth::Claims, Response> {
    let token = bearer(headers).ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "no token"))?;
    connector.verify_gatekeeper_token(token, scope).await.map_err(|error| match error {
        TokenError::Invalid(e) => {
            tracing::info!(error = %e, ?scope, "refused a gatekeeper token");
            refuse(StatusCode::UNAUTHORIZED, "bad token")
        }
        TokenError::Unavailable(e) => {
            tracing::warn!(error = %e, "cannot check a gatekeeper token");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "cannot check the token now")
        }
    })
}

/// `POST {base}/push`: 202 and wake the user; 401 for a bad token; 404 for an unknown user.
async fn push(
    State(partner): State<PartnerEndpoints>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(connector) = partner.connector.as_deref() else {
        return refuse(StatusCode::NOT_FOUND, "no gatekeeper is configured");
    };
    let claims = match verify(connector, &headers, Scope::Push).await {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let Ok(request) = serde_json::from_slice::<PushRequest>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "malformed push body");
    };
    if claims.sub != request.to {
        return refuse(StatusCode::UNAUTHORIZED, "the token is for another user");
    }
    if connector.wake(&request.to).await {
        tracing::debug!(user = %request.to, pending = request.pending, "pushed");
        StatusCode::ACCEPTED.into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, "no such user")
    }
}

/// `GET {base}/{reference}`: the blob, to the gatekeeper fetching it for its sender.
async fn media(
    State(partner): State<PartnerEndpoints>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    let Some(connector) = partner.connector.as_deref() else {
        return refuse(StatusCode::NOT_FOUND, "no such media");
    };
    let claims = match verify(connector, &headers, Scope::Media).await {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    match connector.hosted_media(&reference).await {
        // The token names the sender; a blob is only served for the user who sent it.
        Ok(Some(blob)) if blob.owner == claims.sub => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], blob.bytes).into_response()
        }
        Ok(_) => refuse(StatusCode::NOT_FOUND, "no such media"),
        Err(error) => {
            tracing::error!(%error, "cannot read hosted media");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "storage failure")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_partner_base() {
        let signer = Arc::new(JwtSigner::generate("k"));
        let at = |base: &str| PartnerEndpoints::new(base, signer.clone()).unwrap();
        assert_eq!(
            at("http://127.0.0.1:29340/_interop").jwks_path(),
            "/_interop/.well-known/jwks.json"
        );
        assert_eq!(at("https://bridge.example.org/x/y/").jwks_path(), "/x/y/.well-known/jwks.json");
        assert_eq!(at("https://bridge.example.org").jwks_path(), "/.well-known/jwks.json");
        assert_eq!(at("http://127.0.0.1:29340/_interop").push_path(), "/_interop/push");
    }
}
