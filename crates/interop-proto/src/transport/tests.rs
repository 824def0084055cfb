use std::time::Duration;

use tokio::net::TcpListener;

use super::*;
use crate::ErrorCode;
use crate::stanza::*;

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", l.local_addr().unwrap());
    (l, url)
}

fn hello(jwt: &str) -> ClientHello {
    ClientHello {
        version: crate::PROTOCOL_VERSION,
        auth: Some(ClientAuth::Partner(PartnerAuth {
            jwt: jwt.into(),
            login: "1-1@interop".into(),
        })),
        client: "test".into(),
    }
}

fn text(id: &str) -> Stanza {
    Stanza::Message(MessageStanza {
        id: id.into(),
        to: "2@native".into(),
        kind: MessageKind::Chat as i32,
        ..Default::default()
    })
}

#[tokio::test]
async fn handshake_exchange_and_close() {
    let (l, url) = listener().await;
    let server_kp = NoiseKeypair::generate();
    let scfg = ServerConfig::new(server_kp.clone());
    let client_kp = NoiseKeypair::generate();
    let client_pub = client_kp.public();
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let pending = accept(tcp, &scfg).await.unwrap();
        assert_eq!(pending.client_key(), client_pub);
        assert!(matches!(&pending.hello().auth, Some(ClientAuth::Partner(p)) if p.jwt == "jwt"));
        assert!(!format!("{pending:?}").contains("jwt\""));
        let mut ch = pending
            .accept(ServerHello { user: "1-1@interop".into(), ..Default::default() })
            .await
            .unwrap();
        // echo two stanzas, then expect the client's close
        for _ in 0..2 {
            let s = ch.recv().await.unwrap();
            ch.send(&s).await.unwrap();
        }
        match ch.recv().await {
            Err(TransportError::Closed { code, reason }) => (code, reason),
            other => panic!("{other:?}"),
        }
    });
    let mut cfg = ClientConfig::new(client_kp, hello("jwt"));
    cfg.server_key = Some(server_kp.public());
    let (mut ch, sh) = connect(&url, &cfg).await.unwrap();
    assert_eq!(sh.user, "1-1@interop");
    assert_eq!(sh.keepalive_secs, 20);
    assert_eq!(ch.remote_static(), server_kp.public());
    ch.send_all(&[text("m1")]).await.unwrap();
    // a frame needing several Noise records
    let big = Stanza::Message(MessageStanza {
        id: "big".into(),
        enc: vec![Enc { ciphertext: vec![7; 200_000], ..Default::default() }],
        ..Default::default()
    });
    ch.sender().send(&big).await.unwrap();
    assert_eq!(ch.recv().await.unwrap(), text("m1"));
    assert_eq!(ch.recv().await.unwrap(), big);
    ch.close(CloseCode::Normal, "bye").await;
    assert_eq!(server.await.unwrap(), (CloseCode::Normal, "bye".to_string()));
}

#[tokio::test]
async fn rejection_pinning_and_version() {
    let (l, url) = listener().await;
    let scfg = ServerConfig::new(NoiseKeypair::generate());
    tokio::spawn(async move {
        for i in 0..3 {
            let (tcp, _) = l.accept().await.unwrap();
            match accept(tcp, &scfg).await {
                Ok(p) if i == 0 => {
                    p.reject(StanzaError::new(ErrorCode::NotAuthorized, "bad jwt")).await
                }
                _ => {}
            }
        }
    });
    let err = connect(&url, &ClientConfig::new(NoiseKeypair::generate(), hello("bad")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Rejected(e) if e.error_code() == ErrorCode::NotAuthorized)
    );
    let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello("x"));
    cfg.hello.version = 99;
    let err = connect(&url, &cfg).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Rejected(e) if e.error_code() == ErrorCode::VersionUnsupported),
    );
    let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello("x"));
    cfg.server_key = Some([1; 32]);
    assert!(matches!(connect(&url, &cfg).await.unwrap_err(), TransportError::ServerKeyMismatch));
}

#[tokio::test]
async fn keepalive_keeps_idle_channel_and_detects_dead_peer() {
    let (l, url) = listener().await;
    let mut scfg = ServerConfig::new(NoiseKeypair::generate());
    scfg.channel.keepalive = Duration::from_millis(100);
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let mut ch =
            accept(tcp, &scfg).await.unwrap().accept(ServerHello::default()).await.unwrap();
        // idle for 5 keep-alive periods: pings keep it open
        let s = ch.recv().await.unwrap();
        ch.send(&s).await.unwrap();
        ch.recv().await
    });
    let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello("x"));
    cfg.channel.keepalive = Duration::from_millis(100);
    let (mut ch, _) = connect(&url, &cfg).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ch.send(&text("still here")).await.unwrap();
    assert_eq!(ch.recv().await.unwrap(), text("still here"));
    drop(ch);
    let end = server.await.unwrap();
    assert!(
        matches!(end, Err(TransportError::Closed { code: CloseCode::GoingAway, .. })),
        "{end:?}"
    );
}

