//! Calls to the homeserver's client-server API, as the bridge bot or as a ghost.

mod client;
pub mod ghost_id;
mod ghosts;

pub use client::{ApiError, MatrixClient, MatrixError, Retry};
pub use ghosts::{GhostError, Ghosts, register_appservice_user};
