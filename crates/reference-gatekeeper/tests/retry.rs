//! Decryption failures are repaired with retry receipts (spec §7.6): a
//! device that lost its session asks again and gets the message.

mod support;

use interop_proto::content::Content;
use reference_gatekeeper::client::{Event, Session};
use support::{collect, native};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_session_is_rebuilt_by_a_retry_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let fresh_ben = std::fs::read(ben_home.dir().join("device.json")).unwrap();
    let (anna_id, ben_id) = ("491701234567@native", "491709876543@native");

    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    anna.send_content(ben_id, Content::text("one")).await.unwrap();
    collect(&mut ben, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    ben.send_content(anna_id, Content::text("reply")).await.unwrap();
    collect(&mut anna, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    drop(ben);

    // Ben's device forgets everything since registration (restored backup).
    std::fs::write(ben_home.dir().join("device.json"), &fresh_ben).unwrap();
    let sent = anna.send_content(ben_id, Content::text("two")).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    // Ben asks for a retry; Anna's session answers it while handling events.
    let anna_task = tokio::spawn(async move {
        collect(
            &mut anna,
            1,
            10,
            |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "retry"),
        )
        .await;
        collect(
            &mut anna,
            1,
            10,
            |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "delivered"),
        )
        .await;
    });
    let got = collect(&mut ben, 1, 10, |e| {
        matches!(e, Event::Message { .. } | Event::Undecryptable { .. })
    })
    .await;
    assert!(
        matches!(&got[0], Event::Message { id, text, .. } if *id == sent.id && text == "two"),
        "{got:?}"
    );
    anna_task.await.unwrap();
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_sender_key_is_resent_after_a_group_retry() {
    use reference_gatekeeper::client::{Command, commands::execute};
    let dir = tempfile::tempdir().unwrap();
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let fresh_ben = std::fs::read(ben_home.dir().join("device.json")).unwrap();
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let created = execute(
        &mut anna,
        Command::GroupCreate { subject: "g".into(), members: vec!["491709876543@native".into()] },
    )
    .await
    .unwrap();
    let group = created["group"].as_str().unwrap().to_owned();
    anna.send_content(&group, Content::text("first")).await.unwrap();
    collect(&mut ben, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    drop(ben);

    // Ben loses the sender key; Anna believes he has it and sends only the skmsg.
    std::fs::write(ben_home.dir().join("device.json"), &fresh_ben).unwrap();
    let sent = anna.send_content(&group, Content::text("second")).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let anna_task = tokio::spawn(async move {
        collect(
            &mut anna,
            1,
            10,
            |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "retry"),
        )
        .await;
    });
    let got = collect(&mut ben, 1, 10, |e| {
        matches!(e, Event::Message { .. } | Event::Undecryptable { .. })
    })
    .await;
    assert!(
        matches!(&got[0], Event::Message { id, text, chat, .. } if *id == sent.id && text == "second" && *chat == group),
        "{got:?}"
    );
    anna_task.await.unwrap();
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_one_time_keys_are_topped_up() {
    use interop_proto::stanza::{IqAnswer, IqQuery, KeyCount, KeyFetch};
    let dir = tempfile::tempdir().unwrap();
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    for _ in 0..41 {
        let q = IqQuery::KeyFetch(KeyFetch { users: vec!["491709876543@native".into()] });
        let IqAnswer::KeyBundles(b) = anna.request(q).await.unwrap() else { panic!() };
        assert!(b.bundles[0].bundle.as_ref().unwrap().one_time_key.is_some());
    }
    collect(&mut ben, 1, 10, |e| matches!(e, Event::LowKeys { remaining: 9 })).await;
    let IqAnswer::KeyCount(k) = ben.request(IqQuery::KeyCount(KeyCount {})).await.unwrap() else {
        panic!()
    };
    assert_eq!((k.count, k.low_watermark), (50, 10));
    gk.shutdown().await;
}
