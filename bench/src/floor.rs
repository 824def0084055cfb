//! The floor: the least CPU any bridge of this design can spend on one outbound message.
//!
//! The peer comparison asks the bridge for at most 1/8 of the faster peer's CPU per event. The
//! peers forward a message and nothing else; the bridge must also do what no design can skip:
//! - answer the homeserver's push (HTTP, and the events parsed into ruma's types);
//! - store the transaction durably before the 200 (Synapse does not push it again after that);
//! - encrypt the message with the contact's Olm session (the protocol's pairwise encryption);
//! - save the session's changed ratchet before the ciphertext leaves (reused keys otherwise);
//! - hand the message to the gatekeeper over its Noise channel and read the gatekeeper's ack.
//!
//! Each part is measured here alone, in the cheapest form it can take: one row in one table
//! with no index, vodozemac's own pickle, a bare axum handler. Each runs on a thread of its
//! own, and the CPU counted is that thread's own clock (kernel time included), so the other
//! side of a connection does not count. The sum per event shares what is paid per transaction
//! among its events, and takes what could be batched at its batched cost (a ratchet save for
//! ten messages, pipelined sends). What a real bridge also does — converting the message, keeping
//! its record for replies and edits, handing work between tasks — is left out, so the sum is
//! a floor, not an estimate. The report sets it beside 1/8 of the faster peer's CPU per event
//! from the same run.

use std::{fmt::Write as _, net::SocketAddr, path::Path, sync::mpsc, thread};

use anyhow::Context;
use axum::{
    Json, Router,
    body::Bytes,
    http::HeaderMap,
    routing::{get, put},
};
use interop_proto::{
    content::{Content, Envelope},
    e2ee::{E2ee, OlmEndpoint, PickleKey},
    stanza::{Ack, AckClass, CloseCode, Enc, MessageKind, MessageStanza, Stanza},
    transport::{
        self, ClientAuth, ClientConfig, ClientHello, NoiseKeypair, PartnerAuth, ServerConfig,
        ServerHello,
    },
};
use ruma::{events::AnyTimelineEvent, serde::Raw};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    compare::{median, median_of},
    pusher,
    report::Row,
    seq::Stamp,
};

/// How many times each part runs in a round: a full run, and the smoke run's.
pub const ITERATIONS: usize = 4000;
pub const SMOKE_ITERATIONS: usize = 50;

/// The parts, in the order a round's figures come in: (name, what one item is).
const PARTS: [(&str, &str); 8] = [
    ("push answered, 1 event", "transaction"),
    ("push answered, 10 events", "transaction"),
    ("durable commit, 1 event", "transaction"),
    ("durable commit, 10 events", "transaction"),
    ("Olm encryption", "message"),
    ("ratchet saved (vodozemac pickle)", "message"),
    ("gatekeeper send and ack, one at a time", "message"),
    ("gatekeeper send and ack, 10 pipelined", "message"),
];

/// One round: each part's µs of CPU per item, in the order of [`PARTS`].
pub type Round = [f64; PARTS.len()];

// Where each part is in a round.
const PUSH_1: usize = 0;
const PUSH_10: usize = 1;
const COMMIT_1: usize = 2;
const COMMIT_10: usize = 3;
const OLM: usize = 4;
const SAVE: usize = 5;
const SEND_ONE: usize = 6;
const SEND_PIPELINED: usize = 7;

/// One part's CPU per item, in µs: the median of the rounds, and their spread.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub name: &'static str,
    pub per: &'static str,
    pub median_us: f64,
    pub min_us: f64,
    pub max_us: f64,
}

/// The parts, and what they add up to per event at 1 and at 10 events per transaction.
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    pub rounds: usize,
    pub parts: Vec<Part>,
    /// (events per transaction, µs of CPU per event).
    pub per_event_us: Vec<(usize, f64)>,
}

const HS_TOKEN: &str = "floor-hs-token";
const ROOM: &str = "!floor:bench.invalid";
const SENDER: &str = "@alice:bench.invalid";

