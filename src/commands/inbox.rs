//! `inbox separate|combined`: where the user's chats appear.

use ruma::{RoomId, events::room::message::RoomMessageEventContent};

use super::CommandContext;
use crate::{bridge::space, store::InboxMode};

fn notice(text: impl Into<String>) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(text)
}

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let network = &bridge.config.gatekeeper.network_name;
    let current = match bridge.store.bridge_user(ctx.sender.as_str()).await {
        Ok(settings) => settings.inbox,
        Err(error) => {
            return notice(format!("Sorry, the bridge cannot read its database: {error}"));
        }
    };
    let Some(mode) = ctx.args.first().and_then(|a| InboxMode::parse(&a.to_lowercase())) else {
        return notice(format!(
            "Your inbox is {}. Send \"inbox separate\" to gather your {network} chats in a \
             Space, or \"inbox combined\" to keep them as plain direct chats.",
            current.as_str()
        ));
    };
    if let Err(error) = bridge.store.set_inbox_mode(ctx.sender.as_str(), mode).await {
        return notice(format!("Sorry, the bridge cannot write to its database: {error}"));
    }
    let portals = match bridge.store.portals_of(ctx.sender.as_str()).await {
        Ok(portals) => portals,
        Err(error) => {
            return notice(format!("Sorry, the bridge cannot read its database: {error}"));
        }
    };
    let mut failed = 0;
    for row in &portals {
        let Ok(room) = RoomId::parse(&row.room_id) else { continue };
        let moved = match mode {
            InboxMode::Separate => space::add_portal(bridge, ctx.sender, &room).await,
            InboxMode::Combined => space::remove_portal(bridge, ctx.sender, &room).await.is_ok(),
        };
        if !moved {
            failed += 1;
        }
    }
    let what = match mode {
        InboxMode::Separate => {
            format!("Your {network} chats are now gathered in the \"{network}\" Space.")
        }
        InboxMode::Combined => {
            format!("Your {network} chats are now plain direct chats, outside any Space.")
        }
    };
    let moved = portals.len() - failed;
    let tail = if failed > 0 {
        format!(" {failed} could not be moved; try again later.")
    } else {
        String::new()
    };
    notice(format!("{what} {moved} existing chat(s) moved.{tail}"))
}
