//! The bridge's main job, end to end: a real Synapse, the reference gatekeeper, the bridge
//! binary, a real Matrix client (alice) and native gatekeeper users played by `gk`'s client.
//!
//! `conversation_both_ways` proves every message feature in both directions on a gatekeeper
//! with every capability (the Messenger profile). `refusals_degradation_and_outages` runs on
//! the WhatsApp profile: reachability refusals, a portal opened by an unknown contact, inbox
//! modes, a refused message, edits degraded to corrections, and messages sent while the
//! gatekeeper is down delivered once it is back.

mod support;

use std::time::Duration;

use reference_gatekeeper::client::Event;
use reference_gatekeeper::config::Profile;
use ruma::{
    OwnedRoomId, UserId,
    events::{
        AnySyncEphemeralRoomEvent, AnySyncMessageLikeEvent, AnySyncTimelineEvent, StateEventType,
        SyncMessageLikeEvent,
        reaction::ReactionEventContent,
        relation::{Annotation, InReplyTo, Reply},
        room::message::{ImageMessageEventContent, MessageType, Relation, RoomMessageEventContent},
    },
};
use support::{Bridge, Synapse, TestUser, gatekeeper::Gatekeeper, message_body};

const WAIT: Duration = Duration::from_secs(30);
const BOT: &str = "@interopbot:localhost";

/// Everything one test runs against.
/// Prints the bridge's log when a test fails, so the failure can be read from the CI output.
impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() || !self.passed {
            eprintln!("---- bridge log ----\n{}", self.bridge.log());
        }
    }
}

struct World {
    /// Set when the test got to its end; otherwise the bridge log is printed on drop.
    passed: bool,
    /// Kept for its lifetime: dropping it stops Synapse.
    _synapse: Synapse,
    bridge: Bridge,
    gatekeeper: Gatekeeper,
    alice: TestUser,
    /// Alice's management room.
    control: OwnedRoomId,
    /// Alice's inbox Space, once she was invited to it.
    space: Option<OwnedRoomId>,
}

impl World {
    async fn start(profile: Profile) -> anyhow::Result<World> {
        let mut bridge = Bridge::configure()?;
        let gatekeeper = Gatekeeper::start(profile, "localhost", &bridge.partner_base()).await?;
        bridge.set_gatekeeper(&gatekeeper.http_url())?;
        let synapse =
            tokio::task::block_in_place(|| Synapse::start(&[&bridge.registration_path()]))?;
        bridge.set_homeserver(&synapse.url())?;
        tokio::task::block_in_place(|| bridge.start())?;
        let mut alice = synapse.register_user("alice").await?;
        let bot = UserId::parse(BOT)?;
        let control = alice.create_room(&[&bot], true).await?;
        alice.wait_for(&control, WAIT, from_bot("management room")).await?;
        Ok(World {
            passed: false,
            _synapse: synapse,
            bridge,
            gatekeeper,
            alice,
            control,
            space: None,
        })
    }

    /// Stops the bridge with SIGTERM and checks it stopped cleanly, leaking no secret.
    fn stop(mut self) -> anyhow::Result<()> {
        self.passed = true;
        let status = tokio::task::block_in_place(|| self.bridge.terminate())?;
        assert!(status.success(), "exit status after SIGTERM: {status}");
        support::secrets::assert_none_in_log(&self.bridge)
    }

    /// Sends a command in the management room and waits for the answer containing `expect`.
    async fn command(&mut self, command: &str, expect: &str) -> anyhow::Result<String> {
        self.alice.send_text(&self.control, command).await?;
        let answer = self.alice.wait_for(&self.control, WAIT, from_bot(expect)).await?;
        Ok(message_body(&answer).unwrap_or_default().to_owned())
    }

    async fn login(&mut self) -> anyhow::Result<()> {
        let notice = self.command("login", "login confirm").await?;
        assert!(notice.contains("end-to-end encrypted"), "{notice}");
        assert!(notice.contains("outside this server's control"), "{notice}");
        self.command("login confirm", "You are logged in").await?;
        Ok(())
    }

