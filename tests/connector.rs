//! The interop connector against the reference gatekeeper, in process: enlistment, the channel
//! and its reconnects, end-to-end encrypted messages both ways, delivery guarantees (redelivery
//! after a handler failure, de-duplication, state that survives a restart), push, media,
//! reachability, one-time key top-up and un-enlistment.

mod connector_support;

use std::time::Duration;

use connector_support::{Env, Native, PARTNER_ID, Recorder, collect, drain, fast_tuning};
use interop_bridge::gatekeeper::{
    ConnectionState, GatekeeperConnector, GatekeeperError, OutgoingMessage, RemoteEvent,
    interop::Tuning,
};
use interop_bridge::store::NewLogin;
use interop_proto::auth::{JwtSigner, Scope};
use interop_proto::content::{Content, MediaKind, MediaLocation};
use interop_proto::e2ee::E2ee;
use interop_proto::stanza::{IqQuery, KeyFetch, MessageKind, MessageStanza, ReceiptType};
use interop_proto::{Capability, media_crypto};
use reference_gatekeeper::client::Event;

const ALICE: &str = "@alice:example.org";

fn text(to: &str, id: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage { to: to.into(), id: id.into(), content: Content::text(body) }
}

fn is_text(e: &Event, want: &str) -> bool {
    matches!(e, Event::Message { text, .. } if text == want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enlist_connect_and_chat_both_ways() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let enlisted = connector.enlist(ALICE).await.unwrap();
    assert!(enlisted.remote_id.ends_with("@interop"), "{}", enlisted.remote_id);
    let stored = env.store.login(ALICE).await.unwrap().expect("a login row");
    assert_eq!((stored.remote_id.as_str(), stored.keys_version), (enlisted.remote_id.as_str(), 1));

    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connection(|s| *s == ConnectionState::Connecting).await;
    events.connected().await;
    assert_eq!(login.remote_id(), enlisted.remote_id);
    assert!(login.capabilities().contains(&Capability::Text));

    let contact = login.resolve_phone(&anna.phone).await.unwrap();
    assert_eq!((contact.remote_id.clone(), contact.display_name.as_str()), (anna.id(), "anna"));

    // Matrix → native: decrypted on the other side; the same id again is not delivered twice.
    let timestamp = login.send(&text(&anna.id(), "m1", "hello from Matrix")).await.unwrap();
    assert!(timestamp > 0);
    let got = collect(&mut anna.session, 1, 10, |e| is_text(e, "hello from Matrix")).await;
    assert!(
        matches!(&got[0], Event::Message { id, from, .. } if id == "m1" && *from == enlisted.remote_id)
    );
    login.send(&text(&anna.id(), "m1", "hello from Matrix")).await.unwrap();
    let again = drain(&mut anna.session, 500).await;
    assert!(!again.iter().any(|e| is_text(e, "hello from Matrix")), "{again:?}");

    // Native → Matrix: the handler gets it, then the sender hears it was delivered.
    let sent =
        anna.session.send_content(&enlisted.remote_id, Content::text("hi Alice")).await.unwrap();
    let call = events.message("hi Alice").await;
    assert!(
        matches!(call.event, RemoteEvent::Message { ref from, ref id, .. } if *from == anna.id() && *id == sent.id)
    );
    collect(&mut anna.session, 1, 10, |e| {
        matches!(e, Event::Receipt { ids, receipt, .. } if *ids == [sent.id.clone()] && receipt == "delivered")
    })
    .await;
    assert!(env.store.remote_seen(ALICE, &anna.id(), &sent.id).await.unwrap());

    // Receipts and typing, both ways.
    anna.session.receipt(&enlisted.remote_id, &["m1".into()], ReceiptType::Read).await.unwrap();
    events
        .next(10, |e| matches!(e, RemoteEvent::Receipt { ids, read: true, .. } if *ids == ["m1"]))
        .await;
    anna.session.typing(&enlisted.remote_id, true).await.unwrap();
    events.next(10, |e| matches!(e, RemoteEvent::Typing { typing: true, .. })).await;
    login.send_read_receipt(&anna.id(), std::slice::from_ref(&sent.id)).await.unwrap();
    login.send_typing(&anna.id(), true).await.unwrap();
    collect(
        &mut anna.session,
        1,
        10,
        |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "read"),
    )
    .await;

    // Re-enlisting replaces the keys, keeps the remote id, and the channel follows.
    assert_eq!(connector.enlist(ALICE).await.unwrap().remote_id, enlisted.remote_id);
    assert_eq!(env.store.login(ALICE).await.unwrap().unwrap().keys_version, 2);
    events.connection(|s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    events.connected().await;
    collect(&mut anna.session, 1, 10, |e| matches!(e, Event::IdentityChange { .. })).await;
    login.send(&text(&anna.id(), "m2", "new keys")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "new keys")).await;
    login.disconnect().await;
    assert!(matches!(
        login.send(&text(&anna.id(), "m3", "gone")).await,
        Err(GatekeeperError::Disconnected(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_delivered_again_and_handled_once() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    handler.refuse_once("store me");
    let _login = connector.connect(ALICE, handler.clone()).await.unwrap();
    events.connected().await;

    anna.session.send_content(&alice_id, Content::text("store me")).await.unwrap();
    let first = events.message("store me").await;
    assert!(!first.ok, "the first delivery is refused");
    events.connection(|s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    events.connected().await;
    let second = events.message("store me").await;
    assert!(second.ok, "delivered again after the reconnect, and decrypted again");
    // Confirmed now: not delivered a third time, and the sender hears it arrived.
    let more = events.drain(1500).await;
    assert!(!more.iter().any(|c| matches!(&c.event, RemoteEvent::Message { .. })), "{more:?}");
    collect(
        &mut anna.session,
        1,
        10,
        |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "delivered"),
    )
    .await;

    // A message already handled (same sender and id) arrives again, e.g. because a crash came
    // between storing it and confirming it: confirmed again, not handed over twice.
    let first_id = match &second.event {
        RemoteEvent::Message { id, .. } => id.clone(),
        _ => unreachable!(),
    };
    let resend = anna.session.e2ee().encrypt(&alice_id, b"not an envelope anyway").unwrap();
    anna.session
        .send_stanza(MessageStanza {
            id: first_id.clone(),
            to: alice_id.clone(),
            kind: MessageKind::Chat as i32,
            enc: vec![resend],
            retry_count: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    collect(&mut anna.session, 1, 10, |e| {
        matches!(e, Event::Receipt { ids, receipt, .. } if *ids == [first_id.clone()] && receipt == "delivered")
    })
    .await;
    let more = events.drain(500).await;
    assert!(!more.iter().any(|c| !matches!(c.event, RemoteEvent::Connection(_))), "{more:?}");
    // And the session still works for what comes next.
    anna.session.send_content(&alice_id, Content::text("after the repeat")).await.unwrap();
    events.message("after the repeat").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn olm_sessions_survive_a_connector_restart() {
    let mut env = Env::start().await;
    let first = env.connector(fast_tuning()).await;
    let alice_id = first.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = first.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    login.send(&text(&anna.id(), "a1", "before")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "before")).await;
    anna.session.send_content(&alice_id, Content::text("reply before")).await.unwrap();
    events.message("reply before").await;
    first.shutdown().await;
    drop((login, first));

    // A new connector on the same store: the sessions were saved with the pickle.
    let anna_keys_before =
        env.gatekeeper().shared.store.count_one_time_keys(&anna.id()).await.unwrap();
    let second = env.connector(fast_tuning()).await;
    let (handler, mut events) = Recorder::new();
    let login = second.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    anna.session.send_content(&alice_id, Content::text("after restart")).await.unwrap();
    events.message("after restart").await;
    login.send(&text(&anna.id(), "a2", "still here")).await.unwrap();
    let seen = collect(&mut anna.session, 1, 10, |e| is_text(e, "still here")).await;
    assert_eq!(seen.len(), 1);
    // No retry was needed, and no new session: none of Anna's one-time keys was fetched.
    let anna_events = drain(&mut anna.session, 300).await;
    assert!(
        !anna_events
            .iter()
            .any(|e| matches!(e, Event::Receipt { receipt, .. } if receipt == "retry"))
    );
    let anna_keys_after =
        env.gatekeeper().shared.store.count_one_time_keys(&anna.id()).await.unwrap();
    assert_eq!(anna_keys_after, anna_keys_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_receipts_repair_lost_sessions_both_ways() {
    let mut env = Env::start().await;
    let first = env.connector(fast_tuning()).await;
    let alice_id = first.enlist(ALICE).await.unwrap().remote_id;
    let enlisted = env.store.login(ALICE).await.unwrap().unwrap();
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = first.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    login.send(&text(&anna.id(), "r1", "first")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "first")).await;
    anna.session.send_content(&alice_id, Content::text("second")).await.unwrap();
    events.message("second").await;

    // Anna loses her session: she cannot read our next message and asks for a retry with
    // fresh keys; the connector resends the kept text on a new session, same id.
    anna.session.e2ee().forget_sessions(&alice_id);
    login.send(&text(&anna.id(), "r2", "third")).await.unwrap();
    let got = collect(&mut anna.session, 1, 10, |e| is_text(e, "third")).await;
    assert!(matches!(&got[0], Event::Message { id, .. } if id == "r2"));
    let later = drain(&mut anna.session, 300).await;
    assert!(!later.iter().any(|e| is_text(e, "third")), "delivered once: {later:?}");

    // The bridge loses its sessions (its state as at enlistment): it asks Anna for a retry,
    // and takes her message from the resend.
    first.shutdown().await;
    let as_enlisted = NewLogin {
        matrix_user_id: ALICE,
        remote_id: &enlisted.remote_id,
        sealed_noise_key: &enlisted.sealed_noise_key,
        sealed_olm_pickle: &enlisted.sealed_olm_pickle,
    };
    assert_eq!(env.store.upsert_login(&as_enlisted).await.unwrap(), 2);
    let second = env.connector(fast_tuning()).await;
    let (handler, mut events) = Recorder::new();
    let _login = second.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    anna.session.send_content(&alice_id, Content::text("fourth")).await.unwrap();
    // Anna's client answers the retry receipt (with the resend) as it reads it.
    collect(
        &mut anna.session,
        1,
        10,
        |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "retry"),
    )
    .await;
    let call = events.message("fourth").await;
    assert!(call.ok);
    let more = events.drain(500).await;
    assert!(!more.iter().any(|c| matches!(c.event, RemoteEvent::Message { .. })), "{more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gatekeeper_restart_means_reconnecting_then_connected() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;

    env.stop_gatekeeper().await;
    let state = events.connection(|s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    let ConnectionState::Reconnecting { retry_in_ms, reason } = state else { unreachable!() };
    assert!(retry_in_ms <= 1000 && !reason.is_empty(), "{retry_in_ms} {reason}");
    assert!(matches!(
        login.send(&text(&alice_id, "x", "while down")).await,
        Err(GatekeeperError::Disconnected(_))
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.start_gatekeeper().await;
    events.connected().await;
    anna.reconnect().await;
    anna.session.send_content(&alice_id, Content::text("you are back")).await.unwrap();
    events.message("you are back").await;
    login.send(&text(&anna.id(), "b1", "yes")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "yes")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_logins_reconnect_through_a_bounded_number_of_connect_slots() {
    let mut env = Env::start().await;
    // One channel may be opening at a time: every login still gets back, none starves.
    let tuning = Tuning { max_concurrent_connects: 1, ..fast_tuning() };
    let connector = env.connector(tuning).await;
    let mut logins = Vec::new();
    for i in 0..6 {
        let user = format!("@user{i}:example.org");
        connector.enlist(&user).await.unwrap();
        let (handler, events) = Recorder::new();
        let login = connector.connect(&user, handler).await.unwrap();
        logins.push((login, events));
    }
    for (_, events) in &mut logins {
        events.connected().await;
    }
    env.stop_gatekeeper().await;
    for (_, events) in &mut logins {
        events.connection(|s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    }
    env.start_gatekeeper().await;
    for (_, events) in &mut logins {
        events.connected().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_wakes_a_waiting_login_and_bad_pushes_are_refused() {
    let mut env = Env::start().await;
    // Every reconnect waits an hour unless a push cuts it short.
    let hour = Duration::from_secs(3600);
    let tuning = Tuning { backoff_min: hour, backoff_max: hour, ..Tuning::default() };
    let connector = env.connector(tuning).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let (handler, mut events) = Recorder::new();
    let _login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    env.stop_gatekeeper().await;
    let state = events.connection(|s| matches!(s, ConnectionState::Reconnecting { .. })).await;
    assert!(
        matches!(state, ConnectionState::Reconnecting { retry_in_ms, .. } if retry_in_ms >= 3_600_000)
    );
    env.start_gatekeeper().await;

    // Anna writes; Alice is offline, so the gatekeeper pushes, and the push wakes the login.
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    anna.session.send_content(&alice_id, Content::text("wake up")).await.unwrap();
    events.connected().await;
    events.message("wake up").await;

    let push = |token: String, to: &str| {
        env.http
            .post(env.partner_url("push"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "to": to, "pending": 1 }))
            .send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    // A good token for a known user: 202.
    let good = env.gatekeeper_token(ALICE, Scope::Push);
    assert_eq!(status(push(good, ALICE).await.unwrap()), 202);
    // Signed by a key the gatekeeper does not publish; the right key but the wrong scope; a
    // token for another user than the body names: 401.
    let rogue = JwtSigner::generate("rogue");
    let claims = interop_proto::auth::Claims::new(
        connector_support::GATEKEEPER_ID,
        ALICE,
        PARTNER_ID,
        Scope::Push,
        300,
    );
    assert_eq!(status(push(rogue.sign(&claims).unwrap(), ALICE).await.unwrap()), 401);
    assert_eq!(status(push(env.gatekeeper_token(ALICE, Scope::Media), ALICE).await.unwrap()), 401);
    let other = env.gatekeeper_token("@bob:example.org", Scope::Push);
    assert_eq!(status(push(other, ALICE).await.unwrap()), 401);
    let no_token = env.http.post(env.partner_url("push")).json(&serde_json::json!({"to": ALICE}));
    assert_eq!(status(no_token.send().await.unwrap()), 401);
    // A valid token for a user we do not know: 404.
    let nobody = "@nobody:example.org";
    assert_eq!(status(push(env.gatekeeper_token(nobody, Scope::Push), nobody).await.unwrap()), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_travels_both_ways() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;

    // Partner-hosted: the bridge hosts the ciphertext; the gatekeeper fetches it with a media
    // token; Anna downloads and decrypts it.
    let picture = b"a partner picture".repeat(300);
    let encrypted = media_crypto::encrypt(&picture);
    let reference = login.host_media(encrypted.ciphertext.clone()).await.unwrap();
    let media = encrypted.to_media_ref(
        MediaKind::Image,
        "image/png",
        MediaLocation::StorageReference(reference.clone()),
    );
    let content = Content { media: Some(media), ..Content::text("look") };
    login.send(&OutgoingMessage { to: anna.id(), id: "p1".into(), content }).await.unwrap();
    let got = collect(&mut anna.session, 1, 10, |e| is_text(e, "look")).await;
    let Event::Message { media: Some(info), .. } = &got[0] else { panic!("{got:?}") };
    let path = info.path.as_ref().unwrap_or_else(|| panic!("not downloaded: {info:?}"));
    assert_eq!(std::fs::read(path).unwrap(), picture);
    // Only with the gatekeeper's media token, and only for the user who sent it.
    let url = env.partner_url(&reference);
    let get = |token: Option<String>| {
        let request = env.http.get(&url);
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
        .send()
    };
    assert_eq!(get(None).await.unwrap().status().as_u16(), 401);
    let other = env.gatekeeper_token("@bob:example.org", Scope::Media);
    assert_eq!(get(Some(other)).await.unwrap().status().as_u16(), 404);
    let push_scope = env.gatekeeper_token(ALICE, Scope::Push);
    assert_eq!(get(Some(push_scope)).await.unwrap().status().as_u16(), 401);
    let own = get(Some(env.gatekeeper_token(ALICE, Scope::Media))).await.unwrap();
    assert_eq!(own.bytes().await.unwrap().as_ref(), encrypted.ciphertext.as_slice());

    // Native media: Anna uploads to the gatekeeper's media host; the bridge fetches it by URL.
    let voice = b"a native voice note".repeat(200);
    let encrypted = media_crypto::encrypt(&voice);
    let (creds, _, _) = anna.home.load().unwrap();
    let access =
        reference_gatekeeper::client::register::MediaAccess::from_credentials(&creds, anna.files());
    let url = access.upload(encrypted.ciphertext.clone()).await.unwrap();
    let media = encrypted.to_media_ref(MediaKind::Voice, "audio/ogg", MediaLocation::Url(url));
    let content = Content { media: Some(media), ..Content::text("listen") };
    anna.session.send_content(&alice_id, content).await.unwrap();
    let call = events.message("listen").await;
    let RemoteEvent::Message { content, .. } = call.event else { unreachable!() };
    let media = content.media.expect("media");
    let blob = login.fetch_media(&media).await.unwrap();
    assert_eq!(media_crypto::decrypt_ref(&media, &blob).unwrap(), voice);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_phone_says_why_a_number_cannot_be_reached() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let bob = Native::join(&env, "bob", "+491709999999", false).await;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;

    let e = login.resolve_phone(&bob.phone).await.unwrap_err();
    assert!(matches!(&e, GatekeeperError::NotOptedIn(p) if *p == bob.phone), "{e:?}");
    let e = login.send(&text(&bob.id(), "n1", "hello?")).await.unwrap_err();
    assert!(matches!(e, GatekeeperError::NotOptedIn(_)), "{e:?}");
    let e = login.resolve_phone("+491700000001").await.unwrap_err();
    assert!(matches!(e, GatekeeperError::UnknownUser(_)), "{e:?}");
    let e = login.resolve_phone("0170 1234").await.unwrap_err();
    assert!(matches!(e, GatekeeperError::UnknownUser(_)), "{e:?}");

    reference_gatekeeper::client::commands::execute(
        &mut anna.session,
        reference_gatekeeper::client::Command::Block { user: alice_id },
    )
    .await
    .unwrap();
    let e = login.resolve_phone(&anna.phone).await.unwrap_err();
    assert!(matches!(e, GatekeeperError::Blocked(_)), "{e:?}");
    let e = login.send(&text(&anna.id(), "n2", "hello?")).await.unwrap_err();
    assert!(matches!(e, GatekeeperError::Blocked(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_one_time_keys_are_topped_up() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let _login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    let gatekeeper = env.gatekeeper().shared.clone();
    let held = || async { gatekeeper.store.count_one_time_keys(&alice_id).await.unwrap() };
    assert_eq!(held().await, 50);

    // Other devices fetch Alice's keys until the gatekeeper warns her (fewer than 10 left).
    let fetch = || IqQuery::KeyFetch(KeyFetch { users: vec![alice_id.clone()] });
    for _ in 0..41 {
        anna.session.request(fetch()).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while held().await != 50 {
        assert!(tokio::time::Instant::now() < deadline, "not topped up: {} held", held().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new keys were saved with the account: after a restart of the connector, a session
    // made from one of them works.
    for _ in 0..9 {
        anna.session.request(fetch()).await.unwrap(); // the 9 old ones go first
    }
    connector.shutdown().await;
    let connector = env.connector(fast_tuning()).await;
    let (handler, mut events) = Recorder::new();
    let _login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    anna.session.e2ee().forget_sessions(&alice_id);
    anna.session.send_content(&alice_id, Content::text("on a new key")).await.unwrap();
    events.message("on a new key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unenlisting_deletes_the_login_and_the_gatekeeper_can_end_it_too() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    anna.session.send_content(&alice_id, Content::text("hi")).await.unwrap();
    events.message("hi").await;
    // Stored (with its handled-record) before it is confirmed.
    collect(
        &mut anna.session,
        1,
        10,
        |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "delivered"),
    )
    .await;
    let reference = login.host_media(vec![1, 2, 3]).await.unwrap();
    assert_eq!(env.store.remote_seen_count(ALICE).await.unwrap(), 1);

    connector.unenlist(ALICE).await.unwrap();
    assert!(env.store.login(ALICE).await.unwrap().is_none());
    assert_eq!(env.store.remote_seen_count(ALICE).await.unwrap(), 0);
    assert!(env.store.partner_media(&reference).await.unwrap().is_none());
    assert!(env.gatekeeper().shared.store.user(&alice_id).await.unwrap().is_none());
    assert!(!connector.wake(ALICE).await);
    assert!(matches!(
        connector.connect(ALICE, Recorder::new().0).await,
        Err(GatekeeperError::LoggedOut(_))
    ));
    connector.unenlist(ALICE).await.unwrap(); // the gatekeeper no longer knows her: still fine

    // The gatekeeper can end a login as well: the channel is told, and stops for good.
    connector.enlist(ALICE).await.unwrap();
    let (handler, mut events) = Recorder::new();
    let _login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    let token = {
        let claims = interop_proto::auth::Claims::new(
            PARTNER_ID,
            ALICE,
            connector_support::GATEKEEPER_ID,
            Scope::Enlist,
            300,
        );
        env.signer.sign(&claims).unwrap()
    };
    let body = interop_proto::enlist::UnenlistRequest {
        partner: PARTNER_ID.into(),
        user: ALICE.into(),
        token,
    };
    let url = format!("{}v1/unenlist", env.gatekeeper().http_url());
    assert!(env.http.post(url).json(&body).send().await.unwrap().status().is_success());
    events.connection(|s| matches!(s, ConnectionState::LoggedOut { .. })).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_a_restart_on_postgres() {
    let Some(mut env) = Env::start_postgres().await else {
        eprintln!("INTEROP_BRIDGE_TEST_POSTGRES is not set: skipping the PostgreSQL run");
        return;
    };
    let first = env.connector(fast_tuning()).await;
    let alice_id = first.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = first.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    login.send(&text(&anna.id(), "g1", "hello postgres")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "hello postgres")).await;
    anna.session.send_content(&alice_id, Content::text("hello back")).await.unwrap();
    events.message("hello back").await;
    first.shutdown().await;

    let second = env.connector(fast_tuning()).await;
    let (handler, mut events) = Recorder::new();
    let login = second.connect(ALICE, handler).await.unwrap();
    events.connected().await;
    anna.session.send_content(&alice_id, Content::text("after restart")).await.unwrap();
    events.message("after restart").await;
    login.send(&text(&anna.id(), "g2", "still here")).await.unwrap();
    collect(&mut anna.session, 1, 10, |e| is_text(e, "still here")).await;
    second.unenlist(ALICE).await.unwrap();
    assert!(env.store.login(ALICE).await.unwrap().is_none());
}
