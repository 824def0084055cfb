//! `relay on|off`, sent in a portal with the command prefix: whether other Matrix users in the
//! room may write to the contact through the owner's login. Relayed messages go out with the
//! writer's name in front, so the contact knows who wrote.

use ruma::events::room::message::RoomMessageEventContent;

use super::CommandContext;

fn notice(text: impl Into<String>) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(text)
}

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let prefix = &bridge.config.bridge.command_prefix;
    let portal = match bridge.store.portal_by_room(ctx.room_id.as_str()).await {
        Ok(Some(portal)) => portal,
        Ok(None) => {
            return notice(format!(
                "Send this in a chat with a contact, as \"{prefix} relay on\" or \"{prefix} relay off\"."
            ));
        }
        Err(error) => {
            return notice(format!("Sorry, the bridge cannot read its database: {error}"));
        }
    };
    if portal.owner != ctx.sender.as_str() {
        return notice(format!("Only {} can change relay mode in this chat.", portal.owner));
    }
    let on = match ctx.args.first().map(|a| a.to_lowercase()).as_deref() {
        Some("on") => true,
        Some("off") => false,
        _ => {
            let state = if portal.relay { "on" } else { "off" };
            return notice(format!(
                "Relay mode is {state} here. Use \"{prefix} relay on\" or \"{prefix} relay off\"."
            ));
        }
    };
    let stored = bridge.store.set_portal_relay(ctx.room_id.as_str(), on).await;
    bridge.rows.forget_portal(ctx.room_id);
    if let Err(error) = stored {
        return notice(format!("Sorry, the bridge cannot write to its database: {error}"));
    }
    let network = &bridge.config.gatekeeper.network_name;
    notice(if on {
        format!(
            "Relay mode is on: messages of others in this room go to {network} through your login, with their name in front."
        )
    } else {
        format!("Relay mode is off: only your messages go to {network}.")
    })
}
