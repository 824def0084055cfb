//! `PUT /_matrix/app/v1/transactions/{txnId}`: the homeserver pushes events to us.
//!
//! The body is validated (as ruma reads it and as the worker will), written to the store, and
//! only then acknowledged; processing happens afterwards in the bridge's transaction worker,
//! except for plain portal traffic, which is queued into its portals in the same commit
//! ([`crate::bridge::door`]). A retry of a stored transaction is answered 200 without being
//! stored or processed again. A numbered transaction that overtook an earlier one is refused
//! until the earlier one came ([`super::txn_order`]).

use std::sync::{Arc, atomic::Ordering};

use axum::{Json, extract::State, http::StatusCode};
use ruma::api::appservice::event::push_events;
use serde_json::{Value, json};

use super::{AppserviceState, error::MatrixHttpError, ruma_request::Ruma, txn_order::Admission};
use crate::{bridge::transaction::TransactionBody, store::TransactionInsert};

pub async fn push_transaction(
    State(state): State<Arc<AppserviceState>>,
    Ruma { request, body }: Ruma<push_events::v1::Request>,
) -> Result<Json<Value>, MatrixHttpError> {
    if !state.accepting.load(Ordering::Acquire) {
        // The homeserver keeps the transaction and retries it after we restart.
        return Err(MatrixHttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "M_UNKNOWN",
            "The bridge is shutting down",
        ));
    }
    // ruma accepted it, so the body is valid JSON and therefore valid UTF-8.
    let text = std::str::from_utf8(&body)
        .map_err(|e| MatrixHttpError::new(StatusCode::BAD_REQUEST, "M_NOT_JSON", e.to_string()))?;
    // Read again as the worker will: it also reads the legacy ephemeral list, which ruma
    // ignores. A body the worker could not read would be stored and then skipped with every
    // event in it, so it is refused here instead.
    let parsed = TransactionBody::parse(text).map_err(|e| MatrixHttpError::from_json(&e))?;
    let not_object = |raw: &serde_json::value::RawValue| !raw.get().trim_start().starts_with('{');
    if parsed.events.iter().any(|e| not_object(e.json()))
        || parsed.ephemeral().iter().any(|e| not_object(e.json()))
    {
        return Err(MatrixHttpError::new(
            StatusCode::BAD_REQUEST,
            "M_BAD_JSON",
            "Every event must be a JSON object",
        ));
    }
    let txn_id = request.txn_id.as_str();
    if let Admission::Wait { missing } = state.order.admit(txn_id, std::time::Instant::now()) {
        tracing::info!(
            txn_id,
            missing,
            "a transaction overtook an earlier one; refused until that one comes"
        );
        return Err(MatrixHttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "M_UNKNOWN",
            format!("Transaction {missing} has to come first"),
        ));
    }
    let routed = state.door.as_ref().and_then(|door| door.route(&parsed));
    let stored = match &routed {
        Some(work) => state.store.insert_routed_transaction(txn_id, text, work).await,
        None => state.store.insert_transaction(txn_id, text).await,
    };
    match stored {
        Ok(TransactionInsert::Routed) => {
            tracing::debug!(txn_id, events = request.events.len(), "stored and routed transaction");
            state.order.stored(txn_id, true);
            if let (Some(door), Some(work)) = (&state.door, &routed) {
                door.routed(&parsed, work).await;
            }
        }
        Ok(TransactionInsert::Stored) => {
            tracing::debug!(txn_id, events = request.events.len(), "stored transaction");
            state.order.stored(txn_id, true);
            state.wake_processor.notify_one();
        }
        Ok(TransactionInsert::Duplicate) => {
            tracing::debug!(txn_id, "transaction already stored; acknowledging the retry");
            state.order.stored(txn_id, false);
        }
        Err(error) => {
            tracing::error!(txn_id, %error, "could not store a transaction; the homeserver will retry");
            return Err(MatrixHttpError::internal("Could not store the transaction"));
        }
    }
    Ok(Json(json!({})))
}