/// Measures every part once, `iterations` times each; blocking (each part runs on threads of
/// its own).
pub fn measure_round(iterations: usize) -> anyhow::Result<Round> {
    let n = iterations.max(1);
    // Ten messages an item: a quarter as many items keeps the round short.
    let n10 = n / 4 + 1;
    let dir = tempfile::tempdir()?;
    let mut ns: Round = [0.0; PARTS.len()];
    ns[PUSH_1] = push_ns(n, 1)?;
    ns[PUSH_10] = push_ns(n10, 10)?;
    ns[COMMIT_1] = commit_ns(&dir.path().join("floor.db"), n, 1)?;
    ns[COMMIT_10] = commit_ns(&dir.path().join("floor10.db"), n, 10)?;
    (ns[OLM], ns[SAVE]) = olm_ns(n)?;
    ns[SEND_ONE] = gatekeeper_ns(n, 1)?;
    ns[SEND_PIPELINED] = gatekeeper_ns(n10, 10)?;
    Ok(ns.map(|ns| ns / 1000.0))
}

impl Floor {
    /// Each part's median over `rounds`, and the sums per event; `None` without a round.
    pub fn of(rounds: &[Round]) -> Option<Floor> {
        if rounds.is_empty() {
            return None;
        }
        let parts: Vec<Part> = PARTS
            .iter()
            .enumerate()
            .map(|(i, &(name, per))| {
                let us = || rounds.iter().map(|r| r[i]);
                Part {
                    name,
                    per,
                    median_us: median_of(us().collect()),
                    min_us: us().fold(f64::INFINITY, f64::min),
                    max_us: us().fold(0.0, f64::max),
                }
            })
            .collect();
        let us = |i: usize| parts[i].median_us;
        // What is paid per transaction is shared by its events. The rest is taken at its
        // cheapest, as if every message were batched with nine others: one ratchet save for
        // ten, and the gatekeeper's exchanges pipelined. Only the Olm encryption is per
        // message whatever the design.
        let per_message = us(OLM) + us(SAVE) / 10.0 + us(SEND_PIPELINED);
        let per_event_us = vec![
            (1, us(PUSH_1) + us(COMMIT_1) + per_message),
            (10, (us(PUSH_10) + us(COMMIT_10)) / 10.0 + per_message),
        ];
        Some(Floor { rounds: rounds.len(), parts, per_event_us })
    }
}

/// Items run before a part is measured: connections open, caches and the allocator warm.
fn warm_up(iterations: usize) -> usize {
    iterations / 10 + 1
}

/// The calling thread's CPU time (user and kernel), in ns.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Joins a part's thread, turning its panic into an error.
fn join<T>(handle: thread::JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    handle.join().map_err(|_| anyhow::anyhow!("a floor thread panicked"))?
}

/// The body of numbered message `seq`, as the benchmark's messages carry it.
fn body(seq: u32) -> String {
    Stamp { stream: 1, seq, sent_ns: pusher::wall_ms() * 1_000_000 }.body()
}

/// The events of one transaction, as the outbound scenarios push them.
fn events(per_txn: usize, seq: &mut u32) -> Vec<Value> {
    (0..per_txn)
        .map(|_| {
            *seq += 1;
            pusher::text(&format!("$floor{}", *seq), ROOM, SENDER, &body(*seq))
        })
        .collect()
}

#[derive(Deserialize)]
struct PushBody {
    events: Vec<Raw<AnyTimelineEvent>>,
}

/// The least an appservice does with a push: checks the token, parses every event.
async fn door(headers: HeaderMap, body: Bytes) -> (axum::http::StatusCode, Json<Value>) {
    use axum::http::StatusCode;
    let token = headers.get("authorization").and_then(|v| v.to_str().ok());
    if token.and_then(|t| t.strip_prefix("Bearer ")) != Some(HS_TOKEN) {
        return (StatusCode::FORBIDDEN, Json(json!({"errcode": "M_FORBIDDEN"})));
    }
    let Ok(push) = serde_json::from_slice::<PushBody>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"errcode": "M_NOT_JSON"})));
    };
    let parsed = push.events.iter().filter(|e| e.deserialize().is_ok()).count();
    if parsed != push.events.len() {
        return (StatusCode::BAD_REQUEST, Json(json!({"errcode": "M_BAD_JSON"})));
    }
    (StatusCode::OK, Json(json!({})))
}

