//! Two endpoints talk through a minimal in-test gatekeeper over real
//! loopback WebSockets: handshake, key fetch, Olm session from a bundle,
//! messages both ways and out of order, receipts, offline delivery, a retry
//! after lost session state, and a restart from pickles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use interop_proto::content::{Content, Envelope};
use interop_proto::e2ee::{E2ee, IdentityStatus, OlmEndpoint, PickleKey, retry_info};
use interop_proto::stanza::*;
use interop_proto::transport::*;
use interop_proto::{PROTOCOL_VERSION, now_ms};
use tokio::net::TcpListener;

const ALICE: &str = "1-1@interop";
const BOB: &str = "4915112345678@native";

#[derive(Default)]
struct Gk {
    online: HashMap<String, ChannelSender>,
    mailbox: HashMap<String, Vec<Stanza>>,
    bundles: HashMap<String, KeyBundle>,
    otks: HashMap<String, Vec<OneTimeKey>>,
}

type Shared = Arc<Mutex<Gk>>;

fn route(gk: &Shared, to: &str, s: Stanza) -> Option<(ChannelSender, Stanza)> {
    let mut g = gk.lock().unwrap();
    match g.online.get(to) {
        Some(tx) => Some((tx.clone(), s)),
        None => {
            let s = match s {
                Stanza::Message(mut m) => {
                    m.offline = true;
                    Stanza::Message(m)
                }
                other => other,
            };
            g.mailbox.entry(to.to_owned()).or_default().push(s);
            None
        }
    }
}

async fn serve(listener: TcpListener, gk: Shared, config: ServerConfig) {
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        let (gk, config) = (gk.clone(), config.clone());
        tokio::spawn(async move {
            let pending = accept(tcp, &config).await.unwrap();
            let user = match &pending.hello().auth {
                Some(ClientAuth::Partner(p)) => p.login.clone(),
                Some(ClientAuth::Native(n)) => {
                    format!("{}@native", n.phone.trim_start_matches('+'))
                }
                None => {
                    return pending
                        .reject(StanzaError::new(
                            interop_proto::ErrorCode::NotAuthorized,
                            "no auth",
                        ))
                        .await;
                }
            };
            let mut ch = pending
                .accept(ServerHello { user: user.clone(), ..Default::default() })
                .await
                .unwrap();
            let queued = {
                let mut g = gk.lock().unwrap();
                g.online.insert(user.clone(), ch.sender());
                g.mailbox.remove(&user).unwrap_or_default()
            };
            let n = queued.len() as u32;
            ch.send(&Stanza::Ib(Ib {
                body: Some(IbBody::OfflinePending(OfflinePending { count: n })),
            }))
            .await
            .unwrap();
            for s in queued {
                ch.send(&s).await.unwrap();
            }
            ch.send(&Stanza::Ib(Ib {
                body: Some(IbBody::OfflineComplete(OfflineComplete { count: n })),
            }))
            .await
            .unwrap();
            while let Ok(stanza) = ch.recv().await {
                match stanza {
                    Stanza::Message(mut m) => {
                        m.from = user.clone();
                        m.timestamp = now_ms();
                        let ack = Ack {
                            id: m.id.clone(),
                            class: AckClass::Message as i32,
                            peer: m.to.clone(),
                            timestamp: m.timestamp,
                            error: None,
                        };
                        ch.send(&Stanza::Ack(ack)).await.unwrap();
                        let to = m.to.clone();
                        if let Some((tx, s)) = route(&gk, &to, Stanza::Message(m)) {
                            tx.send(&s).await.unwrap();
                        }
                    }
                    Stanza::Receipt(mut r) => {
                        r.from = user.clone();
                        let to = r.to.clone();
                        if let Some((tx, s)) = route(&gk, &to, Stanza::Receipt(r)) {
                            tx.send(&s).await.unwrap();
                        }
                    }
                    Stanza::Iq(Iq { id, query: Some(IqQuery::KeyFetch(f)) }) => {
                        let bundles = {
                            let mut g = gk.lock().unwrap();
                            f.users
                                .iter()
                                .map(|u| {
                                    let mut b = g.bundles.get(u).cloned();
                                    if let Some(b) = b.as_mut() {
                                        b.one_time_key = g.otks.get_mut(u).and_then(|v| v.pop());
                                    }
                                    UserKeyBundle { user: u.clone(), bundle: b, error: None }
                                })
                                .collect()
                        };
                        let answer = IqAnswer::KeyBundles(KeyBundles { bundles });
                        ch.send(&Stanza::IqResult(IqResult { id, answer: Some(answer) }))
                            .await
                            .unwrap();
                    }
                    Stanza::Iq(Iq { id, query: Some(IqQuery::KeyUpload(up)) }) => {
                        let count = {
                            let mut g = gk.lock().unwrap();
                            let v = g.otks.entry(user.clone()).or_default();
                            v.extend(up.one_time_keys);
                            v.len() as u32
                        };
                        let answer = IqAnswer::KeyCount(KeyCountResult { count, low_watermark: 5 });
                        ch.send(&Stanza::IqResult(IqResult { id, answer: Some(answer) }))
                            .await
                            .unwrap();
                    }
                    _ => {}
                }
            }
            gk.lock().unwrap().online.remove(&user);
        });
    }
}

