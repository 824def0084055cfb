//! `help`: the list of commands the user may run.

use ruma::events::room::message::RoomMessageEventContent;

use super::{COMMANDS, CommandContext};
use crate::{bridge::Bridge, config::PermissionLevel};

pub async fn run(ctx: &CommandContext<'_>) -> RoomMessageEventContent {
    render(ctx.bridge, ctx.level)
}

/// The command list for a user of `level`, as plain text and HTML.
pub fn render(bridge: &Bridge, level: PermissionLevel) -> RoomMessageEventContent {
    let prefix = &bridge.config.bridge.command_prefix;
    let mut plain = String::from("Available commands:\n");
    let mut html = String::from("<p>Available commands:</p><ul>");
    for command in COMMANDS.iter().filter(|c| c.level <= level) {
        let usage = if command.args.is_empty() {
            command.name.to_owned()
        } else {
            format!("{} {}", command.name, command.args)
        };
        plain.push_str(&format!("• {usage} — {}\n", command.description));
        html.push_str(&format!(
            "<li><code>{}</code> — {}</li>",
            escape(&usage),
            escape(command.description)
        ));
    }
    html.push_str("</ul>");
    let footer =
        format!("Outside this room, start commands with {prefix}, e.g. \"{prefix} help\".");
    plain.push_str(&footer);
    html.push_str(&format!("<p>{}</p>", escape(&footer)));
    RoomMessageEventContent::notice_html(plain, html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
