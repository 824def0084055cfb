//! An axum extractor that turns a request into a typed ruma endpoint request.
//!
//! It enforces `appservice.max_body_bytes` while reading (413 `M_TOO_LARGE`) and maps every parse
//! failure to the Matrix error the spec asks for, so handlers only ever see valid input.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, RawPathParams, Request},
};
use ruma::api::IncomingRequest;

use super::{AppserviceState, error::MatrixHttpError};

/// A parsed ruma request plus the raw body it came from.
pub struct Ruma<T> {
    pub request: T,
    pub body: Bytes,
}

impl<T: IncomingRequest> FromRequest<Arc<AppserviceState>> for Ruma<T> {
    type Rejection = MatrixHttpError;

    async fn from_request(
        req: Request,
        state: &Arc<AppserviceState>,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| MatrixHttpError::unrecognized())?;
        let path_args: Vec<String> = params.iter().map(|(_, value)| value.to_owned()).collect();
        let limit = state.max_body_bytes;
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| MatrixHttpError::too_large(limit))?;
        if body.is_empty() && parts.method == http::Method::PUT {
            // ruma reads an empty body as `{}`; for a PUT it is simply not JSON.
            return Err(MatrixHttpError::new(
                http::StatusCode::BAD_REQUEST,
                "M_NOT_JSON",
                "Body is empty; expected a JSON object",
            ));
        }
        let http_request = http::Request::from_parts(parts, body.clone());
        let request = T::try_from_http_request(http_request, &path_args)
            .map_err(MatrixHttpError::from_ruma)?;
        Ok(Ruma { request, body })
    }
}