    /// Waits for the invitation to a portal (not the inbox Space) and joins it.
    async fn join_portal(&mut self) -> anyhow::Result<OwnedRoomId> {
        loop {
            let invite = self.alice.wait_for_invite(WAIT).await?;
            let is_space = invite.state.iter().any(|s| {
                s.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.create")
                    && s.get_field::<serde_json::Value>("content")
                        .ok()
                        .flatten()
                        .is_some_and(|c| c["type"] == "m.space")
            });
            self.alice.join(&invite.room_id).await?;
            if !is_space {
                return Ok(invite.room_id);
            }
            self.space = Some(invite.room_id);
        }
    }
}

fn from_bot(needle: &str) -> impl FnMut(&AnySyncTimelineEvent) -> bool + '_ {
    move |event| {
        event.sender().as_str() == BOT
            && message_body(event).is_some_and(|body| body.contains(needle))
    }
}

fn text_from<'a>(
    sender: &'a UserId,
    needle: &'a str,
) -> impl FnMut(&AnySyncTimelineEvent) -> bool + 'a {
    move |event| {
        event.sender() == sender && message_body(event).is_some_and(|body| body.contains(needle))
    }
}

fn original_message(event: &AnySyncTimelineEvent) -> Option<&RoomMessageEventContent> {
    match event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
            SyncMessageLikeEvent::Original(m),
        )) => Some(&m.content),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversation_both_ways() -> anyhow::Result<()> {
    let mut w = World::start(Profile::Messenger).await?;
    w.login().await?;
    let mut bob =
        w.gatekeeper.native_user("+4915112345678", "Bob", Some(("localhost", "separate"))).await?;
    let ghost = UserId::parse("@wa_4915112345678:localhost")?;

    // start-chat opens a DM portal created by the ghost, in the inbox Space.
    w.command("start-chat +4915112345678", "Opening a chat with Bob").await?;
    let room = w.join_portal().await?;
    let profile = w
        .alice
        .client()
        .send(ruma::api::client::profile::get_profile::v3::Request::new(ghost.clone()))
        .await?;
    let name =
        profile.get("displayname").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    assert_eq!(name, "Bob (WhatsApp)", "the ghost carries the contact's name");

    // Text with formatting, Matrix → gatekeeper.
    let hello = RoomMessageEventContent::text_html("hello *world*", "hello <b>world</b>");
    let hello_id = w.alice.send(&room, &hello).await?;
    let got = bob.wait_for(WAIT.as_secs(), |e| matches!(e, Event::Message { .. })).await?;
    let Event::Message { id: hello_remote, text, from: alice_remote, .. } = got else {
        unreachable!()
    };
    assert_eq!(text, "hello *world*");
    let bob_chat = alice_remote.clone();

    // Text, gatekeeper → Matrix, as a reply to alice's message.
    let reply = interop_proto::content::Content {
        in_reply_to: Some(msg_ref(&hello_remote, &alice_remote)),
        ..interop_proto::content::Content::text("hi _there_")
    };
    let sent = bob.session.send_content(&bob_chat, reply).await?;
    let event = w.alice.wait_for(&room, WAIT, text_from(&ghost, "hi")).await?;
    let content = original_message(&event).expect("a message");
    match &content.relates_to {
        Some(Relation::Reply(Reply { in_reply_to: InReplyTo { event_id, .. }, .. })) => {
            assert_eq!(event_id, &hello_id)
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    let MessageType::Text(text) = &content.msgtype else { panic!("text expected") };
    assert_eq!(text.formatted.as_ref().map(|f| f.body.as_str()), Some("hi <em>there</em>"));
    let bob_msg_event = event.event_id().to_owned();

    // Reactions both ways.
    bob.session.send_content(&bob_chat, reaction_on(&hello_remote, &alice_remote, "👍")).await?;
    w.alice
        .wait_for(&room, WAIT, |e| {
            reaction_key(e).is_some_and(|(key, target)| key == "👍" && target == hello_id)
        })
        .await?;
    let reaction = ReactionEventContent::new(Annotation::new(bob_msg_event.clone(), "❤️".into()));
    let reaction_id = w.alice.send(&room, &reaction).await?;
    let got = bob
        .wait_for(WAIT.as_secs(), |e| matches!(e, Event::Reaction { revoke: false, .. }))
        .await?;
    let Event::Reaction { target, emoji, .. } = got else { unreachable!() };
    assert_eq!((target.as_str(), emoji.as_str()), (sent.id.as_str(), "❤️"));
    // ...and its removal.
    w.alice.redact(&room, &reaction_id).await?;
    bob.wait_for(WAIT.as_secs(), |e| matches!(e, Event::Reaction { revoke: true, .. })).await?;

    // Typing both ways.
    bob.session.typing(&bob_chat, true).await?;
    w.alice.wait_for_ephemeral(&room, WAIT, |e| matches!(e, AnySyncEphemeralRoomEvent::Typing(t) if t.content.user_ids.contains(&ghost))).await?;
    w.alice.typing(&room, true).await?;
    bob.wait_for(
        WAIT.as_secs(),
        |e| matches!(e, Event::Typing { state, .. } if state == "composing"),
    )
    .await?;

    // Read receipts both ways.
    w.alice.read_up_to(&room, &bob_msg_event).await?;
    let got = bob
        .wait_for(
            WAIT.as_secs(),
            |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "read"),
        )
        .await?;
    let Event::Receipt { ids, .. } = got else { unreachable!() };
    assert_eq!(ids, vec![sent.id.clone()]);
    bob.session
        .receipt(
            &bob_chat,
            std::slice::from_ref(&hello_remote),
            interop_proto::stanza::ReceiptType::Read,
        )
        .await?;
    w.alice
        .wait_for_ephemeral(&room, WAIT, |e| match e {
            AnySyncEphemeralRoomEvent::Receipt(r) => r
                .content
                .get(&hello_id)
                .is_some_and(|receipts| receipts.values().any(|users| users.contains_key(&ghost))),
            _ => false,
        })
        .await?;

    // Edits both ways.
    let mut edit = RoomMessageEventContent::text_plain("* hello world!");
    edit.relates_to = Some(Relation::Replacement(ruma::events::relation::Replacement::new(
        hello_id.clone(),
        RoomMessageEventContent::text_plain("hello world!").into(),
    )));
    w.alice.send(&room, &edit).await?;
    let got = bob.wait_for(WAIT.as_secs(), |e| matches!(e, Event::Edit { .. })).await?;
    let Event::Edit { target, text, .. } = got else { unreachable!() };
    assert_eq!((target.as_str(), text.as_str()), (hello_remote.as_str(), "hello world!"));
    let bob_edit = interop_proto::content::Content {
        replaces: Some(msg_ref(&sent.id, &bob.id())),
        ..interop_proto::content::Content::text("hi there, corrected")
    };
    bob.session.send_content(&bob_chat, bob_edit).await?;
    let event = w.alice.wait_for(&room, WAIT, text_from(&ghost, "corrected")).await?;
    let content = original_message(&event).expect("a message");
    assert!(
        matches!(&content.relates_to, Some(Relation::Replacement(r)) if r.event_id == bob_msg_event),
        "{content:?}"
    );

    // Media both ways.
    let png = tiny_png();
    let mxc = w.alice.upload(png.clone(), "image/png", "dot.png").await?;
    let image = RoomMessageEventContent::new(MessageType::Image(ImageMessageEventContent::plain(
        "dot.png".into(),
        mxc,
    )));
    w.alice.send(&room, &image).await?;
    let got = bob
        .wait_for(WAIT.as_secs(), |e| matches!(e, Event::Message { media: Some(_), .. }))
        .await?;
    let Event::Message { media: Some(media), .. } = got else { unreachable!() };
    assert_eq!(media.kind, "image");
    let path =
        media.path.unwrap_or_else(|| panic!("bob could not download the image: {:?}", media.error));
    assert_eq!(std::fs::read(path)?, png, "the image arrives byte for byte");
    let file = std::env::temp_dir().join(format!("notes-{}.txt", std::process::id()));
    std::fs::write(&file, b"shopping list: milk")?;
    let cmd = reference_gatekeeper::client::Command::SendFile {
        to: bob_chat.clone(),
        path: file.display().to_string(),
        caption: "the list".into(),
    };
    reference_gatekeeper::client::commands::execute(&mut bob.session, cmd).await?;
    let event = w
        .alice
        .wait_for(&room, WAIT, |e| {
            e.sender() == ghost
                && original_message(e).is_some_and(|m| matches!(m.msgtype, MessageType::File(_)))
        })
        .await?;
    let MessageType::File(f) = &original_message(&event).expect("file").msgtype else {
        unreachable!()
    };
    assert_eq!(f.body, "the list", "the caption is the body");
    let ruma::events::room::MediaSource::Plain(uri) = &f.source else {
        panic!("plain media expected")
    };
    assert_eq!(w.alice.download(uri).await?, b"shopping list: milk");

    // Deletes both ways.
    w.alice.redact(&room, &hello_id).await?;
    let got = bob.wait_for(WAIT.as_secs(), |e| matches!(e, Event::Delete { .. })).await?;
    let Event::Delete { target, .. } = got else { unreachable!() };
    assert_eq!(target, hello_remote);
    let delete = interop_proto::content::Content {
        version: 1,
        delete: Some(msg_ref(&sent.id, &bob.id())),
        ..Default::default()
    };
    bob.session.send_content(&bob_chat, delete).await?;
    w.alice.wait_for(&room, WAIT, |e| matches!(e, AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomRedaction(r)) if r.as_original().is_some_and(|o| o.redacts.as_deref() == Some(&*bob_msg_event) || o.content.redacts.as_deref() == Some(&*bob_msg_event)))).await?;

    // The inbox Space lists the portal.
    let space = match w.space.clone() {
        Some(space) => space,
        None => {
            let invite = w.alice.wait_for_invite(WAIT).await?;
            w.alice.join(&invite.room_id).await?;
            invite.room_id
        }
    };
    let name = w.alice.state(&space, StateEventType::RoomName, "").await?;
    assert_eq!(
        name.map(|n| n["name"].clone()),
        Some("WhatsApp".into()),
        "the Space is named after the gatekeeper"
    );
    let child = w.alice.state(&space, StateEventType::SpaceChild, room.as_str()).await?;
    assert!(
        child.is_some_and(|c| c["via"].as_array().is_some_and(|v| !v.is_empty())),
        "portal in space"
    );

    let status = w.command("status", "You are logged in").await?;
    assert!(status.contains("Connection: connected"), "{status}");
    w.stop()
}

