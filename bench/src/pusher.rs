//! Pushing transactions to an application service the way Synapse does: one at a time, the
//! next only after the previous one was answered 200, numbered 1, 2, 3…, with the `hs_token`
//! as `Authorization: Bearer`. A refusal (the bridge holds transactions to their order, or is
//! busy) is retried after a short pause, as Synapse's recoverer would, only sooner.
//!
//! [`drive`] is the load pattern shared by the bridge's outbound scenarios and the peers:
//! numbered `m.room.message` events round-robin over streams, `per_txn` per transaction, at a
//! fixed rate or as fast as the appservice answers.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::{
    measure::Sent,
    pace::{Pacer, Step},
    seq::Stamp,
};

/// How long a transaction may be refused before the push fails.
const GIVE_UP: Duration = Duration::from_secs(60);

pub struct Pusher {
    http: reqwest::Client,
    base: String,
    hs_token: String,
    next_txn: u64,
    next_event: u64,
}

impl Pusher {
    /// A pusher to the appservice at `base` (e.g. `http://127.0.0.1:29340`).
    pub fn new(base: &str, hs_token: &str) -> anyhow::Result<Pusher> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Pusher {
            http,
            base: base.trim_end_matches('/').to_owned(),
            hs_token: hs_token.to_owned(),
            next_txn: 1,
            next_event: 0,
        })
    }

    /// Pushes one transaction and waits for its 200.
    pub async fn push(&mut self, events: Vec<Value>, ephemeral: Vec<Value>) -> anyhow::Result<()> {
        let txn = self.next_txn;
        self.next_txn += 1;
        let mut body = json!({"events": events});
        if !ephemeral.is_empty() {
            body["ephemeral"] = Value::Array(ephemeral.clone());
            body["de.sorunome.msc2409.ephemeral"] = Value::Array(ephemeral);
        }
        let body = body.to_string();
        let url = format!("{}/_matrix/app/v1/transactions/{txn}", self.base);
        let deadline = tokio::time::Instant::now() + GIVE_UP;
        loop {
            let response = self
                .http
                .put(&url)
                .bearer_auth(&self.hs_token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if tokio::time::Instant::now() > deadline => {
                    anyhow::bail!("transaction {txn} refused with {} for {GIVE_UP:?}", r.status())
                }
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("pushing transaction {txn}"));
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// A fresh event id.
    pub fn event_id(&mut self) -> String {
        self.next_event += 1;
        format!("$p{}", self.next_event)
    }
}

/// A timeline event as a homeserver pushes it.
pub fn event(event_id: &str, room: &str, sender: &str, kind: &str, content: Value) -> Value {
    json!({
        "type": kind, "event_id": event_id, "room_id": room, "sender": sender,
        "origin_server_ts": wall_ms(), "content": content,
    })
}

pub fn text(event_id: &str, room: &str, sender: &str, body: &str) -> Value {
    event(event_id, room, sender, "m.room.message", json!({"msgtype": "m.text", "body": body}))
}

/// `state_key`'s membership event.
pub fn member(
    event_id: &str,
    room: &str,
    sender: &str,
    state_key: &str,
    membership: &str,
) -> Value {
    let mut e = event(event_id, room, sender, "m.room.member", json!({"membership": membership}));
    e["state_key"] = json!(state_key);
    e
}

pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// One stream of numbered messages: a room and the Matrix user who writes in it.
#[derive(Debug, Clone)]
pub struct Stream {
    pub id: u32,
    pub room: String,
    pub sender: String,
}

/// The load pattern of one run.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub per_txn: usize,
    /// Events per second; 0 = as fast as the appservice answers.
    pub rate: f64,
    pub duration: Duration,
    /// Every this many messages of a stream, a reaction of the sender to its message before.
    pub reaction_every: Option<u32>,
}

/// Pushes numbered messages round-robin over `streams` until the run's time is up; returns
/// how many went to each stream. `ephemeral` gives the ephemeral events (receipts) to push
/// with each transaction.
pub async fn drive(
    pusher: &mut Pusher,
    streams: &[Stream],
    load: Load,
    mut ephemeral: impl FnMut() -> Vec<Value>,
) -> anyhow::Result<Sent> {
    let mut sent = Sent::new();
    if streams.is_empty() {
        return Ok(sent);
    }
    let mut pacer = Pacer::new(load.duration, load.rate);
    loop {
        let batch = match pacer.step(load.per_txn as u64) {
            Step::Done => break,
            Step::Send(batch) => batch,
            Step::Wait(wait) => {
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let mut events = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            let stream = &streams[(pacer.issued() % streams.len() as u64) as usize];
            let seq = sent.entry(stream.id).or_insert(0);
            let sent_ns = pacer.issue();
            let stamp = Stamp { stream: stream.id, seq: *seq, sent_ns };
            let id = message_event_id(stream.id, *seq);
            events.push(text(&id, &stream.room, &stream.sender, &stamp.body()));
            if let Some(every) = load.reaction_every
                && every > 1
                && *seq % every == every - 1
            {
                let target = message_event_id(stream.id, *seq - 1);
                let content = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": "👍"}});
                let rid = format!("{id}r");
                events.push(event(&rid, &stream.room, &stream.sender, "m.reaction", content));
            }
            *seq += 1;
        }
        pusher.push(events, ephemeral()).await?;
    }
    Ok(sent)
}

/// The event id of a stream's numbered message (unique within one bridge's store).
pub fn message_event_id(stream: u32, seq: u32) -> String {
    format!("$m{stream}_{seq}_{}", run_tag())
}

/// A tag unique to this benchmark process, so event ids of two runs never collide.
fn run_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| format!("{:x}", rand::random::<u32>()))
}