/// The path where the floor's appservice tells its thread's CPU time.
const CPU_PATH: &str = "/floor/cpu";

/// CPU ns of the appservice's thread per push of `per_txn` events, pushed as Synapse does.
fn push_ns(iterations: usize, per_txn: usize) -> anyhow::Result<f64> {
    let (ready_tx, ready_rx) = mpsc::channel::<String>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = thread::spawn(move || -> anyhow::Result<()> {
        runtime()?.block_on(async {
            // A current-thread runtime: the handlers and the sockets' I/O all run on this
            // thread, whose clock the client reads before and after its pushes.
            let app = Router::new()
                .route("/_matrix/app/v1/transactions/{txn}", put(door))
                .route(CPU_PATH, get(|| async { thread_cpu_ns().to_string() }));
            ready_tx.send(crate::standin::serve_on_loopback(app).await?)?;
            let _ = stop_rx.await;
            Ok(())
        })
    });
    let url = ready_rx.recv().context("the floor's appservice did not start")?;
    let client = thread::spawn(move || -> anyhow::Result<f64> {
        runtime()?.block_on(async {
            let mut pusher = pusher::Pusher::new(&url, HS_TOKEN)?;
            let http = reqwest::Client::new();
            let cpu = async || -> anyhow::Result<u64> {
                let text = http.get(format!("{url}{CPU_PATH}")).send().await?.text().await?;
                Ok(text.parse()?)
            };
            let mut seq = 0;
            for _ in 0..warm_up(iterations) {
                pusher.push(events(per_txn, &mut seq), Vec::new()).await?;
            }
            let start = cpu().await?;
            for _ in 0..iterations {
                pusher.push(events(per_txn, &mut seq), Vec::new()).await?;
            }
            Ok(cpu().await?.saturating_sub(start) as f64 / iterations as f64)
        })
    });
    let result = join(client);
    let _ = stop_tx.send(());
    join(server)?;
    result
}

