//! `whoami` / `status`: who the user is on the gatekeeper and how the connection is.

use ruma::events::room::message::RoomMessageEventContent;

use super::CommandContext;
use crate::gatekeeper::ConnectionState;

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let user = ctx.sender.as_str();
    let network = &bridge.config.gatekeeper.network_name;
    let Some(login) = bridge.logins.get(user) else {
        return RoomMessageEventContent::notice_plain(format!(
            "You are not logged in to {network}. Send \"login\" to connect."
        ));
    };
    let connection = match bridge.logins.state(user) {
        Some(ConnectionState::Connected) => "connected".to_owned(),
        Some(ConnectionState::Connecting) | None => "connecting".to_owned(),
        Some(ConnectionState::Reconnecting { retry_in_ms, reason }) => {
            format!("disconnected ({reason}); retrying in {} s", retry_in_ms.div_ceil(1000))
        }
        Some(ConnectionState::LoggedOut { reason }) => format!("logged out ({reason})"),
    };
    let mut lines = vec![
        format!("You are logged in to {network} as {} ({user}).", login.remote_id()),
        format!("Connection: {connection}."),
    ];
    if ctx.args.is_empty() {
        if let Ok(settings) = bridge.store.bridge_user(user).await {
            lines.push(format!("Inbox: {}.", settings.inbox.as_str()));
        }
        if let Ok(portals) = bridge.store.portals_of(user).await {
            lines.push(format!("Chats: {}.", portals.len()));
        }
        let caps: Vec<String> = login.capabilities().iter().map(|c| c.to_string()).collect();
        if !caps.is_empty() {
            lines.push(format!("{network} offers: {}.", caps.join(", ")));
        }
    }
    RoomMessageEventContent::notice_plain(lines.join("\n"))
}