struct Client {
    ch: Channel,
    e2ee: OlmEndpoint,
    me: &'static str,
}

impl Client {
    async fn connect(
        url: &str,
        me: &'static str,
        e2ee: OlmEndpoint,
        server_key: [u8; 32],
    ) -> (Self, Vec<Stanza>) {
        let auth = if me == ALICE {
            ClientAuth::Partner(PartnerAuth { jwt: "test-jwt".into(), login: ALICE.into() })
        } else {
            ClientAuth::Native(NativeAuth { phone: "+4915112345678".into(), token: "t".into() })
        };
        let hello =
            ClientHello { version: PROTOCOL_VERSION, auth: Some(auth), client: "e2e-test".into() };
        let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello);
        cfg.server_key = Some(server_key);
        let (mut ch, sh) = connect(url, &cfg).await.unwrap();
        assert_eq!(sh.user, me);
        // drain the offline mailbox
        let mut offline = Vec::new();
        loop {
            match ch.recv().await.unwrap() {
                Stanza::Ib(Ib { body: Some(IbBody::OfflineComplete(_)) }) => break,
                Stanza::Ib(_) => {}
                s => offline.push(s),
            }
        }
        (Self { ch, e2ee, me }, offline)
    }

    async fn iq(&mut self, id: &str, query: IqQuery) -> IqAnswer {
        self.ch.send(&Stanza::Iq(Iq { id: id.into(), query: Some(query) })).await.unwrap();
        match self.ch.recv().await.unwrap() {
            Stanza::IqResult(r) if r.id == id => r.answer.unwrap(),
            other => panic!("{other:?}"),
        }
    }

    async fn ensure_session(&mut self, peer: &str) {
        if self.e2ee.has_session(peer) {
            return;
        }
        let IqAnswer::KeyBundles(kb) =
            self.iq("kf", IqQuery::KeyFetch(KeyFetch { users: vec![peer.into()] })).await
        else {
            panic!("no bundles")
        };
        let bundle = kb.bundles[0].bundle.as_ref().unwrap();
        assert!(bundle.one_time_key.is_some(), "server handed out a one-time key");
        self.e2ee.start_session(peer, bundle).unwrap();
    }

    fn seal(&mut self, to: &str, id: &str, text: &str, retry_count: u32) -> Stanza {
        let env = Envelope { content: Some(Content::text(text)), ..Default::default() };
        let enc = self.e2ee.encrypt(to, &env.encode_padded()).unwrap();
        Stanza::Message(MessageStanza {
            id: id.into(),
            to: to.into(),
            kind: MessageKind::Chat as i32,
            enc: vec![enc],
            retry_count,
            ..Default::default()
        })
    }

    async fn send_text(&mut self, to: &str, id: &str, text: &str) {
        self.ensure_session(to).await;
        let s = self.seal(to, id, text, 0);
        self.ch.send(&s).await.unwrap();
        self.expect_ack(id).await;
    }

    async fn expect_ack(&mut self, id: &str) {
        match self.ch.recv().await.unwrap() {
            Stanza::Ack(a) if a.id == id && a.error.is_none() => {}
            other => panic!("expected ack for {id}: {other:?}"),
        }
    }

    async fn recv_message(&mut self) -> MessageStanza {
        loop {
            match self.ch.recv().await.unwrap() {
                Stanza::Message(m) => return m,
                Stanza::Receipt(_) => continue,
                other => panic!("{} expected a message: {other:?}", self.me),
            }
        }
    }

    fn open(
        &mut self,
        m: &MessageStanza,
    ) -> Result<(String, IdentityStatus), interop_proto::e2ee::E2eeError> {
        let enc = m.enc.iter().find(|e| e.recipient == self.me).unwrap();
        let d = self.e2ee.decrypt(&m.from, enc)?;
        let text = Envelope::decode(&d.plaintext).unwrap().content.unwrap().text;
        Ok((text, d.identity))
    }

    async fn disconnect(self) -> OlmEndpoint {
        self.ch.close(CloseCode::Normal, "bye").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        self.e2ee
    }

    async fn receipt(&self, m: &MessageStanza, kind: ReceiptType, retry: Option<RetryInfo>) {
        let r = Receipt {
            id: m.id.clone(),
            to: m.from.clone(),
            r#type: kind as i32,
            timestamp: now_ms(),
            retry,
            ..Default::default()
        };
        self.ch.send(&Stanza::Receipt(r)).await.unwrap();
    }
}

