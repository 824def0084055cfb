//! `GET /_matrix/app/v1/users/{userId}` and `GET /_matrix/app/v1/rooms/{roomAlias}`.
//!
//! The homeserver asks whether a user or alias in our namespace exists. For a valid ghost id we
//! register the ghost first, so the homeserver can go on and use it (e.g. for an invite).

use std::sync::Arc;

use axum::{Json, extract::State};
use ruma::api::appservice::query::{query_room_alias, query_user_id};
use serde_json::{Value, json};

use super::{AppserviceState, error::MatrixHttpError, ruma_request::Ruma};

pub async fn query_user(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<query_user_id::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    let user_id = request.user_id;
    if state.ghosts.gatekeeper_id_of(&user_id).is_none() {
        return Err(MatrixHttpError::not_found("No such user in this bridge's namespace"));
    }
    state.ghosts.ensure_registered(&user_id).await.map_err(|error| {
        tracing::warn!(%user_id, %error, "could not register ghost for a user query");
        MatrixHttpError::internal("Could not register the user")
    })?;
    Ok(Json(json!({})))
}

pub async fn query_room(
    State(_state): State<Arc<AppserviceState>>,
    Ruma { request, .. }: Ruma<query_room_alias::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    tracing::debug!(alias = %request.room_alias, "room alias query: portals by alias are not offered");
    Err(MatrixHttpError::not_found("No room with this alias"))
}
