//! Checks that a request comes from our homeserver: the `hs_token` from the registration.
//!
//! The token is read from `Authorization: Bearer` (current spec) or the legacy `access_token`
//! query parameter, and compared in constant time. Missing → 401 `M_UNAUTHORIZED`, wrong → 403
//! `M_FORBIDDEN`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{StatusCode, header::AUTHORIZATION},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use super::{AppserviceState, error::MatrixHttpError};

pub async fn require_hs_token(
    State(state): State<Arc<AppserviceState>>,
    request: Request,
    next: Next,
) -> Response {
    match presented_token(&request) {
        None => {
            MatrixHttpError::new(StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED", "Missing access token")
                .into_response()
        }
        Some(token) if bool::from(token.as_bytes().ct_eq(state.hs_token.as_bytes())) => {
            next.run(request).await
        }
        Some(_) => {
            tracing::warn!(path = request.uri().path(), "rejected a request with a wrong hs_token");
            MatrixHttpError::new(StatusCode::FORBIDDEN, "M_FORBIDDEN", "Bad access token")
                .into_response()
        }
    }
}

fn presented_token(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim().to_owned());
    }
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "access_token")
        .map(|(_, value)| value.into_owned())
}
