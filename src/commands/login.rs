//! `login` and `logout`: joining and leaving the gatekeeper.
//!
//! The first `login` shows what connecting means (messages leave Matrix; they are end-to-end
//! encrypted between the contact's phone and this bridge, which decrypts them; the gatekeeper's
//! handling of data is outside this server's control) and waits for `login confirm`.

use std::sync::Arc;

use ruma::events::room::message::RoomMessageEventContent;

use super::CommandContext;
use crate::bridge::remote_events::BridgeEvents;

fn notice(text: impl Into<String>) -> RoomMessageEventContent {
    RoomMessageEventContent::notice_plain(text)
}

pub async fn login(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let user = ctx.sender.as_str();
    let network = &bridge.config.gatekeeper.network_name;
    if let Some(login) = bridge.logins.get(user) {
        return notice(format!(
            "You are already logged in to {network} as {}. Send \"logout\" first to start over.",
            login.remote_id()
        ));
    }
    let confirmed = ctx.args.first().is_some_and(|a| a.eq_ignore_ascii_case("confirm"));
    let accepted = match bridge.store.bridge_user(user).await {
        Ok(settings) => settings.notice_accepted,
        Err(error) => {
            return notice(format!("Sorry, the bridge cannot read its database: {error}"));
        }
    };
    if !accepted && !confirmed {
        return login_notice(network, &bridge.config.homeserver.domain);
    }
    if !accepted && let Err(error) = bridge.store.accept_login_notice(user).await {
        return notice(format!("Sorry, the bridge cannot write to its database: {error}"));
    }
    let enlistment = match bridge.connector.enlist(user).await {
        Ok(enlistment) => enlistment,
        Err(error) => return notice(format!("Login failed: {error}")),
    };
    let handler = Arc::new(BridgeEvents { bridge: Arc::downgrade(bridge) });
    match bridge.connector.connect(user, handler).await {
        Ok(login) => bridge.logins.insert(user, login),
        Err(error) => return notice(format!("You are enlisted, but connecting failed: {error}")),
    }
    tracing::info!(%user, remote_id = %enlistment.remote_id, "logged in");
    notice(format!(
        "You are logged in to {network}. {network} users who accept chats from other services \
         can now message you: your address there is {remote}, shown with your Matrix ID {user}. \
         To write to someone first, send \"start-chat +<their phone number>\".",
        remote = enlistment.remote_id
    ))
}

fn login_notice(network: &str, domain: &str) -> RoomMessageEventContent {
    let text = format!(
        "Before you log in, please read this.\n\
         • Your messages to {network} contacts leave Matrix and go through {network}'s servers.\n\
         • They are end-to-end encrypted between your contact's phone and this bridge on {domain}. \
         The bridge decrypts them to show them to you here, so the operator of {domain} is part \
         of the conversation's trust, as with any bridge.\n\
         • What {network} does with your data (who you talk to, when, your profile) is outside \
         this server's control and follows {network}'s own terms.\n\
         Send \"login confirm\" to go ahead."
    );
    notice(text)
}

pub async fn logout(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    let bridge = ctx.bridge;
    let user = ctx.sender.as_str();
    let network = &bridge.config.gatekeeper.network_name;
    let was_connected = match bridge.logins.remove(user) {
        Some(login) => {
            login.disconnect().await;
            true
        }
        None => false,
    };
    match bridge.connector.unenlist(user).await {
        Ok(()) => {
            tracing::info!(%user, "logged out");
            notice(format!(
                "You are logged out of {network} and your encryption keys on this bridge are \
                 deleted. Your chats stay in your room list; send \"login\" to reconnect."
            ))
        }
        Err(error) if !was_connected => notice(format!("You are not logged in ({error}).")),
        Err(error) => notice(format!(
            "You are disconnected, but {network} could not be told ({error}); try \"logout\" again later."
        )),
    }
}
