//! The HTTP server the homeserver talks to: every route of the Application Service API.
//!
//! Each route has its own file. All of them sit behind [`auth::require_hs_token`] and read their
//! input through [`ruma_request::Ruma`], so a handler sees only authenticated, size-checked,
//! well-formed requests. Anything else gets the Matrix error the spec names. The public partner
//! endpoints the gatekeeper calls ([`partner`]) share the listener but not the token check.

mod auth;
pub mod error;
mod partner;
mod ping;
mod queries;
mod ruma_request;
mod thirdparty;
mod transactions;
pub mod txn_order;

use std::sync::{Arc, atomic::AtomicBool};

use axum::{
    Router, middleware,
    routing::{get, post, put},
};
use tokio::sync::Notify;

pub use partner::PartnerEndpoints;
pub use thirdparty::phone_to_gatekeeper_id;

use crate::{matrix::Ghosts, store::Store};

/// What the route handlers share.
pub struct AppserviceState {
    pub hs_token: String,
    pub max_body_bytes: usize,
    pub protocol_id: String,
    pub network_name: String,
    pub store: Store,
    pub ghosts: Ghosts,
    /// Woken after a transaction is stored, so the worker processes it at once.
    pub wake_processor: Arc<Notify>,
    /// False once shutdown has begun: new transactions are refused and retried later.
    pub accepting: AtomicBool,
    /// Our partner identity, published for the gatekeeper, and its push and media endpoints.
    pub partner: PartnerEndpoints,
    /// Keeps numbered transactions in the homeserver's order.
    pub order: txn_order::TxnOrder,
    /// Routes plain portal traffic into the portals' queues as it is stored; `None` sends
    /// every transaction through the worker.
    pub door: Option<crate::bridge::door::Door>,
}

/// The router for every Application Service API route (and the legacy unversioned paths), plus
/// the public partner endpoints.
pub fn router(state: Arc<AppserviceState>) -> Router {
    let api = Router::new()
        .route("/_matrix/app/v1/transactions/{txn_id}", put(transactions::push_transaction))
        .route("/transactions/{txn_id}", put(transactions::push_transaction))
        .route("/_matrix/app/v1/ping", post(ping::ping))
        .route("/_matrix/app/v1/users/{user_id}", get(queries::query_user))
        .route("/users/{user_id}", get(queries::query_user))
        .route("/_matrix/app/v1/rooms/{room_alias}", get(queries::query_room))
        .route("/rooms/{room_alias}", get(queries::query_room))
        .route("/_matrix/app/v1/thirdparty/protocol/{protocol}", get(thirdparty::protocol))
        .route("/_matrix/app/v1/thirdparty/user/{protocol}", get(thirdparty::user_for_protocol))
        .route("/_matrix/app/v1/thirdparty/user", get(thirdparty::user_for_user_id))
        .route(
            "/_matrix/app/v1/thirdparty/location/{protocol}",
            get(thirdparty::location_for_protocol),
        )
        .route("/_matrix/app/v1/thirdparty/location", get(thirdparty::location_for_alias))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_hs_token));
    api.merge(state.partner.router())
        .fallback(error::unrecognized)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(state)
}