/// CPU ns per commit of one transaction of `per_txn` events into one table without index,
/// with the bridge's SQLite settings (write-ahead log, `synchronous = NORMAL`).
fn commit_ns(path: &Path, iterations: usize, per_txn: usize) -> anyhow::Result<f64> {
    let path = path.to_owned();
    join(thread::spawn(move || -> anyhow::Result<f64> {
        let mut db = rusqlite::Connection::open(&path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(
            "CREATE TABLE door (seq INTEGER PRIMARY KEY, txn_id TEXT NOT NULL, body BLOB NOT NULL)",
        )?;
        let mut seq = 0;
        let warm_up = warm_up(iterations);
        // The bodies as they arrived; making them is the homeserver's work, not the commit's.
        let bodies: Vec<(String, String)> = (0..warm_up + iterations)
            .map(|txn| (txn.to_string(), json!({"events": events(per_txn, &mut seq)}).to_string()))
            .collect();
        let mut commit = |(txn, body): &(String, String)| -> anyhow::Result<()> {
            let tx = db.transaction()?;
            tx.prepare_cached("INSERT INTO door (txn_id, body) VALUES (?1, ?2)")?
                .execute(rusqlite::params![txn, body.as_bytes()])?;
            tx.commit()?;
            Ok(())
        };
        for body in &bodies[..warm_up] {
            commit(body)?;
        }
        let start = thread_cpu_ns();
        for body in &bodies[warm_up..] {
            commit(body)?;
        }
        Ok(thread_cpu_ns().saturating_sub(start) as f64 / iterations as f64)
    }))
}

/// The plaintext of one message as the bridge encrypts it.
fn plaintext(seq: u32) -> Vec<u8> {
    Envelope { content: Some(Content::text(body(seq))), ..Default::default() }.encode_padded()
}

/// An established Olm session from `a` to `b`, both ways, as after a first exchange.
fn olm_pair() -> anyhow::Result<(OlmEndpoint, OlmEndpoint)> {
    let (mut a, mut b) = (OlmEndpoint::new(), OlmEndpoint::new());
    a.start_session("b", &b.fresh_bundle())?;
    b.decrypt("a", &a.encrypt("b", b"hello")?)?;
    a.decrypt("b", &b.encrypt("a", b"hello")?)?;
    Ok((a, b))
}

/// CPU ns per Olm encryption of a message, and per save of the changed session after it.
fn olm_ns(iterations: usize) -> anyhow::Result<(f64, f64)> {
    join(thread::spawn(move || -> anyhow::Result<(f64, f64)> {
        let (mut a, _b) = olm_pair()?;
        let key = PickleKey::new(rand::random());
        let texts: Vec<Vec<u8>> = (0..iterations as u32).map(plaintext).collect();
        let start = thread_cpu_ns();
        for text in &texts {
            a.encrypt("b", text)?;
        }
        let encrypt = thread_cpu_ns().saturating_sub(start) as f64 / iterations as f64;
        let _ = a.pickle_changes(&key)?;
        let start = thread_cpu_ns();
        for text in &texts {
            a.encrypt("b", text)?;
            let changes = a.pickle_changes(&key)?;
            anyhow::ensure!(!changes.is_empty(), "an encryption changed no session");
        }
        let both = thread_cpu_ns().saturating_sub(start) as f64 / iterations as f64;
        Ok((encrypt, (both - encrypt).max(0.0)))
    }))
}

/// A message stanza as the bridge sends it: one Olm ciphertext for the contact.
fn stanza(id: u64, enc: &Enc) -> Stanza {
    Stanza::Message(MessageStanza {
        id: format!("floor{id}"),
        from: "1-1@interop".into(),
        to: "4915112345678@native".into(),
        timestamp: pusher::wall_ms(),
        kind: MessageKind::Chat as i32,
        enc: vec![enc.clone()],
        ..Default::default()
    })
}

/// A gatekeeper that acks every message; returns its address.
fn ack_server(
    keypair: NoiseKeypair,
) -> anyhow::Result<(SocketAddr, thread::JoinHandle<anyhow::Result<()>>)> {
    let (ready_tx, ready_rx) = mpsc::channel::<SocketAddr>();
    let server = thread::spawn(move || -> anyhow::Result<()> {
        runtime()?.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            ready_tx.send(listener.local_addr()?)?;
            let (tcp, _) = listener.accept().await?;
            tcp.set_nodelay(true)?;
            let pending = transport::accept(tcp, &ServerConfig::new(keypair)).await?;
            let hello = ServerHello { user: "1-1@interop".into(), ..Default::default() };
            let mut channel = pending.accept(hello).await?;
            while let Ok(stanza) = channel.recv().await {
                if let Stanza::Message(m) = stanza {
                    let ack = Ack {
                        id: m.id,
                        class: AckClass::Message as i32,
                        peer: m.to,
                        timestamp: pusher::wall_ms(),
                        error: None,
                    };
                    channel.send(&Stanza::Ack(ack)).await?;
                }
            }
            Ok(())
        })
    });
    let addr = ready_rx.recv().context("the floor's gatekeeper did not start")?;
    Ok((addr, server))
}

