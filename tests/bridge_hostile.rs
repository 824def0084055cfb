//! The bridge binary, fed hand-made transactions by a stand-in homeserver that records what the
//! bridge does in return (`support::fake_homeserver`):
//!
//! - broken, hostile and huge events are logged and skipped, and the events after them (in the
//!   same transaction and later ones) are still processed;
//! - permissions hold at every entry point: a relay-level or unknown user gets a refusal for
//!   every command and invite, portal messages are bridged only from the portal's owner, the
//!   bot and the ghosts are never answered (no loops), and a transaction without the right
//!   `hs_token` does nothing;
//! - the secret files `generate-registration` writes are readable by their owner only, and no
//!   secret reaches the log, even at debug level with hostile input;
//! - work a crash left in a portal's queue keeps its order across the two directions: an item
//!   whose target is not recorded waits for the older work of the other direction;
//! - a portal's messages keep their order whether they were queued at the door or by the
//!   transaction worker;
//! - the bridge notices the homeserver going away and back, and then catches up on the events
//!   it may have dropped.

mod support;

use std::os::unix::fs::PermissionsExt;

use interop_bridge::{
    bridge::work::PortalWork,
    config::{DatabaseConfig, DatabaseKind},
    store::{Direction, NewPortalWork, PortalRow, Store},
};
use serde_json::{Value, json};
use support::{Bridge, fake_homeserver::FakeHomeserver};

const BOT: &str = "@interopbot:localhost";
const ALICE: &str = "@alice:localhost";
const MALLORY: &str = "@mallory:localhost"; // relay level in `Bridge::configure`
const GHOST: &str = "@wa_4915112345678:localhost";
const MANAGEMENT: &str = "!management:localhost";
const PORTAL: &str = "!portal:localhost";
const CONTACT: &str = "4915112345678@native";

struct World {
    hs: FakeHomeserver,
    bridge: Bridge,
    hs_token: String,
    next_event: u32,
    next_txn: u32,
}

impl World {
    /// A configured and running bridge on the fake homeserver. Alice owns a portal with
    /// `GHOST`'s contact, stored before the start, and has a management room.
    async fn start() -> anyhow::Result<World> {
        World::start_with(FakeHomeserver::start().await?, &[]).await
    }

    /// Like [`World::start`], on `hs`, with `left_over` in the portal's queue before the bridge
    /// starts, as a crash leaves it.
    async fn start_with(hs: FakeHomeserver, left_over: &[NewPortalWork]) -> anyhow::Result<World> {
        let mut bridge = Bridge::configure()?;
        bridge.set_homeserver(&hs.url)?;
        let hs_token = bridge.config_value("hs_token")?;
        seed_portal(&bridge, left_over).await?;
        tokio::task::block_in_place(|| bridge.start())?;
        let mut world = World { hs, bridge, hs_token, next_event: 0, next_txn: 0 };
        let invite =
            world.event(MANAGEMENT, ALICE, "m.room.member", json!({"membership": "invite"}));
        let invite = with_state_key(invite, BOT);
        world.push(json!({"events": [invite]})).await?;
        world.hs.wait_for_message(MANAGEMENT, "management room").await?;
        Ok(world)
    }

    /// A timeline event with a fresh id.
    fn event(&mut self, room: &str, sender: &str, kind: &str, content: Value) -> Value {
        self.next_event += 1;
        json!({
            "type": kind, "event_id": format!("$e{}", self.next_event), "room_id": room,
            "sender": sender, "origin_server_ts": 1_700_000_000_000u64, "content": content,
        })
    }

    fn text(&mut self, room: &str, sender: &str, body: &str) -> Value {
        self.event(room, sender, "m.room.message", json!({"msgtype": "m.text", "body": body}))
    }

    /// Pushes a transaction with the right token; it must be accepted.
    async fn push(&mut self, body: Value) -> anyhow::Result<()> {
        self.push_raw(body.to_string()).await
    }

    async fn push_raw(&mut self, body: String) -> anyhow::Result<()> {
        self.next_txn += 1;
        let txn = format!("t{}", self.next_txn);
        let status = self.hs.push(self.bridge.port, &self.hs_token, &txn, body).await?;
        anyhow::ensure!(status == 200, "transaction {txn} answered {status}");
        Ok(())
    }

