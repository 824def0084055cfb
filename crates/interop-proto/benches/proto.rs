//! `cargo bench -p interop-proto`: handshake time, a 200-byte message
//! encrypted and decrypted on an established Olm session, and frame
//! encode/decode throughput (divan prints items/s for the frame benches).

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use interop_proto::content::{Content, Envelope};
use interop_proto::e2ee::{E2ee, OlmEndpoint};
use interop_proto::frame::{self, DEFAULT_MAX_FRAME_SIZE};
use interop_proto::media_crypto;
use interop_proto::stanza::*;
use interop_proto::transport::*;
use tokio::net::TcpListener;

fn main() {
    divan::main();
}

fn hello() -> ClientHello {
    ClientHello {
        version: interop_proto::PROTOCOL_VERSION,
        auth: Some(ClientAuth::Partner(PartnerAuth {
            jwt: "x".repeat(600),
            login: "1-1@interop".into(),
        })),
        client: "bench".into(),
    }
}

/// Full connect: TCP + WebSocket upgrade + Noise XX + ServerHello, on loopback.
#[divan::bench(sample_count = 200)]
fn handshake_loopback(b: Bencher) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let kp = NoiseKeypair::generate();
    let url = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", l.local_addr().unwrap());
        let cfg = ServerConfig::new(kp.clone());
        tokio::spawn(async move {
            loop {
                let (tcp, _) = l.accept().await.unwrap();
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    let Ok(p) = accept(tcp, &cfg).await else { return };
                    let hello = ServerHello { user: "1-1@interop".into(), ..Default::default() };
                    if let Ok(mut ch) = p.accept(hello).await {
                        let _ = ch.recv().await;
                    }
                });
            }
        });
        url
    });
    let mut cfg = ClientConfig::new(NoiseKeypair::generate(), hello());
    cfg.server_key = Some(kp.public());
    b.bench_local(|| rt.block_on(async { connect(&url, &cfg).await.unwrap() }));
}

/// Noise XX alone, in memory (no sockets).
#[divan::bench]
fn handshake_noise_only(b: Bencher) {
    let params: snow::params::NoiseParams = NOISE_PATTERN.parse().unwrap();
    let ck = snow::Builder::new(params.clone()).generate_keypair().unwrap();
    let sk = snow::Builder::new(params.clone()).generate_keypair().unwrap();
    let payload = vec![0u8; 700];
    b.bench_local(|| {
        let mut i = snow::Builder::new(params.clone())
            .local_private_key(&ck.private)
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut r = snow::Builder::new(params.clone())
            .local_private_key(&sk.private)
            .unwrap()
            .build_responder()
            .unwrap();
        let (mut m, mut p) = (vec![0u8; 2048], vec![0u8; 2048]);
        let n = i.write_message(&[], &mut m).unwrap();
        r.read_message(&m[..n], &mut p).unwrap();
        let n = r.write_message(&[], &mut m).unwrap();
        i.read_message(&m[..n], &mut p).unwrap();
        let n = i.write_message(&payload, &mut m).unwrap();
        r.read_message(&m[..n], &mut p).unwrap();
        (i.into_transport_mode().unwrap(), r.into_transport_mode().unwrap())
    });
}

/// A 200-byte plaintext: Olm encrypt on one side, decrypt on the other.
#[divan::bench]
fn olm_encrypt_decrypt_200b(b: Bencher) {
    let (mut a, mut bob) = (OlmEndpoint::new(), OlmEndpoint::new());
    a.start_session("b", &bob.fresh_bundle()).unwrap();
    let first = a.encrypt("b", b"hi").unwrap();
    bob.decrypt("a", &first).unwrap();
    let reply = bob.encrypt("a", b"hi").unwrap();
    a.decrypt("b", &reply).unwrap();
    let msg = [7u8; 200];
    b.counter(ItemsCount::new(1u64)).bench_local(|| {
        let enc = a.encrypt("b", &msg).unwrap();
        bob.decrypt("a", &enc).unwrap()
    });
}

/// The same through the content codec: Content -> padded Envelope -> Olm and back.
#[divan::bench]
fn content_olm_round_trip_200b(b: Bencher) {
    let (mut a, mut bob) = (OlmEndpoint::new(), OlmEndpoint::new());
    a.start_session("b", &bob.fresh_bundle()).unwrap();
    bob.decrypt("a", &a.encrypt("b", b"x").unwrap()).unwrap();
    let env = Envelope { content: Some(Content::text("x".repeat(200))), ..Default::default() };
    b.bench_local(|| {
        let enc = a.encrypt("b", &env.encode_padded()).unwrap();
        Envelope::decode(&bob.decrypt("a", &enc).unwrap().plaintext).unwrap()
    });
}

/// Megolm (sender key) 200 bytes: encrypt once, one member decrypts.
#[divan::bench]
fn megolm_encrypt_decrypt_200b(b: Bencher) {
    let (mut a, mut bob) = (OlmEndpoint::new(), OlmEndpoint::new());
    let skd = a.sender_key("g");
    bob.add_sender_key("a", &skd).unwrap();
    let msg = [7u8; 200];
    b.bench_local(|| {
        let enc = a.encrypt_group("g", &msg).unwrap();
        bob.decrypt_group("g", "a", &enc).unwrap()
    });
}

fn typical_frame() -> Stanza {
    Stanza::Message(MessageStanza {
        id: "3EB0C431C26A1916E07E".into(),
        from: "1-10853634039893@interop".into(),
        to: "4915112345678@native".into(),
        timestamp: 1_790_000_000_000,
        kind: MessageKind::Chat as i32,
        enc: vec![Enc {
            recipient: "4915112345678@native".into(),
            r#type: 2,
            ciphertext: vec![0xab; 300],
            scheme: 1,
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[divan::bench]
fn frame_encode(b: Bencher) {
    let s = typical_frame();
    b.counter(ItemsCount::new(1u64)).bench_local(|| frame::encode(divan::black_box(&s)));
}

#[divan::bench]
fn frame_decode(b: Bencher) {
    let bytes = frame::encode(&typical_frame());
    b.counter(ItemsCount::new(1u64))
        .bench_local(|| frame::decode(divan::black_box(&bytes), DEFAULT_MAX_FRAME_SIZE).unwrap());
}

#[divan::bench]
fn media_encrypt_1mib(b: Bencher) {
    let blob = vec![1u8; 1 << 20];
    b.counter(BytesCount::new(blob.len())).bench_local(|| media_crypto::encrypt(&blob));
}