#[tokio::test]
async fn full_conversation_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let server_kp = NoiseKeypair::generate();
    let sk = server_kp.public();
    let gk: Shared = Arc::default();
    tokio::spawn(serve(listener, gk.clone(), ServerConfig::new(server_kp)));

    // Enlistment stand-in: identities and signed prekeys known to the gatekeeper.
    let mut a_e2ee = OlmEndpoint::new();
    let mut b_e2ee = OlmEndpoint::new();
    for (id, e) in [(ALICE, &mut a_e2ee), (BOB, &mut b_e2ee)] {
        let mut b = e.fresh_bundle();
        b.one_time_key = None;
        gk.lock().unwrap().bundles.insert(id.into(), b);
    }
    let (mut bob, _) = Client::connect(&url, BOB, b_e2ee, sk).await;
    let otks = bob.e2ee.generate_one_time_keys(10);
    let up = IqQuery::KeyUpload(KeyUpload { signed_prekey: None, one_time_keys: otks });
    let IqAnswer::KeyCount(kc) = bob.iq("up", up).await else { panic!() };
    assert_eq!(kc.count, 10);
    let b_e2ee = bob.disconnect().await;

    // Offline delivery: alice writes while bob is away; the mailbox keeps it.
    let (mut alice, _) = Client::connect(&url, ALICE, a_e2ee, sk).await;
    for (id, text) in [("m1", "first"), ("m2", "second"), ("m3", "third")] {
        alice.send_text(BOB, id, text).await;
    }
    assert_eq!(gk.lock().unwrap().mailbox.get(BOB).map(Vec::len), Some(3));

    // Bob comes back, gets the mailbox, decrypts out of order (3, 1, 2).
    let (mut bob, offline) = Client::connect(&url, BOB, b_e2ee, sk).await;
    let msgs: Vec<MessageStanza> = offline
        .into_iter()
        .map(|s| match s {
            Stanza::Message(m) => m,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        msgs.iter()
            .all(|m| m.offline && m.from == ALICE && m.enc[0].r#type == EncType::Pkmsg as i32)
    );
    let (t3, status) = bob.open(&msgs[2]).unwrap();
    assert_eq!((t3.as_str(), status), ("third", IdentityStatus::New));
    assert_eq!(bob.open(&msgs[0]).unwrap().0, "first");
    assert_eq!(bob.open(&msgs[1]).unwrap().0, "second");
    for m in &msgs {
        bob.receipt(m, ReceiptType::Delivered, None).await;
    }
    for id in ["m1", "m2", "m3"] {
        match alice.ch.recv().await.unwrap() {
            Stanza::Receipt(r) => assert_eq!(
                (r.id.as_str(), r.r#type, r.from.as_str()),
                (id, ReceiptType::Delivered as i32, BOB)
            ),
            other => panic!("{other:?}"),
        }
    }

    // Both directions on the established session.
    bob.send_text(ALICE, "r1", "reply").await;
    let m = alice.recv_message().await;
    assert_eq!(m.enc[0].r#type, EncType::Msg as i32);
    assert_eq!(alice.open(&m).unwrap().0, "reply");
    bob.receipt(&msgs[2], ReceiptType::Read, None).await;
    match alice.ch.recv().await.unwrap() {
        Stanza::Receipt(r) => {
            assert_eq!((r.id.as_str(), r.r#type), ("m3", ReceiptType::Read as i32))
        }
        other => panic!("{other:?}"),
    }
    alice.send_text(BOB, "m4", "after reply").await;
    let m = bob.recv_message().await;
    assert_eq!(m.enc[0].r#type, EncType::Msg as i32);
    assert_eq!(bob.open(&m).unwrap().0, "after reply");

    // Bob loses his session state; a retry receipt repairs it.
    bob.e2ee.forget_sessions(ALICE);
    alice.send_text(BOB, "m5", "lost and found").await;
    let failed = bob.recv_message().await;
    let err = bob.open(&failed).unwrap_err();
    assert!(err.is_retryable());
    let retry = retry_info(&mut bob.e2ee, &err, 1, failed.timestamp);
    bob.receipt(&failed, ReceiptType::Retry, Some(retry)).await;
    let r = loop {
        match alice.ch.recv().await.unwrap() {
            Stanza::Receipt(r) if r.r#type == ReceiptType::Retry as i32 => break r,
            Stanza::Receipt(_) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(r.id, "m5");
    let info = r.retry.unwrap();
    assert_eq!(info.reason, "no_session");
    alice.e2ee.start_session(BOB, info.bundle.as_ref().unwrap()).unwrap();
    let resend = alice.seal(BOB, "m5", "lost and found", info.count);
    alice.ch.send(&resend).await.unwrap();
    alice.expect_ack("m5").await;
    let again = bob.recv_message().await;
    assert_eq!((again.id.as_str(), again.retry_count), ("m5", 1));
    assert_eq!(bob.open(&again).unwrap().0, "lost and found");

    // Restart both from pickles and carry on.
    let key = PickleKey::new([42; 32]);
    let pa = alice.disconnect().await.pickle(&key).unwrap();
    let pb = bob.disconnect().await.pickle(&key).unwrap();
    let (mut alice, _) =
        Client::connect(&url, ALICE, OlmEndpoint::from_pickle(&pa, &key).unwrap(), sk).await;
    let (mut bob, _) =
        Client::connect(&url, BOB, OlmEndpoint::from_pickle(&pb, &key).unwrap(), sk).await;
    alice.send_text(BOB, "m6", "after restart").await;
    let m = bob.recv_message().await;
    assert_eq!(bob.open(&m).unwrap().0, "after restart");
    bob.send_text(ALICE, "r2", "welcome back").await;
    let m = alice.recv_message().await;
    assert_eq!(alice.open(&m).unwrap().0, "welcome back");
}
