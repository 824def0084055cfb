//! `ping`: is the bridge alive, and does it reach the homeserver?

use std::time::Instant;

use ruma::{
    api::client::discovery::get_supported_versions, events::room::message::RoomMessageEventContent,
};

use super::CommandContext;

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let started = Instant::now();
    let homeserver = match ctx.bridge.bot.send(get_supported_versions::Request::new()).await {
        Ok(_) => format!("reachable ({} ms)", started.elapsed().as_millis()),
        Err(error) => format!("NOT reachable: {error}"),
    };
    let uptime = ctx.bridge.started_at.elapsed().as_secs();
    RoomMessageEventContent::notice_plain(format!(
        "Pong! The bridge has been running for {uptime} s. Homeserver: {homeserver}."
    ))
}