#[test]
fn keys_are_redacted() {
    let kp = NoiseKeypair::generate();
    let restored = NoiseKeypair::from_private(*kp.private_bytes());
    assert_eq!(restored.public(), kp.public());
    assert!(format!("{kp:?}").contains("redacted"));
    assert!(!format!("{kp:?}").contains(&crate::hex(kp.private())));
}

/// A client whose inbox (2) is full: the server sent it 8 stanzas it has not read. The server
/// task then returns the next thing it receives.
async fn flooded_client() -> (Channel, tokio::task::JoinHandle<Result<Stanza, TransportError>>) {
    let (l, url) = listener().await;
    let scfg = ServerConfig::new(NoiseKeypair::generate());
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let pending = accept(tcp, &scfg).await.unwrap();
        let mut ch = pending.accept(ServerHello::default()).await.unwrap();
        // More than the client's inbox holds: its driver ends up waiting for room.
        for i in 0..8 {
            ch.send(&text(&format!("m{i}"))).await.unwrap();
        }
        ch.recv().await
    });
    let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello("jwt"));
    cfg.channel.inbox = 2;
    let (ch, _) = connect(&url, &cfg).await.unwrap();
    // Let the stanzas arrive and fill the inbox, unread.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (ch, server)
}

#[tokio::test]
async fn a_channel_with_a_full_inbox_still_closes_at_once() {
    let (ch, server) = flooded_client().await;
    tokio::time::timeout(Duration::from_secs(5), ch.close(CloseCode::Normal, "bye"))
        .await
        .expect("close must not wait for the inbox to be read");
    match server.await.unwrap() {
        Err(TransportError::Closed { code, .. }) => assert_eq!(code, CloseCode::Normal),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sends_go_out_while_the_inbox_is_full_and_nothing_received_is_lost() {
    let (mut ch, server) = flooded_client().await;
    tokio::time::timeout(Duration::from_secs(5), ch.send(&text("reply")))
        .await
        .expect("a send must not wait for the inbox to be read")
        .unwrap();
    // The client's send arrived although it had not read what came first.
    assert_eq!(server.await.unwrap().unwrap(), text("reply"));
    for i in 0..8 {
        assert_eq!(ch.recv().await.unwrap(), text(&format!("m{i}")));
    }
}

/// Sends `count` stanzas (one by one, then in batches) from a task of its own while reading
/// as many; returns what was read, in order.
async fn send_and_read_at_once(ch: &mut Channel, count: usize) -> Vec<String> {
    let sender = ch.sender();
    let stanza = |i: usize| {
        Stanza::Message(MessageStanza {
            id: format!("m{i}"),
            enc: vec![Enc { ciphertext: vec![7; 4_000], ..Default::default() }],
            ..Default::default()
        })
    };
    let sending = tokio::spawn(async move {
        // One at a time, then in batches, which must keep their order too.
        let half = count / 2;
        for i in 0..half {
            sender.send(&stanza(i)).await.unwrap();
        }
        let rest: Vec<Stanza> = (half..count).map(stanza).collect();
        for batch in rest.chunks(10) {
            sender.send_all(batch).await.unwrap();
        }
    });
    let mut read = Vec::with_capacity(count);
    for _ in 0..count {
        match ch.recv().await.unwrap() {
            Stanza::Message(m) => read.push(m.id),
            other => panic!("{other:?}"),
        }
    }
    sending.await.unwrap();
    read
}

/// A TCP socket whose kernel buffers hold only a few KiB, so that a few stanzas fill them.
fn small_buffered_socket() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
}

/// Both ends send more than the sockets buffer while both read: a channel blocked writing
/// must go on reading, or each end waits for the other to read and neither does.
#[tokio::test]
async fn both_ends_flooding_each_other_do_not_deadlock() {
    // Far more than the two sockets' buffers hold, and less than an inbox.
    const COUNT: usize = 500;
    let listening = small_buffered_socket();
    listening.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = listening.listen(8).unwrap();
    let addr = l.local_addr().unwrap();
    let scfg = ServerConfig::new(NoiseKeypair::generate());
    let server = tokio::spawn(async move {
        let (tcp, _) = l.accept().await.unwrap();
        let pending = accept(tcp, &scfg).await.unwrap();
        let mut ch = pending.accept(ServerHello::default()).await.unwrap();
        send_and_read_at_once(&mut ch, COUNT).await
    });
    let tcp = small_buffered_socket().connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}"), tcp).await.unwrap();
    let cfg = ClientConfig::new(NoiseKeypair::generate(), hello("jwt"));
    let (mut ch, _) = client_handshake(ws, &cfg).await.unwrap();
    let expected: Vec<String> = (0..COUNT).map(|i| format!("m{i}")).collect();
    let both = async { (send_and_read_at_once(&mut ch, COUNT).await, server.await.unwrap()) };
    let (client_read, server_read) =
        tokio::time::timeout(Duration::from_secs(20), both).await.expect("the two ends deadlocked");
    assert_eq!(client_read, expected);
    assert_eq!(server_read, expected);
}
