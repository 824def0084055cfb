//! Proves the real-Synapse harness in `tests/support`: the server starts with an appservice
//! registration, users register, chat in a DM and see each other through `/sync`, and a restart
//! keeps users, rooms and tokens.

mod support;

use std::{path::Path, time::Duration};

use interop_bridge::matrix::MatrixClient;
use ruma::{
    RoomId,
    api::client::{
        account::whoami,
        typing::create_typing_event::{self, v3::TypingInfo},
    },
    events::{AnySyncEphemeralRoomEvent, AnySyncTimelineEvent},
};
use support::{Synapse, TestUser, message_body};

const WAIT: Duration = Duration::from_secs(20);

/// A minimal appservice registration: Synapse must load it, though nothing listens at its URL.
fn write_dummy_registration(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("harness-registration.yaml");
    std::fs::write(
        &path,
        "id: harness\n\
         url: null\n\
         as_token: harness-as-token\n\
         hs_token: harness-hs-token\n\
         sender_localpart: harness_bot\n\
         rate_limited: false\n\
         receive_ephemeral: true\n\
         namespaces:\n  users:\n    - exclusive: true\n      regex: '@harness_.*'\n  aliases: []\n  rooms: []\n",
    )?;
    Ok(path)
}

/// Waits until `user` sees a text message with `body` from `sender` in `room`.
async fn wait_for_text(
    user: &mut TestUser,
    room: &RoomId,
    sender: &TestUser,
    body: &str,
) -> anyhow::Result<()> {
    let sender = sender.user_id().to_owned();
    let event = user
        .wait_for(room, WAIT, |event: &AnySyncTimelineEvent| {
            event.sender() == sender && message_body(event) == Some(body)
        })
        .await?;
    assert_eq!(message_body(&event), Some(body));
    Ok(())
}

/// Two users in a DM: invite, join, and a message through `/sync`.
async fn start_dm(alice: &TestUser, bob: &mut TestUser) -> anyhow::Result<ruma::OwnedRoomId> {
    let room = alice.create_room(&[bob.user_id()], true).await?;
    let invite = bob.wait_for_invite(WAIT).await?;
    assert_eq!(invite.room_id, room);
    bob.join(&room).await?;
    Ok(room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_in_a_dm() -> anyhow::Result<()> {
    let registrations = tempfile::tempdir()?;
    let registration = write_dummy_registration(registrations.path())?;
    let synapse = Synapse::start(&[&registration])?;
    assert_eq!(synapse.server_name(), "localhost");
    assert!(synapse.data_dir().join("homeserver.log").exists());

    // Synapse loaded the registration: its as_token acts as the appservice's bot.
    let bot = MatrixClient::new(reqwest::Client::new(), &synapse.url(), "harness-as-token");
    let whoami = bot.send(whoami::v3::Request::new()).await?;
    assert_eq!(whoami.user_id.as_str(), "@harness_bot:localhost");

    let alice = synapse.register_user("alice").await?;
    let mut bob = synapse.register_user("bob").await?;
    assert_eq!(alice.user_id().as_str(), "@alice:localhost");

    let room = start_dm(&alice, &mut bob).await?;
    let sent = alice.send_text(&room, "hello bob").await?;
    let event = bob.wait_for(&room, WAIT, |event| message_body(event) == Some("hello bob")).await?;
    assert_eq!(event.event_id(), sent);
    assert_eq!(event.sender(), alice.user_id());

    // Ephemeral events reach the other user too.
    let typing = create_typing_event::v3::Request::new(
        alice.user_id().to_owned(),
        room.clone(),
        TypingInfo::new(Duration::from_secs(10)).into(),
    );
    alice.client().send(typing).await?;
    let alice_id = alice.user_id().to_owned();
    bob.wait_for_ephemeral(&room, WAIT, |event| {
        matches!(event, AnySyncEphemeralRoomEvent::Typing(typing) if typing.content.user_ids.contains(&alice_id))
    })
    .await?;

    // A wait that finds nothing fails in time and says what it saw.
    let error = bob
        .wait_for(&room, Duration::from_millis(300), |event| {
            message_body(event) == Some("never sent")
        })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("saw no matching event"), "{error:#}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_users_rooms_and_tokens() -> anyhow::Result<()> {
    let mut synapse = Synapse::start(&[])?;
    let alice = synapse.register_user("alice").await?;
    let mut bob = synapse.register_user("bob").await?;
    let room = start_dm(&alice, &mut bob).await?;
    alice.send_text(&room, "before restart").await?;
    wait_for_text(&mut bob, &room, &alice, "before restart").await?;

    let port = synapse.port();
    synapse.restart()?;
    assert_eq!(synapse.port(), port);

    // The same tokens and sync position still work, and nothing is delivered twice.
    alice.send_text(&room, "after restart").await?;
    wait_for_text(&mut bob, &room, &alice, "after restart").await?;
    let repeat = bob
        .wait_for(&room, Duration::from_millis(300), |event| {
            message_body(event) == Some("before restart")
        })
        .await;
    assert!(repeat.is_err(), "an event from before the restart was delivered again");
    Ok(())
}
