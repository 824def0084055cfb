//! Bot commands, typed by users in their management room.
//!
//! Every command is one entry in [`COMMANDS`]: its name, what it takes, what it does, the
//! permission level it needs, and the function that runs it. `help` is generated from the same
//! table, so the list users see is always the list that exists.

mod help;
mod inbox;
mod login;
mod ping;
mod relay;
mod start_chat;
mod status;
mod version;

use std::sync::Arc;

use ruma::{RoomId, UserId, events::room::message::RoomMessageEventContent};

use crate::{bridge::Bridge, config::PermissionLevel};

/// What a command handler gets.
pub struct CommandContext<'a> {
    pub bridge: &'a Arc<Bridge>,
    /// Where the command was sent (the management room, or a portal with the prefix).
    pub room_id: &'a RoomId,
    pub sender: &'a UserId,
    pub level: PermissionLevel,
    pub args: Vec<&'a str>,
}

type Handler = for<'a> fn(
    &'a CommandContext<'a>,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = RoomMessageEventContent> + Send + 'a>,
>;

pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub description: &'static str,
    pub level: PermissionLevel,
    pub run: Handler,
}

/// Every command the bot knows.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "help",
        args: "",
        description: "Show this list of commands.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(help::run(ctx)),
    },
    Command {
        name: "ping",
        args: "",
        description: "Check that the bridge is running and reaches the homeserver.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(ping::run(ctx)),
    },
    Command {
        name: "login",
        args: "",
        description: "Connect your Matrix account to the gatekeeper, so its users can chat with you.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(login::login(ctx)),
    },
    Command {
        name: "logout",
        args: "",
        description: "Disconnect and delete your encryption keys on this bridge.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(login::logout(ctx)),
    },
    Command {
        name: "whoami",
        args: "",
        description: "Show who you are on the gatekeeper and whether you are connected.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(status::run(ctx)),
    },
    Command {
        name: "status",
        args: "",
        description: "Same as whoami, with your chats and inbox mode.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(status::run(ctx)),
    },
    Command {
        name: "start-chat",
        args: "<phone number>",
        description: "Open a chat with a contact, e.g. start-chat +4915112345678.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(start_chat::run(ctx)),
    },
    Command {
        name: "inbox",
        args: "separate|combined",
        description: "Gather your chats in a Space (separate) or keep them as plain direct chats (combined).",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(inbox::run(ctx)),
    },
    Command {
        name: "relay",
        args: "on|off",
        description: "In a chat with a contact (with the prefix): let others in the room write through your login.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(relay::run(ctx)),
    },
    Command {
        name: "version",
        args: "",
        description: "Show the bridge's version.",
        level: PermissionLevel::User,
        run: |ctx| Box::pin(version::run(ctx)),
    },
];

/// How much of an unknown command's name the answer repeats.
const MAX_ECHO: usize = 40;

/// Runs the command line `text` for `sender` and returns the bot's answer.
pub async fn run(
    bridge: &Arc<Bridge>,
    room_id: &RoomId,
    sender: &UserId,
    level: PermissionLevel,
    text: &str,
) -> RoomMessageEventContent {
    let mut words = text.split_whitespace();
    let Some(name) = words.next() else { return help::render(bridge, level) };
    let name = name.to_lowercase();
    let Some(command) = COMMANDS.iter().find(|c| c.name == name) else {
        // Echo only the start of what was typed: the word can be as long as the message.
        let mut shown: String = name.chars().take(MAX_ECHO).collect();
        if shown.len() < name.len() {
            shown.push('…');
        }
        return RoomMessageEventContent::notice_plain(format!(
            "Unknown command \"{shown}\". Send \"help\" for the list of commands."
        ));
    };
    if level < command.level {
        return RoomMessageEventContent::notice_plain(format!(
            "Sorry, \"{name}\" is for bridge admins only."
        ));
    }
    let ctx = CommandContext { bridge, room_id, sender, level, args: words.collect() };
    (command.run)(&ctx).await
}

/// The first message in a new management room.
pub fn welcome(bridge: &Bridge, level: PermissionLevel) -> RoomMessageEventContent {
    let network = &bridge.config.gatekeeper.network_name;
    let help = help::render(bridge, level);
    let intro = format!(
        "Hello! I am the {network} bridge bot. This room is now your management room: \
         send commands here without a prefix."
    );
    match help.msgtype {
        ruma::events::room::message::MessageType::Notice(notice) => {
            let html = notice.formatted.map(|f| f.body).unwrap_or_default();
            RoomMessageEventContent::notice_html(
                format!("{intro}\n\n{}", notice.body),
                format!("<p>{intro}</p>{html}"),
            )
        }
        _ => RoomMessageEventContent::notice_plain(intro),
    }
}
