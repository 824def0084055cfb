//! `start-chat <phone>`: open a portal to a contact who can be reached.

use ruma::events::room::message::RoomMessageEventContent;

use super::CommandContext;
use crate::{
    bridge::{queue, work::PortalWork},
    gatekeeper::GatekeeperError,
    store::{Direction, NewPortalWork},
};

fn notice(text: impl Into<String>) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(text)
}

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let user = ctx.sender.as_str();
    let network = &bridge.config.gatekeeper.network_name;
    let Some(phone) = ctx.args.first() else {
        return notice("Usage: start-chat <phone number>, e.g. start-chat +4915112345678");
    };
    let phone: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let valid = phone.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if !valid {
        return notice(format!(
            "\"{phone}\" is not a phone number in international form: write + and the country code, e.g. +4915112345678."
        ));
    }
    let Some(login) = bridge.logins.connected(user) else {
        return match bridge.logins.get(user) {
            Some(_) => notice(format!(
                "You are not connected to {network} right now; try again in a moment (see \"status\")."
            )),
            None => notice(format!("You are not logged in to {network}. Send \"login\" first.")),
        };
    };
    let contact = match login.resolve_phone(&phone).await {
        Ok(contact) => contact,
        Err(GatekeeperError::NotOptedIn(_)) => {
            return notice(format!(
                "{phone} cannot be reached: they have not accepted chats from other messaging \
                 services in {network}. Ask them to turn on third-party chats in their settings."
            ));
        }
        Err(GatekeeperError::Blocked(_)) => {
            return notice(format!("{phone} does not accept messages from you."));
        }
        Err(GatekeeperError::UnknownUser(_)) => {
            return notice(format!("Nobody uses {network} with the number {phone}."));
        }
        Err(error) => return notice(format!("Cannot look up {phone}: {error}")),
    };
    match bridge.store.portal(user, &contact.remote_id).await {
        Ok(Some(portal)) => {
            return notice(format!(
                "You already have a chat with {phone}: https://matrix.to/#/{}",
                portal.room_id
            ));
        }
        Ok(None) => {}
        Err(error) => {
            return notice(format!("Sorry, the bridge cannot read its database: {error}"));
        }
    }
    let work = PortalWork::Open;
    let key = format!("open|{user}|{}|{}", contact.remote_id, crate::store::now_ms());
    let payload = match serde_json::to_string(&work) {
        Ok(payload) => payload,
        Err(error) => return notice(format!("Sorry, something went wrong: {error}")),
    };
    let open = NewPortalWork {
        owner: user.to_owned(),
        remote_chat: contact.remote_id.clone(),
        direction: Direction::ToMatrix,
        dedupe_key: key,
        payload,
    };
    if let Err(error) = queue::store_and_wake(bridge, &[open], &[]).await {
        return notice(format!("Sorry, the bridge cannot write to its database: {error}"));
    }
    let name = if contact.display_name.is_empty() {
        phone.clone()
    } else {
        format!("{} ({phone})", contact.display_name)
    };
    notice(format!("Opening a chat with {name}. You will be invited to the room in a moment."))
}
