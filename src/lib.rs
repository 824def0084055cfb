//! interop-bridge: a Matrix application service that makes a homeserver a third-party provider
//! for DMA interoperability gatekeepers (WhatsApp, Messenger).

pub mod appservice;
pub mod bridge;
pub mod commands;
pub mod config;
pub mod convert;
pub mod gatekeeper;
pub mod http_client;
pub mod logging;
pub mod matrix;
pub mod run;
pub mod store;
