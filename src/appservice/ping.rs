//! `POST /_matrix/app/v1/ping`: the homeserver checks that it can reach us.

use std::sync::Arc;

use axum::{Json, extract::State};
use ruma::api::appservice::ping::send_ping;
use serde_json::{Value, json};

use super::{AppserviceState, error::MatrixHttpError, ruma_request::Ruma};

pub async fn ping(
    State(_state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<send_ping::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    tracing::debug!(transaction_id = ?request.transaction_id, "homeserver pinged us");
    Ok(Json(json!({})))
}
