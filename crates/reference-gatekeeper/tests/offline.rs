//! Store-and-forward: a user offline while messages arrive gets them all,
//! in order, exactly once, after reconnecting; also across a restart.

mod support;

use std::time::Duration;

use interop_proto::content::Content;
use reference_gatekeeper::client::{ClientError, Event, Session};
use support::{collect, drain, native, text_of};

fn texts(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(text_of).map(str::to_owned).collect()
}

/// Sends each text in order, waiting as long as the gatekeeper asks whenever it answers 429:
/// 50 messages in a row go past the default limit (20/s, bursts of 40) when it keeps up.
async fn send_all(session: &mut Session, to: &str, texts: &[String]) {
    for text in texts {
        loop {
            match session.send_content(to, Content::text(text.clone())).await {
                Ok(_) => break,
                Err(ClientError::Refused(e)) if e.code == 429 => {
                    tokio::time::sleep(Duration::from_millis(e.retry_after_ms.max(1))).await;
                }
                Err(e) => panic!("sending {text:?}: {e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_messages_arrive_in_order_exactly_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("gk");
    let gk = support::gatekeeper(&data, vec![]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let ben_id = "491709876543@native";

    // Ben is offline; Anna sends 30 messages.
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let first: Vec<String> = (0..30).map(|i| format!("msg {i:02}")).collect();
    send_all(&mut anna, ben_id, &first).await;

    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let got = collect(&mut ben, 30, 20, |e| matches!(e, Event::Message { .. })).await;
    assert_eq!(texts(&got), first);
    assert!(got.iter().all(|e| matches!(e, Event::Message { offline: true, .. })));
    assert!(drain(&mut ben, 300).await.iter().all(|e| !matches!(e, Event::Message { .. })));
    drop(ben);

    // Ben offline again; more messages; then the gatekeeper restarts.
    let second: Vec<String> = (0..20).map(|i| format!("after {i:02}")).collect();
    send_all(&mut anna, ben_id, &second).await;
    drop(anna);
    gk.shutdown().await;
    let gk = support::gatekeeper(&data, vec![]).await;
    // Credentials hold the old URLs (ports changed): point them at the new server.
    for home in [&anna_home, &ben_home] {
        repoint(home, &gk);
    }

    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let got = collect(&mut ben, 20, 20, |e| matches!(e, Event::Message { .. })).await;
    assert_eq!(texts(&got), second);
    ben.save().unwrap();
    drop(ben);

    // Nothing is delivered twice on the next connection.
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let again = drain(&mut ben, 500).await;
    assert!(again.iter().all(|e| !matches!(e, Event::Message { .. })), "{again:?}");
    // And Anna gets the delivery receipts that waited for her.
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let receipts = collect(
        &mut anna,
        50,
        20,
        |e| matches!(e, Event::Receipt { receipt, .. } if receipt == "delivered"),
    )
    .await;
    assert_eq!(receipts.len(), 50);
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_message_id_is_acknowledged_but_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    native(&gk, &dir.path().join("cleo"), "+491705555555", "Cleo").await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();
    let ben_id = "491709876543@native";
    // The sender retries after a lost ack: same id, new ciphertext.
    let a =
        anna.send_content_with_id(ben_id, Content::text("once"), "IDEMP1".into()).await.unwrap();
    let b =
        anna.send_content_with_id(ben_id, Content::text("once"), "IDEMP1".into()).await.unwrap();
    assert_eq!(a.id, b.id);
    let got = collect(&mut ben, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert_eq!(texts(&got), ["once"]);
    assert!(drain(&mut ben, 300).await.iter().all(|e| !matches!(e, Event::Message { .. })));
    // The same id for another recipient is a conflict.
    match anna
        .send_content_with_id("491705555555@native", Content::text("x"), "IDEMP1".into())
        .await
    {
        Err(reference_gatekeeper::client::ClientError::Refused(e)) => assert_eq!(e.code, 409),
        other => panic!("{other:?}"),
    }
    gk.shutdown().await;
}

/// Rewrites a device's server URLs after the gatekeeper came back on new ports.
fn repoint(home: &reference_gatekeeper::client::Home, gk: &reference_gatekeeper::Running) {
    let path = home.dir().join("device.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["credentials"]["server"] = gk.http_url().into();
    v["credentials"]["chat_url"] = gk.chat_url().into();
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}