fn msg_ref(id: &str, sender: &str) -> interop_proto::content::MessageRef {
    interop_proto::content::MessageRef { id: id.into(), sender: sender.into() }
}

fn reaction_on(id: &str, sender: &str, emoji: &str) -> interop_proto::content::Content {
    interop_proto::content::Content {
        version: 1,
        reaction: Some(interop_proto::content::Reaction {
            target: Some(msg_ref(id, sender)),
            emoji: emoji.into(),
            revoke: false,
        }),
        ..Default::default()
    }
}

fn reaction_key(event: &AnySyncTimelineEvent) -> Option<(String, ruma::OwnedEventId)> {
    match event {
        AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::Reaction(
            SyncMessageLikeEvent::Original(r),
        )) => Some((r.content.relates_to.key.clone(), r.content.relates_to.event_id.clone())),
        _ => None,
    }
}

fn tiny_png() -> Vec<u8> {
    // A 1×1 PNG.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8,
        0xff, 0xff, 0x3f, 0x00, 0x05, 0xfe, 0x02, 0xfe, 0xa7, 0x35, 0x81, 0x84, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    PNG.to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_degradation_and_outages() -> anyhow::Result<()> {
    let mut w = World::start(Profile::Whatsapp).await?;
    w.login().await?;
    let status = w.command("whoami", "You are logged in").await?;
    assert!(status.contains("@alice:localhost"), "{status}");

    // A contact who has not opted in cannot be reached; nor can a number nobody has.
    let _dave = w.gatekeeper.native_user("+4915100000004", "Dave", None).await?;
    w.command("start-chat +4915100000004", "have not accepted chats").await?;
    w.command("start-chat +4915100000099", "Nobody uses").await?;
    w.command("start-chat 12345", "international form").await?;

    // Combined inbox: portals are plain DMs, no Space.
    w.command("inbox combined", "plain direct chats").await?;

    // An unknown contact writes first: the portal opens by itself.
    let mut carol = w
        .gatekeeper
        .native_user("+4915100000003", "Carol", Some(("localhost", "combined")))
        .await?;
    let alice_remote = alice_remote_id(&mut w).await?;
    carol
        .session
        .send_content(&alice_remote, interop_proto::content::Content::text("hello from carol"))
        .await?;
    let room = w.join_portal().await?;
    let carol_ghost = UserId::parse("@wa_4915100000003:localhost")?;
    w.alice.wait_for(&room, WAIT, text_from(&carol_ghost, "hello from carol")).await?;
    assert!(w.space.is_none(), "no Space in combined mode");

    // Edits are not offered by this gatekeeper: the correction goes as a new message, and
    // alice is told once.
    let first = w.alice.send_text(&room, "see you at 5").await?;
    let got = carol
        .wait_for(
            WAIT.as_secs(),
            |e| matches!(e, Event::Message { text, .. } if text == "see you at 5"),
        )
        .await?;
    let Event::Message { id: first_remote, .. } = got else { unreachable!() };
    let mut edit = RoomMessageEventContent::text_plain("* see you at 6");
    edit.relates_to = Some(Relation::Replacement(ruma::events::relation::Replacement::new(
        first.clone(),
        RoomMessageEventContent::text_plain("see you at 6").into(),
    )));
    w.alice.send(&room, &edit).await?;
    let got = carol
        .wait_for(
            WAIT.as_secs(),
            |e| matches!(e, Event::Message { text, .. } if text.contains("see you at 6")),
        )
        .await?;
    let Event::Message { text, reply_to, .. } = got else { unreachable!() };
    assert!(text.starts_with("* "), "marked as a correction: {text}");
    assert_eq!(reply_to.as_deref(), Some(first_remote.as_str()), "replying to the original");
    w.alice.wait_for(&room, WAIT, text_from(&carol_ghost, "does not support edits")).await?;

    // Messages written while the gatekeeper is down wait, and arrive in order, once.
    w.gatekeeper.stop().await;
    for n in 1..=3 {
        w.alice.send_text(&room, &format!("offline {n}")).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.gatekeeper.start_again().await?;
    carol.reconnect().await?;
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let got = carol
            .wait_for(
                60,
                |e| matches!(e, Event::Message { text, .. } if text.starts_with("offline")),
            )
            .await?;
        if let Event::Message { text, .. } = got {
            texts.push(text);
        }
    }
    assert_eq!(texts, ["offline 1", "offline 2", "offline 3"]);
    let extra = carol
        .wait_for(3, |e| matches!(e, Event::Message { text, .. } if text.starts_with("offline")))
        .await;
    assert!(extra.is_err(), "no message twice: {extra:?}");

    // A restarted bridge reconnects the login and goes on where it stopped.
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let status = w.bridge.terminate()?;
        anyhow::ensure!(status.success(), "exit status after SIGTERM: {status}");
        w.bridge.start()
    })?;
    carol
        .session
        .send_content(&alice_remote, interop_proto::content::Content::text("after the restart"))
        .await?;
    w.alice.wait_for(&room, WAIT, text_from(&carol_ghost, "after the restart")).await?;
    w.alice.send_text(&room, "welcome back").await?;
    carol
        .wait_for(
            WAIT.as_secs(),
            |e| matches!(e, Event::Message { text, .. } if text == "welcome back"),
        )
        .await?;

    // A message the gatekeeper refuses gets a notice naming the reason.
    let block = reference_gatekeeper::client::Command::Block { user: alice_remote.clone() };
    reference_gatekeeper::client::commands::execute(&mut carol.session, block).await?;
    let refused = w.alice.send_text(&room, "are you there?").await?;
    let notice = w
        .alice
        .wait_for(&room, WAIT, text_from(&carol_ghost, "does not accept your messages"))
        .await?;
    let content = original_message(&notice).expect("a notice");
    assert!(
        matches!(&content.relates_to, Some(Relation::Reply(r)) if r.in_reply_to.event_id == refused),
        "the notice replies to the refused message"
    );

    // Logging out un-enlists; messages then get a hint instead of vanishing.
    w.command("logout", "You are logged out").await?;
    w.command("status", "You are not logged in").await?;
    let orphan = w.alice.send_text(&room, "anyone?").await?;
    let hint = w.alice.wait_for(&room, WAIT, text_from(&carol_ghost, "not logged in")).await?;
    let content = original_message(&hint).expect("a notice");
    assert!(
        matches!(&content.relates_to, Some(Relation::Reply(r)) if r.in_reply_to.event_id == orphan)
    );
    w.stop()
}

/// Alice's gatekeeper id, from `whoami`.
async fn alice_remote_id(w: &mut World) -> anyhow::Result<String> {
    let answer = w.command("whoami", "You are logged in").await?;
    let id = answer
        .split(" as ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(id.contains('@'), "no gatekeeper id in {answer:?}");
    Ok(id)
}
