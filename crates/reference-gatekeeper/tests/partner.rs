//! A test partner (own JWKS over axum, own JWTs) enlists users and chats
//! with native users; enlistment refusals; push; partner media; opt-in and
//! blocking as the partner sees them.

mod support;

use std::time::Duration;

use interop_proto::ErrorCode;
use interop_proto::auth::{JwtSigner, Scope};
use interop_proto::content::{Content, MediaKind, MediaLocation};
use interop_proto::enlist::{EnlistFailure, EnlistResponse};
use reference_gatekeeper::client::{ClientError, Event};
use support::partner::TestPartner;
use support::{collect, drain, native, opt_in};

fn refused_code(r: Result<impl std::fmt::Debug, ClientError>) -> u32 {
    match r {
        Err(ClientError::Refused(e)) => e.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enlistment_is_checked_against_the_partners_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestPartner::start("example.org").await;
    let gk = support::gatekeeper(dir.path(), vec![partner.config()]).await;
    let http = gk.http_url();

    let user = partner.enlist(&http, "@alice:example.org").await;
    assert!(user.login.ends_with("@interop"), "{}", user.login);

    // Signed by a key the partner does not publish.
    let rogue = JwtSigner::generate("rogue");
    let (req, _) = partner.enlist_request("@mallory:example.org", &rogue);
    let (status, resp) = partner.post_enlist(&http, &req).await;
    assert_eq!(status, 401);
    match resp {
        EnlistResponse::Fail { reason: EnlistFailure::BadToken, detail } => {
            assert!(detail.contains("no key `rogue`"), "{detail}")
        }
        other => panic!("{other:?}"),
    }

    // Same kid as the partner's but a different key: bad signature.
    let forged = JwtSigner::generate("p1");
    let (req, _) = partner.enlist_request("@mallory:example.org", &forged);
    let (status, resp) = partner.post_enlist(&http, &req).await;
    assert_eq!(status, 401);
    match resp {
        EnlistResponse::Fail { reason: EnlistFailure::BadToken, detail } => {
            assert!(detail.contains("Signature"), "{detail}")
        }
        other => panic!("{other:?}"),
    }

    // Expired (issued two hours ago, valid for one).
    let (mut req, u) = partner.enlist_request("@old:example.org", &partner.signer);
    let mut claims = interop_proto::auth::Claims::new(
        "example.org",
        "@old:example.org",
        support::partner::GATEKEEPER_ID,
        Scope::Enlist,
        3600,
    )
    .with_authkey(&u.noise.public());
    claims.iat -= 7200;
    claims.exp -= 7200;
    req.token = partner.signer.sign(&claims).unwrap();
    let (status, resp) = partner.post_enlist(&http, &req).await;
    assert_eq!(status, 401);
    match resp {
        EnlistResponse::Fail { reason: EnlistFailure::ExpiredToken, detail } => {
            assert!(detail.contains("xpired"), "{detail}")
        }
        other => panic!("{other:?}"),
    }

    // Unknown partner.
    let (mut req, _) = partner.enlist_request("@x:evil.example", &partner.signer);
    req.partner = "evil.example".into();
    let (status, resp) = partner.post_enlist(&http, &req).await;
    assert_eq!(status, 403);
    assert!(matches!(resp, EnlistResponse::Fail { reason: EnlistFailure::BadIntegrator, .. }));

    // Token for another user than the body says.
    let (mut req, _) = partner.enlist_request("@bob:example.org", &partner.signer);
    req.user = "@carol:example.org".into();
    assert_eq!(partner.post_enlist(&http, &req).await.0, 401);

    // Bad keys.
    let (mut req, _) = partner.enlist_request("@dave:example.org", &partner.signer);
    req.signed_prekey.signature[0] ^= 1;
    let (status, resp) = partner.post_enlist(&http, &req).await;
    assert_eq!(status, 400);
    assert!(matches!(resp, EnlistResponse::Fail { reason: EnlistFailure::BadKeys, .. }));
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_and_blocking_decide_who_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestPartner::start("example.org").await;
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![partner.config()]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let alice = partner.enlist(&gk.http_url(), "@alice:example.org").await;
    let mut alice = partner.connect(&gk.chat_url(), alice).await;
    let anna_id = alice.resolve("+491701234567").await.unwrap();

    // Not opted in: 406, for key fetch and for messages.
    assert_eq!(refused_code(alice.send_content(&anna_id, Content::text("hi")).await), 406);

    opt_in(&anna_home, "example.org", "separate").await;
    let mut anna = reference_gatekeeper::client::Session::connect_home(&anna_home).await.unwrap();
    let sent = alice.send_content(&anna_id, Content::text("hello from Matrix")).await.unwrap();
    let got = collect(&mut anna, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(
        matches!(&got[0], Event::Message { id, text, from, .. } if *id == sent.id && text == "hello from Matrix" && *from == alice.user())
    );

    // Anna answers; Alice receives.
    let back = anna.send_content(alice.user(), Content::text("hi Alice")).await.unwrap();
    let got = collect(&mut alice, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(matches!(&got[0], Event::Message { id, .. } if *id == back.id));

    // Anna blocks Alice: 403.
    let alice_id = alice.user().to_owned();
    reference_gatekeeper::client::commands::execute(
        &mut anna,
        reference_gatekeeper::client::Command::Block { user: alice_id.clone() },
    )
    .await
    .unwrap();
    assert_eq!(
        refused_code(alice.send_content(&anna_id, Content::text("still there?")).await),
        403
    );
    reference_gatekeeper::client::commands::execute(
        &mut anna,
        reference_gatekeeper::client::Command::Unblock { user: alice_id },
    )
    .await
    .unwrap();
    alice.send_content(&anna_id, Content::text("back again")).await.unwrap();
    collect(&mut anna, 1, 10, |e| matches!(e, Event::Message { text, .. } if text == "back again"))
        .await;

    // Opting out is announced to the partner user and refuses again.
    opt_in(&anna_home, "example.org", "none").await;
    collect(&mut alice, 1, 10, |e| matches!(e, Event::OptInChange { opted_in: false, .. })).await;
    assert_eq!(
        refused_code(alice.send_content(&anna_id, Content::text("?")).await),
        ErrorCode::NotOptedIn.as_u32()
    );
    gk.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_user_gets_pushed_media_flows_and_reenlistment_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let partner = TestPartner::start("example.org").await;
    let gk = support::gatekeeper(&dir.path().join("gk"), vec![partner.config()]).await;
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    opt_in(&anna_home, "example.org", "combined").await;
    let alice = partner.enlist(&gk.http_url(), "@alice:example.org").await;
    let alice_login = alice.login.clone();
    let mut anna = reference_gatekeeper::client::Session::connect_home(&anna_home).await.unwrap();

    // Alice is offline: Anna's message waits and the partner is pushed.
    anna.send_content(&alice_login, Content::text("wake up")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (push, auth) = loop {
        if let Some(p) = partner.state.pushes.lock().unwrap().first().cloned() {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "no push arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(push.to, "@alice:example.org");
    assert!(push.pending >= 1);
    // The push token verifies against the gatekeeper's JWKS.
    let jwks: interop_proto::auth::JwkSet =
        reqwest::get(format!("{}.well-known/jwks.json", gk.http_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let token = auth.strip_prefix("Bearer ").unwrap();
    let claims = interop_proto::auth::verify(
        token,
        &jwks,
        &interop_proto::auth::Expected {
            issuer: support::partner::GATEKEEPER_ID,
            audience: "example.org",
            scope: Scope::Push,
            authkey: None,
        },
    )
    .unwrap();
    assert_eq!(claims.sub, "@alice:example.org");

    let mut alice = partner.connect(&gk.chat_url(), alice).await;
    let got = collect(&mut alice, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(matches!(&got[0], Event::Message { text, offline: true, .. } if text == "wake up"));

    // Partner-hosted media reaches Anna through the gatekeeper.
    let blob = b"partner picture bytes".repeat(50);
    let enc = interop_proto::media_crypto::encrypt(&blob);
    partner.state.blobs.lock().unwrap().insert("ref-123_abc".into(), enc.ciphertext.clone());
    let media = enc.to_media_ref(
        MediaKind::Image,
        "image/png",
        MediaLocation::StorageReference("ref-123_abc".into()),
    );
    let anna_id = anna.user().to_owned();
    alice
        .send_content(&anna_id, Content { media: Some(media), ..Content::text("look") })
        .await
        .unwrap();
    let got = collect(&mut anna, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    let Event::Message { media: Some(m), .. } = &got[0] else { panic!("{got:?}") };
    assert_eq!(std::fs::read(m.path.as_ref().unwrap_or_else(|| panic!("{m:?}"))).unwrap(), blob);
    assert!(partner.state.media_auth.lock().unwrap()[0].starts_with("Bearer "));

    // Re-enlisting with new keys: Anna is told the identity changed; chat resumes.
    drop(alice);
    let alice2 = partner.enlist(&gk.http_url(), "@alice:example.org").await;
    assert_eq!(alice2.login, alice_login, "re-enlistment keeps the internal id");
    collect(
        &mut anna,
        1,
        10,
        |e| matches!(e, Event::IdentityChange { user } if *user == alice_login),
    )
    .await;
    let mut alice2 = partner.connect(&gk.chat_url(), alice2).await;
    anna.send_content(&alice_login, Content::text("new phone?")).await.unwrap();
    let got = collect(&mut alice2, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(matches!(&got[0], Event::Message { text, .. } if text == "new phone?"), "{got:?}");
    let _ = drain(&mut alice2, 100).await;
    gk.shutdown().await;
}