/// CPU ns of the bridge's side per message sent to the gatekeeper and acked, `batch` at a
/// time.
fn gatekeeper_ns(iterations: usize, batch: usize) -> anyhow::Result<f64> {
    let keypair = NoiseKeypair::generate();
    let server_key = keypair.public();
    let (addr, server) = ack_server(keypair)?;
    let client = thread::spawn(move || -> anyhow::Result<f64> {
        let (mut a, _b) = olm_pair()?;
        let enc = a.encrypt("b", &plaintext(1))?;
        runtime()?.block_on(async {
            let hello = ClientHello {
                version: interop_proto::PROTOCOL_VERSION,
                auth: Some(ClientAuth::Partner(PartnerAuth {
                    jwt: "floor".into(),
                    login: "1-1@interop".into(),
                })),
                client: "interop-bench floor".into(),
            };
            let mut config = ClientConfig::new(NoiseKeypair::generate(), hello);
            config.server_key = Some(server_key);
            let (mut channel, _) = transport::connect(&format!("ws://{addr}"), &config).await?;
            let warm_up = warm_up(iterations);
            // Built beforehand: building them is part of converting, which is not counted.
            let batches: Vec<Vec<Stanza>> = (0..warm_up + iterations)
                .map(|i| (0..batch).map(|j| stanza((i * batch + j) as u64, &enc)).collect())
                .collect();
            let exchange = async |channel: &mut transport::Channel,
                                  stanzas: &[Stanza]|
                   -> anyhow::Result<()> {
                channel.send_all(stanzas).await?;
                let mut acked = 0;
                while acked < batch {
                    if let Stanza::Ack(_) = channel.recv().await? {
                        acked += 1;
                    }
                }
                Ok(())
            };
            for stanzas in &batches[..warm_up] {
                exchange(&mut channel, stanzas).await?;
            }
            let start = thread_cpu_ns();
            for stanzas in &batches[warm_up..] {
                exchange(&mut channel, stanzas).await?;
            }
            let ns = thread_cpu_ns().saturating_sub(start) as f64 / (iterations * batch) as f64;
            channel.close(CloseCode::Normal, "done").await;
            Ok(ns)
        })
    });
    let result = join(client);
    let _ = join(server);
    result
}

/// The floor at some events per transaction beside 1/8 of the faster peer's CPU per event.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub events_per_txn: usize,
    pub floor_us: f64,
    /// The peer with the most events/s at these events per transaction.
    pub peer: String,
    pub peer_us: f64,
    /// 1/8 of the peer's CPU per event: what the bridge may spend on all of its work.
    pub budget_us: f64,
    /// The floor ÷ the budget; above 1 the budget cannot be met by this design.
    pub floor_to_budget: f64,
}

impl Floor {
    /// The floor against the budget each peer sets, from the peers' rows of the same run
    /// (their medians, when the peers ran in several rounds).
    pub fn budgets(&self, rows: &[Row]) -> Vec<Budget> {
        let mut out = Vec::new();
        for &(per_txn, floor_us) in &self.per_event_us {
            let mut peers: Vec<&str> = rows
                .iter()
                .filter(|r| !r.is_bridge() && r.events_per_txn == Some(per_txn))
                .map(|r| r.subject.as_str())
                .collect();
            peers.sort_unstable();
            peers.dedup();
            // (peer, median events/s, median CPU µs per event)
            let fastest = peers
                .into_iter()
                .map(|peer| {
                    let of_peer: Vec<&Row> = rows
                        .iter()
                        .filter(|r| r.subject == peer && r.events_per_txn == Some(per_txn))
                        .collect();
                    // CPU s per 1,000 events is ms per event.
                    let cpu_us = median(&of_peer, |r| r.cpu_s_per_1000) * 1000.0;
                    (peer, median(&of_peer, |r| r.messages_per_s), cpu_us)
                })
                .filter(|&(_, _, cpu_us)| cpu_us > 0.0)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((peer, _, peer_us)) = fastest {
                let budget_us = peer_us / 8.0;
                out.push(Budget {
                    events_per_txn: per_txn,
                    floor_us,
                    peer: peer.to_owned(),
                    peer_us,
                    budget_us,
                    floor_to_budget: floor_us / budget_us,
                });
            }
        }
        out
    }

