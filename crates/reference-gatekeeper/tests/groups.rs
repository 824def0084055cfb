//! Groups: a native user creates a group with native and partner members,
//! sender-key messages fan out, membership changes reach every member; and
//! per-sender rate limits.

mod support;

use interop_proto::content::Content;
use reference_gatekeeper::client::{ClientError, Command, Event, Session, commands::execute};
use support::partner::TestPartner;
use support::{collect, drain, native, opt_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_with_native_and_partner_members() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestPartner::start("example.org").await;
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![partner.config()]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    opt_in(&anna_home, "example.org", "combined").await;
    opt_in(&ben_home, "example.org", "separate").await;
    let alice = partner.enlist(&gk.http_url(), "@alice:example.org").await;
    let alice_id = alice.login.clone();
    let mut alice = partner.connect(&gk.chat_url(), alice).await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();

    let created = execute(
        &mut anna,
        Command::GroupCreate {
            subject: "Trip".into(),
            members: vec!["+491709876543".into(), alice_id.clone()],
        },
    )
    .await
    .unwrap();
    let group = created["group"].as_str().unwrap().to_owned();
    for s in [&mut ben, &mut alice] {
        collect(
            s,
            1,
            10,
            |e| matches!(e, Event::GroupChange { participants, .. } if participants.len() == 3),
        )
        .await;
    }

    let sent = anna.send_content(&group, Content::text("tickets booked")).await.unwrap();
    for s in [&mut ben, &mut alice] {
        let got = collect(s, 1, 10, |e| matches!(e, Event::Message { .. })).await;
        assert!(
            matches!(&got[0], Event::Message { id, chat, from, text, .. } if *id == sent.id && *chat == group && from == "491701234567@native" && text == "tickets booked"),
            "{got:?}"
        );
    }
    // The partner member writes to the group too.
    alice.send_content(&group, Content::text("great!")).await.unwrap();
    for s in [&mut anna, &mut ben] {
        let got = collect(s, 1, 10, |e| matches!(e, Event::Message { .. })).await;
        assert!(
            matches!(&got[0], Event::Message { text, from, .. } if text == "great!" && *from == alice_id),
            "{got:?}"
        );
    }

    // Ben is removed: everyone, Ben included, hears of it; he gets nothing after.
    execute(
        &mut anna,
        Command::GroupRemove { group: group.clone(), members: vec!["491709876543@native".into()] },
    )
    .await
    .unwrap();
    collect(
        &mut ben,
        1,
        10,
        |e| matches!(e, Event::GroupChange { participants, .. } if participants.len() == 2),
    )
    .await;
    collect(
        &mut alice,
        1,
        10,
        |e| matches!(e, Event::GroupChange { participants, .. } if participants.len() == 2),
    )
    .await;
    collect(
        &mut anna,
        1,
        10,
        |e| matches!(e, Event::GroupChange { participants, .. } if participants.len() == 2),
    )
    .await;
    anna.send_content(&group, Content::text("without Ben")).await.unwrap();
    collect(
        &mut alice,
        1,
        10,
        |e| matches!(e, Event::Message { text, .. } if text == "without Ben"),
    )
    .await;
    assert!(drain(&mut ben, 300).await.iter().all(|e| !matches!(e, Event::Message { .. })));
    // A non-member cannot post.
    match ben.send_content(&group, Content::text("let me in")).await {
        Err(ClientError::Refused(e)) => assert_eq!(e.code, 403),
        other => panic!("{other:?}"),
    }
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_rate_limit_answers_429_with_a_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(&dir.path().join("gk"), vec![]);
    config.rate_limit.messages_per_sec = 1.0;
    config.rate_limit.burst = 3.0;
    let gk = reference_gatekeeper::start(config).await.unwrap();
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    for i in 0..3 {
        anna.send_content("491709876543@native", Content::text(format!("{i}"))).await.unwrap();
    }
    match anna.send_content("491709876543@native", Content::text("too fast")).await {
        Err(ClientError::Refused(e)) => {
            assert_eq!(e.code, 429);
            assert!(e.retry_after_ms > 0 && e.text.contains("rate_limited"), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    // Others are not affected.
    ben.send_content("491701234567@native", Content::text("me too")).await.unwrap();
    gk.shutdown().await;
}
