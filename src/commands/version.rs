//! `version`: which build of the bridge is running.

use ruma::events::room::message::RoomMessageEventContent;

use super::CommandContext;

pub async fn run(_ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(format!(
        "interop-bridge {} ({})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    ))
}
