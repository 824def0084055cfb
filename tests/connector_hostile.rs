//! The interop connector against hostile contacts, in process with the reference gatekeeper:
//! media and avatar URLs that point anywhere but the gatekeeper's media host are never fetched,
//! and a blob that does not match its message's hash or size is refused with a clear error.
//! (Replays and redelivery are in `tests/connector.rs`; hostile chat-port input in the
//! reference gatekeeper's `tests/malformed.rs`.)

mod connector_support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use connector_support::{Env, Native, Recorder, fast_tuning};
use interop_bridge::gatekeeper::{GatekeeperConnector, GatekeeperError, RemoteEvent};
use interop_proto::content::{Content, MediaKind, MediaLocation};
use interop_proto::media_crypto::{self, MediaError};
use reference_gatekeeper::client::{Home, register};

const ALICE: &str = "@alice:example.org";

/// A loopback listener that counts the connections made to it.
async fn trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_fetched_only_from_the_gatekeepers_media_host() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    let alice_id = connector.enlist(ALICE).await.unwrap().remote_id;
    let mut anna = Native::join(&env, "anna", "+491701234567", true).await;
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;

    // Anna's message names a blob on a host of her choosing (here: a loopback port that stands
    // for a service inside the bridge's network).
    let (trap_url, hits) = trap().await;
    let encrypted = media_crypto::encrypt(b"not really a picture");
    let url = format!("{trap_url}/v1/media/abc");
    let media = encrypted.to_media_ref(MediaKind::Image, "image/png", MediaLocation::Url(url));
    let content = Content { media: Some(media), ..Content::text("look at this") };
    anna.session.send_content(&alice_id, content).await.unwrap();
    let call = events.message("look at this").await;
    let RemoteEvent::Message { content, .. } = call.event else { unreachable!() };
    let media = content.media.expect("the reference arrives as sent");
    let error = login.fetch_media(&media).await.expect_err("fetched from another host");
    assert!(matches!(&error, GatekeeperError::NotMediaHost(host) if *host == trap_url), "{error}");
    assert!(error.to_string().contains("not the gatekeeper's media host"), "{error}");
    for other in [
        format!("{trap_url}/"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "file:///etc/passwd".into(),
    ] {
        let parsed = url::Url::parse(&other).unwrap();
        assert!(!connector.is_media_url(&parsed), "{other}");
    }
    let gatekeeper = url::Url::parse(&env.gatekeeper().http_url()).unwrap();
    assert!(connector.is_media_url(&gatekeeper.join("v1/media/x").unwrap()));

    // A blob on the right host that does not match its message: downloaded (it is only
    // ciphertext), then refused before decryption with an error that says why.
    let (creds, _, _) = anna.home.load().unwrap();
    let access = register::MediaAccess::from_credentials(&creds, anna.files());
    let stored = access.upload(encrypted.ciphertext.clone()).await.unwrap();
    let mut media =
        encrypted.to_media_ref(MediaKind::Image, "image/png", MediaLocation::Url(stored));
    let blob = login.fetch_media(&media).await.unwrap();
    assert_eq!(media_crypto::decrypt_ref(&media, &blob).unwrap(), b"not really a picture");
    media.sha256[0] ^= 1;
    let blob = login.fetch_media(&media).await.unwrap();
    let error = media_crypto::decrypt_ref(&media, &blob).unwrap_err();
    assert_eq!(error, MediaError::HashMismatch);
    assert!(error.to_string().contains("does not match"), "{error}");
    media.size += 1;
    let error = media_crypto::decrypt_ref(&media, &blob).unwrap_err();
    assert!(matches!(error, MediaError::SizeMismatch { .. }), "{error}");

    assert_eq!(hits.load(Ordering::SeqCst), 0, "a request reached the other host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_are_passed_on_only_from_the_gatekeepers_media_host() {
    let mut env = Env::start().await;
    let connector = env.connector(fast_tuning()).await;
    connector.enlist(ALICE).await.unwrap();
    let (handler, mut events) = Recorder::new();
    let login = connector.connect(ALICE, handler).await.unwrap();
    events.connected().await;

    // A contact with an avatar: the gatekeeper serves it from its own host, so it is passed on.
    let home = Home::new(env.dir.path().join("native-bea"));
    let url = env.gatekeeper().http_url();
    let creds =
        register::register(&home, &url, "+491709876543", "Bea", b"png".to_vec()).await.unwrap();
    let contact = login.profile(&creds.user).await.unwrap();
    let avatar = contact.avatar_url.expect("an avatar on the gatekeeper's host");
    assert!(connector.is_media_url(&url::Url::parse(&avatar).unwrap()), "{avatar}");
}
