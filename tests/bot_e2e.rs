//! End to end against a real Synapse: an admin's set-up (config, registration, run), a user who
//! invites the bot and gets help, a user without permission who is refused, a ghost that comes
//! to exist when invited, the appservice ping, secrets kept out of the log, and a clean SIGTERM.

mod support;

use std::time::Duration;

use ruma::{UserId, events::AnySyncTimelineEvent};
use support::{Bridge, Synapse, message_body};

const WAIT: Duration = Duration::from_secs(30);

fn from_bot_containing<'a>(
    bot: &'a UserId,
    needle: &'a str,
) -> impl FnMut(&AnySyncTimelineEvent) -> bool + 'a {
    move |event| {
        event.sender() == bot && message_body(event).is_some_and(|body| body.contains(needle))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bot_answers_help_refuses_strangers_registers_ghosts_and_stops_cleanly()
-> anyhow::Result<()> {
    let mut bridge = Bridge::configure()?;
    let synapse = Synapse::start(&[&bridge.registration_path()])?;
    bridge.set_homeserver(&synapse.url())?;
    let output = std::process::Command::new(support::BRIDGE_BIN)
        .args(["check-config", "--config"])
        .arg(bridge.config_path())
        .output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    bridge.start()?;
    assert!(
        bridge.log().contains("homeserver reached the bridge (appservice ping)"),
        "{}",
        bridge.log()
    );

    let bot = UserId::parse("@interopbot:localhost")?;
    let mut alice = synapse.register_user("alice").await?;
    let room = alice.create_room(&[&bot], true).await?;
    alice.wait_for(&room, WAIT, from_bot_containing(&bot, "management room")).await?;
    alice.send_text(&room, "help").await?;
    let answer =
        alice.wait_for(&room, WAIT, from_bot_containing(&bot, "Available commands")).await?;
    let body = message_body(&answer).unwrap_or_default();
    for command in ["help", "ping", "version"] {
        assert!(body.contains(&format!("• {command} ")), "help lists {command}: {body}");
    }
    alice.send_text(&room, "ping").await?;
    alice.wait_for(&room, WAIT, from_bot_containing(&bot, "Homeserver: reachable")).await?;
    alice.send_text(&room, "frobnicate").await?;
    alice.wait_for(&room, WAIT, from_bot_containing(&bot, "Unknown command")).await?;

    // Relay level is not enough to talk to the bot: a polite refusal, then the bot leaves.
    let mut mallory = synapse.register_user("mallory").await?;
    let mallory_room = mallory.create_room(&[&bot], true).await?;
    mallory.wait_for(&mallory_room, WAIT, from_bot_containing(&bot, "not allowed")).await?;

    // Inviting a ghost makes Synapse ask the bridge (GET /users/{id}), which registers it.
    let ghost = UserId::parse("@wa_491701234567:localhost")?;
    alice.invite(&room, &ghost).await?;
    // An id that is not a phone number is no ghost of ours, whatever Synapse does with the invite.
    let _ = alice.invite(&room, &UserId::parse("@wa_nonsense:localhost")?).await;

    let status = tokio::task::block_in_place(|| bridge.terminate())?;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let log = bridge.log();
    assert!(log.contains("registered ghost user_id=@wa_491701234567:localhost"), "{log}");
    assert!(!log.contains("registered ghost user_id=@wa_nonsense"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    for secret in ["as_token", "hs_token", "pickle_key"] {
        assert!(bridge.config_value(secret)?.len() >= 32, "{secret} was generated");
    }
    support::secrets::assert_none_in_log(&bridge)?;
    assert!(log.contains("partner signing key ready"), "{log}");
    Ok(())
}
