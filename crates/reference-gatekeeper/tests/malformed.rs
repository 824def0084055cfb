//! Hostile input on the chat port: garbage before the handshake, a text
//! WebSocket message, a broken Noise message, a malformed frame, an
//! oversized frame, and a replayed or reordered record each end that
//! connection; everyone else is unaffected.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interop_proto::content::Content;
use interop_proto::transport::{ClientAuth, ClientHello, NativeAuth};
use prost::Message as _;
use reference_gatekeeper::client::{Event, Session};
use support::{collect, native};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// True if the server ends the WebSocket within a few seconds.
async fn closed_soon(ws: &mut Ws) -> bool {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// Runs the Noise handshake by hand as a registered native user.
async fn handshake(
    url: &str,
    home: &reference_gatekeeper::client::Home,
) -> (Ws, snow::TransportState) {
    let (creds, _, _) = home.load().unwrap();
    let key = creds.noise_keypair().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut hs = snow::Builder::new("Noise_XX_25519_ChaChaPoly_BLAKE2s".parse().unwrap())
        .local_private_key(key.private_bytes().as_ref())
        .unwrap()
        .prologue(b"interop-proto")
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut buf = vec![0u8; 65535];
    let n = hs.write_message(&[], &mut buf).unwrap();
    ws.send(Message::Binary(buf[..n].to_vec().into())).await.unwrap();
    let Some(Ok(Message::Binary(m))) = ws.next().await else { panic!("no handshake reply") };
    hs.read_message(&m, &mut buf).unwrap();
    let hello = ClientHello {
        version: 1,
        client: "hostile".into(),
        auth: Some(ClientAuth::Native(NativeAuth {
            phone: creds.phone.clone(),
            token: creds.token.clone(),
        })),
    };
    let n = hs.write_message(&hello.encode_to_vec(), &mut buf).unwrap();
    ws.send(Message::Binary(buf[..n].to_vec().into())).await.unwrap();
    let mut noise = hs.into_transport_mode().unwrap();
    let Some(Ok(Message::Binary(m))) = ws.next().await else { panic!("no server hello") };
    noise.read_message(&m, &mut buf).unwrap();
    (ws, noise)
}

async fn send_record(ws: &mut Ws, noise: &mut snow::TransportState, plain: &[u8]) {
    let mut buf = vec![0u8; 65535];
    let n = noise.write_message(plain, &mut buf).unwrap();
    let _ = ws.send(Message::Binary(buf[..n].to_vec().into())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_are_closed_and_others_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::config(&dir.path().join("gk"), vec![]);
    config.max_frame_size = 100_000;
    let gk = reference_gatekeeper::start(config).await.unwrap();
    let url = gk.chat_url();
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let ben_home = native(&gk, &dir.path().join("ben"), "+491709876543", "Ben").await;
    let eve_home = native(&gk, &dir.path().join("eve"), "+491705555555", "Eve").await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let mut ben = Session::connect_home(&ben_home).await.unwrap();

    // Garbage before any handshake.
    let mut tcp = tokio::net::TcpStream::connect(gk.chat_addr).await.unwrap();
    tcp.write_all(b"\x16\x03\x01 definitely not a websocket upgrade\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "server kept a garbage connection open");

    // A text message instead of the Noise handshake.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::Text("hello?".into())).await.unwrap();
    assert!(closed_soon(&mut ws).await);

    // A broken first handshake message.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert!(closed_soon(&mut ws).await);

    // Authenticated, then a malformed frame: the server answers `close` and hangs up.
    let (mut ws, mut noise) = handshake(&url, &eve_home).await;
    send_record(&mut ws, &mut noise, &[0x00, 0xff, 0xff, 0xff, 0xff]).await;
    let mut saw_close = false;
    let mut buf = vec![0u8; 65535];
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Binary(b) = msg
                && let Ok(n) = noise.read_message(&b, &mut buf)
                && let Ok(interop_proto::Stanza::Close(c)) =
                    interop_proto::frame::decode(&buf[1..n], usize::MAX)
            {
                saw_close = c.code == interop_proto::stanza::CloseCode::ProtocolError as i32;
            }
        }
    })
    .await;
    assert!(ended.is_ok() && saw_close, "expected close(protocol_error) then hang-up");

    // Authenticated, then a frame larger than the server's limit (in pieces).
    let (mut ws, mut noise) = handshake(&url, &eve_home).await;
    let mut piece = vec![0x01u8];
    piece.extend(std::iter::repeat_n(0u8, 60_000));
    for _ in 0..3 {
        send_record(&mut ws, &mut noise, &piece).await;
    }
    assert!(closed_soon(&mut ws).await, "oversized frame not refused");

    // A record that does not decrypt.
    let (mut ws, _noise) = handshake(&url, &eve_home).await;
    ws.send(Message::Binary(vec![0u8; 64].into())).await.unwrap();
    assert!(closed_soon(&mut ws).await);

    // The honest users never noticed.
    let sent =
        anna.send_content("491709876543@native", Content::text("still fine?")).await.unwrap();
    let got = collect(&mut ben, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(matches!(&got[0], Event::Message { id, .. } if *id == sent.id));
    // And Eve can still log in properly.
    let mut eve = Session::connect_home(&eve_home).await.unwrap();
    eve.send_content("491701234567@native", Content::text("hi")).await.unwrap();
    gk.shutdown().await;
}

/// A valid record of a harmless stanza (typing towards `to`), sealed with the next nonce.
fn typing_record(noise: &mut snow::TransportState, to: &str) -> Vec<u8> {
    use interop_proto::stanza::{ChatState, ChatStateKind, Stanza};
    let state =
        ChatState { to: to.into(), state: ChatStateKind::Composing as i32, ..Default::default() };
    let mut plain = vec![0u8];
    plain.extend(interop_proto::frame::encode(&Stanza::ChatState(state)));
    let mut buf = vec![0u8; 65535];
    let n = noise.write_message(&plain, &mut buf).unwrap();
    buf[..n].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_reordered_records_end_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let gk =
        reference_gatekeeper::start(support::config(&dir.path().join("gk"), vec![])).await.unwrap();
    let url = gk.chat_url();
    let anna_home = native(&gk, &dir.path().join("anna"), "+491701234567", "Anna").await;
    let eve_home = native(&gk, &dir.path().join("eve"), "+491705555555", "Eve").await;
    let mut anna = Session::connect_home(&anna_home).await.unwrap();
    let anna_id = anna.user().to_owned();

    // A record captured on the wire and sent again: its nonce is used up.
    let (mut ws, mut noise) = handshake(&url, &eve_home).await;
    let record = typing_record(&mut noise, &anna_id);
    ws.send(Message::Binary(record.clone().into())).await.unwrap();
    collect(&mut anna, 1, 10, |e| matches!(e, Event::Typing { .. })).await;
    ws.send(Message::Binary(record.into())).await.unwrap();
    assert!(closed_soon(&mut ws).await, "a replayed record was accepted");

    // Two records delivered in the wrong order: the first to arrive does not decrypt.
    let (mut ws, mut noise) = handshake(&url, &eve_home).await;
    let first = typing_record(&mut noise, &anna_id);
    let second = typing_record(&mut noise, &anna_id);
    ws.send(Message::Binary(second.into())).await.unwrap();
    let _ = ws.send(Message::Binary(first.into())).await;
    assert!(closed_soon(&mut ws).await, "a reordered record was accepted");

    // The replay did not reach Anna, and her channel still works.
    let mut eve = Session::connect_home(&eve_home).await.unwrap();
    let sent = eve.send_content(&anna_id, Content::text("after the replay")).await.unwrap();
    let got = collect(&mut anna, 1, 10, |e| matches!(e, Event::Message { .. })).await;
    assert!(matches!(&got[0], Event::Message { id, .. } if *id == sent.id));
    gk.shutdown().await;
}