    /// The messages sent to `room`, as `(sender, body)`; the sender is `None` for the bot.
    fn messages_in(&self, room: &str) -> Vec<(Option<String>, String)> {
        let messages = self.hs.messages().into_iter();
        messages.filter(|(r, _, _)| r == room).map(|(_, sender, body)| (sender, body)).collect()
    }

    fn stop(mut self) -> anyhow::Result<String> {
        let status = tokio::task::block_in_place(|| self.bridge.terminate())?;
        anyhow::ensure!(status.success(), "exit status {status}:\n{}", self.bridge.log());
        support::secrets::assert_none_in_log(&self.bridge)?;
        Ok(self.bridge.log())
    }
}

fn with_state_key(mut event: Value, state_key: &str) -> Value {
    event["state_key"] = json!(state_key);
    event
}

/// Stores alice's portal with `GHOST`'s contact in the bridge's database, as `start-chat` would,
/// and `work` in its queue.
async fn seed_portal(bridge: &Bridge, work: &[NewPortalWork]) -> anyhow::Result<()> {
    let dir = bridge.config_path().parent().map(|d| d.to_owned()).unwrap_or_default();
    let db = DatabaseConfig {
        kind: DatabaseKind::Sqlite,
        uri: format!("sqlite:{}", dir.join("interop-bridge.db").display()),
        max_connections: 1,
    };
    let store = Store::connect(&db).await?;
    store.migrate().await?;
    let row = PortalRow {
        owner: ALICE.into(),
        remote_chat: CONTACT.into(),
        room_id: PORTAL.into(),
        relay: false,
    };
    store.insert_portal(&row).await?;
    store.queue_portal_work(work, &[]).await?;
    store.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_events_are_skipped_and_the_events_after_them_processed() -> anyhow::Result<()> {
    let mut w = World::start().await?;
    let mut events = vec![
        json!({"type": "m.room.message"}),
        json!({"type": "m.room.message", "room_id": MANAGEMENT, "content": {"body": "help"}}),
        json!({"type": "m.room.message", "event_id": "$x", "room_id": MANAGEMENT,
               "sender": 5, "origin_server_ts": "soon", "content": []}),
        json!({"type": ["m.room.message"], "content": null}),
        json!({"type": "m.room.member", "event_id": "$m", "room_id": MANAGEMENT, "sender": ALICE,
               "origin_server_ts": 1, "state_key": BOT, "content": {"membership": 42}}),
    ];
    // Deep nesting inside an event's content (within serde_json's limit): read as usual.
    let deep = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    let mut nested = w.text(MANAGEMENT, ALICE, "help");
    nested["content"]["nested"] = serde_json::from_str(&deep)?;
    events.push(nested);
    // HTML with a script and broken nesting: the command is read from the plain body.
    events.push(w.event(
        MANAGEMENT,
        ALICE,
        "m.room.message",
        json!({"msgtype": "m.text", "body": "version", "format": "org.matrix.custom.html",
               "formatted_body": "<b><i>version</b></i><script>alert(1)</script><a href=\"javascript:x\">"}),
    ));
    // A huge single word: answered, but not echoed back in full.
    events.push(w.text(MANAGEMENT, ALICE, &"x".repeat(300_000)));
    // A lone surrogate escape no string can hold; its event cannot be read.
    events.push(w.text(MANAGEMENT, ALICE, "whoami LONE-SURROGATE"));
    // The portal's owner writes hostile content: bridged (here: refused, not logged in).
    events.push(w.event(
        PORTAL,
        ALICE,
        "m.room.message",
        json!({"msgtype": "m.text", "body": "</p><script>", "format": "org.matrix.custom.html",
               "formatted_body": format!("{}<script>x</script>", "<blockquote>".repeat(5000))}),
    ));
    let ephemeral = json!([
        {"type": "m.typing", "room_id": PORTAL, "content": {"user_ids": "alice"}},
        {"type": "m.receipt", "room_id": PORTAL, "content": []},
        {"type": "m.receipt", "room_id": PORTAL, "content": {"$e1": {"m.read": {"@alice:localhost": 5}}}},
        {"type": "m.presence", "content": {"presence": 7}},
    ]);
    let body = json!({"events": events, "ephemeral": ephemeral}).to_string();
    w.push_raw(body.replace("LONE-SURROGATE", "\\udc00")).await?;

    // A good transaction after them is processed.
    let ping = w.text(MANAGEMENT, ALICE, "ping");
    w.push(json!({"events": [ping]})).await?;
    w.hs.wait_for_message(MANAGEMENT, "Pong").await?;
    w.hs.wait_for_message(PORTAL, "not logged in").await?;

    let answers: Vec<String> = w.messages_in(MANAGEMENT).into_iter().map(|(_, b)| b).collect();
    assert!(answers.iter().any(|b| b.contains("interop-bridge")), "the HTML command: {answers:?}");
    assert!(answers.iter().any(|b| b.starts_with("Unknown command")), "{answers:?}");
    assert!(answers.iter().all(|b| b.len() < 4000), "a reply echoed a huge input");
    assert!(answers.iter().any(|b| b.starts_with("Available commands")), "the nested command");
    assert!(!answers.iter().any(|b| b.contains("not logged in")), "the unreadable event was read");
    assert!(w.hs.calls().iter().all(|c| !c.body.to_string().contains("<script")));
    let log = w.stop()?;
    assert!(log.contains("ignoring an event we do not understand"), "{log}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_permitted_users_and_portal_owners_are_served_and_own_events_never_answered()
-> anyhow::Result<()> {
    let mut w = World::start().await?;
    for file in [w.bridge.config_path(), w.bridge.registration_path()] {
        let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} holds secrets", file.display());
    }
    let shared = "!shared:localhost";
    let eve = "@eve:elsewhere.example";
    let bob = "@bob:localhost";
    let mut events = vec![
        // Relay level and strangers: refused, whatever the command.
        w.text(shared, MALLORY, "!wa login"),
        w.text(shared, MALLORY, "!wa start-chat +4915112345678"),
        w.text(shared, eve, "!wa login"),
        with_state_key(
            w.event(
                "!mallory:localhost",
                MALLORY,
                "m.room.member",
                json!({"membership": "invite"}),
            ),
            BOT,
        ),
        // The bot's and the ghosts' own events are never answered or bridged.
        w.text(MANAGEMENT, BOT, "help"),
        w.text(shared, BOT, "!wa help"),
        w.text(MANAGEMENT, GHOST, "help"),
        w.text(shared, GHOST, "!wa help"),
        with_state_key(
            w.event(
                "!ghostroom:localhost",
                GHOST,
                "m.room.member",
                json!({"membership": "invite"}),
            ),
            BOT,
        ),
        w.text(PORTAL, GHOST, "echo"),
        // Portal messages from anyone but its owner are not bridged.
        w.text(PORTAL, MALLORY, "from mallory"),
        w.text(PORTAL, bob, "from bob"),
        w.text(PORTAL, BOT, "from the bot"),
    ];
    let alice_in_portal = w.text(PORTAL, ALICE, "from alice");
    let alice_event = alice_in_portal["event_id"].as_str().unwrap_or_default().to_owned();
    events.push(alice_in_portal);
    w.push(json!({"events": events})).await?;

    // Without the right token, nothing is stored or done.
    let help = w.text(MANAGEMENT, ALICE, "help");
    for token in ["", "wrong"] {
        let body = json!({"events": [help]}).to_string();
        let status = w.hs.push(w.bridge.port, token, "forged", body).await?;
        assert!(status == 401 || status == 403, "{status}");
    }

    let version = w.text(MANAGEMENT, ALICE, "version");
    w.push(json!({"events": [version]})).await?;
    w.hs.wait_for_message(MANAGEMENT, "interop-bridge").await?;
    w.hs.wait_for_message(PORTAL, "not logged in").await?;
    // Give a (wrong) late portal notice the time to show.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let refused: Vec<_> = w.messages_in(shared);
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused.iter().all(|(sender, body)| sender.is_none() && body.contains("not allowed")));
    let mallory_room = w.messages_in("!mallory:localhost");
    assert!(mallory_room.len() == 1 && mallory_room[0].1.contains("not allowed"));
    let calls = w.hs.calls();
    assert!(calls.iter().any(|c| c.path.ends_with("!mallory:localhost/leave")), "left");
    assert!(!calls.iter().any(|c| c.path.contains("!ghostroom")), "no join for a ghost's invite");
    let management: Vec<String> = w.messages_in(MANAGEMENT).into_iter().map(|(_, b)| b).collect();
    assert_eq!(management.len(), 2, "the welcome and the version only: {management:?}");
    let portal = w.messages_in(PORTAL);
    assert!(
        portal.iter().all(|(sender, _)| sender.as_deref() == Some(GHOST)),
        "answered by the ghost"
    );
    // Only alice's message goes on (and, not logged in, gets its notice); the others are told
    // once that they do not write to this chat.
    let (hints, notices): (Vec<_>, Vec<_>) =
        portal.iter().partition(|(_, body)| body.contains("are not sent to WhatsApp"));
    assert_eq!(notices.len(), 1, "only alice's message is bridged: {portal:?}");
    assert_eq!(hints.len(), 2, "one hint each for bob and mallory: {portal:?}");
    let notice = calls.iter().find(|c| {
        c.sent_message()
            .is_some_and(|(room, body)| room == PORTAL && body.contains("not logged in"))
    });
    let replied_to = notice.map(|c| c.body["m.relates_to"]["m.in_reply_to"]["event_id"].clone());
    assert_eq!(replied_to, Some(json!(alice_event)));
    w.stop()?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_delivered_again_is_run_and_answered_once() -> anyhow::Result<()> {
    let mut w = World::start().await?;
    // The same event in a second transaction: what a replay after a crash looks like.
    let ping = w.text(MANAGEMENT, ALICE, "ping");
    w.push(json!({"events": [ping.clone()]})).await?;
    w.hs.wait_for_message(MANAGEMENT, "Pong").await?;
    w.push(json!({"events": [ping]})).await?;
    let version = w.text(MANAGEMENT, ALICE, "version");
    w.push(json!({"events": [version]})).await?;
    w.hs.wait_for_message(MANAGEMENT, "interop-bridge").await?;
    let pongs = w.messages_in(MANAGEMENT).into_iter().filter(|(_, b)| b.contains("Pong")).count();
    assert_eq!(pongs, 1, "the command ran again: {:?}", w.messages_in(MANAGEMENT));
    let log = w.stop()?;
    assert!(log.contains("command answered before the restart"), "{log}");
    Ok(())
}

/// Plain portal messages are queued at the door, in the commit that stores their transaction;
/// a transaction with anything else in it goes through the transaction worker. Mixed in quick
/// succession, the portal's messages must still be applied in the order they were pushed (each
/// gets a "not logged in" notice in reply, so the notices show the order). The bot is slow to
/// answer the commands that send every third transaction through the worker, so plain ones
/// arrive at the door while an earlier one is still being processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_messages_keep_their_order_whether_routed_at_the_door_or_by_the_worker()
-> anyhow::Result<()> {
    let hs = FakeHomeserver::start().await?;
    hs.slow_down("interop-bridge", std::time::Duration::from_millis(300));
    let mut w = World::start_with(hs, &[]).await?;
    let mut pushed = Vec::new();
    for i in 0..30 {
        let message = w.text(PORTAL, ALICE, &format!("m{i}"));
        pushed.push(message["event_id"].clone());
        let mut events = vec![message];
        match i % 3 {
            // A command sends the whole transaction through the worker.
            0 => events.push(w.text(MANAGEMENT, ALICE, "version")),
            // Comes while the worker is still at it: must wait behind it.
            1 => {}
            // Comes once the command was answered: the door may take it.
            _ => {
                let answers = || {
                    w.messages_in(MANAGEMENT)
                        .iter()
                        .filter(|(_, b)| b.contains("interop-bridge"))
                        .count()
                };
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
                while answers() < i / 3 + 1 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                // And for the worker to commit what it was processing.
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
        }
        w.push(json!({"events": events})).await?;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let replied_to = loop {
        let replied_to: Vec<Value> = (w.hs.calls().iter())
            .filter(|c| {
                c.sent_message()
                    .is_some_and(|(room, body)| room == PORTAL && body.contains("not logged in"))
            })
            .map(|c| c.body["m.relates_to"]["m.in_reply_to"]["event_id"].clone())
            .collect();
        if replied_to.len() >= pushed.len() || tokio::time::Instant::now() > deadline {
            break replied_to;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(replied_to, pushed, "every message once, in the order pushed");
    let log = w.stop()?;
    // Those that came while a command was answered waited for the worker; those that came
    // after it (10) were routed at the door, unless a slow machine had the worker still at it.
    let routed = log.matches("stored and routed transaction").count();
    assert!((2..=10).contains(&routed), "{routed} routed at the door:\n{log}");
    Ok(())
}

/// After a crash, a message's record can be missing while the other direction already applies
/// an item that refers to it. Left in the queue: Alice's message (to the gatekeeper), then the
/// contact's reply to a message the bridge has no record of (to Matrix). The reply must wait
/// until Alice's older item is through, whose answer the homeserver is slow to give; without
/// the rule it would be posted first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_whose_target_is_unknown_waits_for_older_work_the_other_way() -> anyhow::Result<()>
{
    let mine = json!({
        "type": "m.room.message", "event_id": "$mine", "room_id": PORTAL, "sender": ALICE,
        "origin_server_ts": 1_700_000_000_000u64, "content": {"msgtype": "m.text", "body": "hi"},
    });
    let outbound = PortalWork::Matrix { event: serde_json::from_value(mine)? };
    let mut reply = interop_proto::content::Content::text("the contact's answer");
    reply.in_reply_to =
        Some(interop_proto::content::MessageRef { id: "UNKNOWN1".into(), sender: "me".into() });
    let inbound = PortalWork::RemoteMessage {
        from: CONTACT.into(),
        id: "R1".into(),
        timestamp_ms: 1_700_000_000_001,
        content: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            prost::Message::encode_to_vec(&reply),
        ),
    };
    let item = |direction, key: &str, work: &PortalWork| -> anyhow::Result<NewPortalWork> {
        Ok(NewPortalWork {
            owner: ALICE.into(),
            remote_chat: CONTACT.into(),
            direction,
            dedupe_key: key.into(),
            payload: serde_json::to_string(work)?,
        })
    };
    let left_over = [
        item(Direction::ToRemote, "m|$mine", &outbound)?,
        item(Direction::ToMatrix, &format!("rm|{ALICE}|{CONTACT}|R1"), &inbound)?,
    ];
    let hs = FakeHomeserver::start().await?;
    // Alice is not logged in, so her message ends in a notice that says so: slow to be taken.
    let refusal = "you are not logged in";
    hs.slow_down(refusal, std::time::Duration::from_secs(3));
    let w = World::start_with(hs, &left_over).await?;

    w.hs.wait_for_message(PORTAL, "the contact's answer").await?;
    let portal = w.messages_in(PORTAL);
    let at = |needle: &str| portal.iter().position(|(_, body)| body.contains(needle));
    let (notice, answer) = (at(refusal), at("the contact's answer"));
    assert!(notice.is_some() && notice < answer, "the reply overtook older work: {portal:?}");
    assert_eq!(portal[answer.unwrap_or_default()].0.as_deref(), Some(GHOST), "{portal:?}");
    let log = w.stop()?;
    assert!(log.contains("may still be recorded by earlier work"), "{log}");
    Ok(())
}

/// Synapse drops the events in its appservice queue when it restarts. The bridge must notice
/// the homeserver going away (it looks every second) and, once it is back, read the active
/// portals' recent events to queue what was never pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_that_went_away_is_caught_up_on_when_it_is_back() -> anyhow::Result<()> {
    let mut w = World::start().await?;
    // The portal becomes active (queued work), so a catch-up reads it.
    let hi = w.text(PORTAL, ALICE, "hi");
    w.push(json!({"events": [hi]})).await?;
    w.hs.wait_for_message(PORTAL, "not logged in").await?;
    let reads = |hs: &FakeHomeserver| {
        let path = format!("/_matrix/client/v3/rooms/{PORTAL}/messages");
        hs.calls().iter().filter(|c| c.path == path).count()
    };
    let before = reads(&w.hs);

    w.hs.away("/_matrix/client/versions", std::time::Duration::from_secs(3));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while reads(&w.hs) == before {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no catch-up after the outage");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let log = w.stop()?;
    assert!(log.contains("lost the homeserver"), "{log}");
    Ok(())
}