    pub fn to_text(&self, rows: &[Row]) -> String {
        let mut s = format!(
            "\nfloor: CPU of each unavoidable part of an outbound message, alone (median of {} rounds)\n",
            self.rounds
        );
        for p in &self.parts {
            let _ = writeln!(
                s,
                "  {:<42} {:>8.1} µs per {:<11} (rounds {:.1}–{:.1})",
                p.name, p.median_us, p.per, p.min_us, p.max_us
            );
        }
        for &(per_txn, us) in &self.per_event_us {
            let _ = writeln!(s, "  floor at {per_txn} ev/txn: {us:.1} µs per event");
        }
        for b in self.budgets(rows) {
            let _ = writeln!(
                s,
                "  at {} ev/txn: 1/8 of {}'s {:.0} µs per event is {:.1} µs; the floor is {:.2}x that",
                b.events_per_txn, b.peer, b.peer_us, b.budget_us, b.floor_to_budget
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(subject: &str, per_txn: usize, msg_s: f64, cpu: f64) -> Row {
        Row {
            scenario: "outbound".into(),
            subject: subject.into(),
            events_per_txn: Some(per_txn),
            messages_per_s: msg_s,
            cpu_s_per_1000: cpu,
            ..Row::default()
        }
    }

    #[test]
    fn the_budget_is_an_eighth_of_the_faster_peers_cpu_per_event() {
        let floor =
            Floor { rounds: 1, parts: Vec::new(), per_event_us: vec![(1, 100.0), (10, 60.0)] };
        let rows = [
            // The bridge's own rows are not a budget, however fast.
            row("bridge", 1, 9000.0, 0.1),
            row("mautrix", 1, 2000.0, 0.4),
            row("appservice-bridge", 1, 1000.0, 1.0),
            // At 10 events the other peer is faster; its CPU sets the budget.
            row("mautrix", 10, 500.0, 0.2),
            row("appservice-bridge", 10, 600.0, 0.8),
        ];
        let budgets = floor.budgets(&rows);
        assert_eq!(budgets.len(), 2);
        let one = &budgets[0];
        assert_eq!((one.events_per_txn, one.peer.as_str()), (1, "mautrix"));
        assert!((one.peer_us - 400.0).abs() < 1e-9 && (one.budget_us - 50.0).abs() < 1e-9);
        assert!((one.floor_to_budget - 2.0).abs() < 1e-9);
        let ten = &budgets[1];
        assert_eq!((ten.events_per_txn, ten.peer.as_str()), (10, "appservice-bridge"));
        assert!((ten.budget_us - 100.0).abs() < 1e-9 && (ten.floor_to_budget - 0.6).abs() < 1e-9);
    }

    #[test]
    fn the_floor_shares_per_transaction_parts_and_takes_the_rest_batched() {
        // push 1, push 10, commit 1, commit 10, Olm, save, send one at a time, pipelined.
        let a: Round = [30.0, 80.0, 10.0, 20.0, 30.0, 20.0, 40.0, 10.0];
        let b: Round = [20.0, 60.0, 12.0, 40.0, 34.0, 10.0, 30.0, 14.0];
        let c: Round = [40.0, 70.0, 14.0, 30.0, 32.0, 30.0, 20.0, 12.0];
        let floor = Floor::of(&[a, b, c]).unwrap();
        assert_eq!(floor.rounds, 3);
        let push = &floor.parts[0];
        assert_eq!((push.median_us, push.min_us, push.max_us), (30.0, 20.0, 40.0));
        // Per message: Olm 32 + a tenth of the save's 20 + the pipelined send's 12.
        let per_message = 32.0 + 2.0 + 12.0;
        assert_eq!(floor.per_event_us[0], (1, 30.0 + 12.0 + per_message));
        assert_eq!(floor.per_event_us[1], (10, (70.0 + 30.0) / 10.0 + per_message));
        assert!(Floor::of(&[]).is_none());
    }

    #[test]
    fn without_peers_there_is_no_budget() {
        let floor = Floor { rounds: 1, parts: Vec::new(), per_event_us: vec![(1, 100.0)] };
        assert!(floor.budgets(&[row("bridge", 1, 9000.0, 0.1)]).is_empty());
    }

    #[test]
    fn the_thread_clock_counts_this_threads_work_and_not_its_sleep() {
        let before = thread_cpu_ns();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = thread_cpu_ns() - before;
        let mut x = 0u64;
        for i in 0..1_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let worked = thread_cpu_ns() - before - slept;
        assert!(slept < 10_000_000, "50 ms asleep counted {slept} ns");
        assert!(worked > 0, "a short loop counted nothing ({x})");
    }
}
