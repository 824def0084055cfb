//! The gatekeeper side of the benchmark: the reference gatekeeper in process, and simulated
//! native users ("contacts"), each one device with its own end-to-end encrypted channel, as in
//! production.
//!
//! Each contact runs in its own task that owns its [`Session`]: it reads and decrypts what
//! arrives (numbered messages become [`Arrival`]s; reactions and read receipts are counted) and,
//! when told to, sends numbered messages to bridge users at a fixed rate or as fast as its
//! channel allows (a window of messages in flight, then their acks). Reading is done with the
//! cancel-safe `recv_stanza` in a `select!`, so sending never loses an incoming stanza.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use interop_proto::content::Content;
use reference_gatekeeper::{
    Running,
    client::{Event, Home, Session, register},
    config::{Config, PartnerConfig, Profile, RateLimitConfig},
};
use tempfile::TempDir;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::{
    measure::Sent,
    pace::{Pacer, Step},
    seq::{self, Stamp},
    sink::Sink,
    standin::{Arrival, ArrivalKind},
};

/// Messages a contact keeps in flight when sending as fast as it can.
const WINDOW: usize = 32;

/// The reference gatekeeper, running in this process.
pub struct Gatekeeper {
    dir: TempDir,
    running: Running,
    /// Where contacts' numbered messages and counts go.
    pub sink: Sink,
    pub counters: Arc<Counters>,
}

/// What contacts saw besides numbered messages.
#[derive(Debug, Default)]
pub struct Counters {
    pub reactions: AtomicU64,
    pub read_receipts: AtomicU64,
    /// Messages without a stamp (warm-up).
    pub plain_messages: AtomicU64,
    pub errors: AtomicU64,
}

impl Gatekeeper {
    /// Starts a gatekeeper (Messenger profile: every capability, so reactions and receipts
    /// flow) that trusts the bridge's partner endpoints at `partner_base`, without rate limits.
    pub async fn start(partner_id: &str, partner_base: &str) -> anyhow::Result<Gatekeeper> {
        let dir = tempfile::Builder::new().prefix("bench-gatekeeper-").tempdir()?;
        let mut base = Url::parse(partner_base)?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            chat_listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            partners: vec![PartnerConfig { id: partner_id.to_owned(), base_url: base }],
            profile: Profile::Messenger,
            rate_limit: RateLimitConfig { messages_per_sec: 1e9, burst: 1e9, enlist_per_sec: 1e6 },
            ..Config::default()
        };
        config.log.level = "warn".into();
        config.push.min_interval_secs = 0;
        let running = reference_gatekeeper::start(config).await?;
        Ok(Gatekeeper {
            dir,
            running,
            sink: Sink::default(),
            counters: Arc::new(Counters::default()),
        })
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.running.http_addr)
    }

    /// Registers a native user opted in for `partner` and starts its task.
    pub async fn contact(&self, phone: &str, name: &str, partner: &str) -> anyhow::Result<Contact> {
        let home = Home::new(self.dir.path().join("homes").join(phone.trim_start_matches('+')));
        register::register(&home, &self.http_url(), phone, name, Vec::new())
            .await
            .with_context(|| format!("registering {phone}"))?;
        let (creds, _, _) = home.load()?;
        register::opt_in(&creds, partner, "separate").await?;
        let mut session = Session::connect_home(&home).await?;
        session.set_autosave(false);
        let (commands, rx) = mpsc::channel(8);
        let task =
            ContactTask { session, sink: self.sink.clone(), counters: self.counters.clone() };
        tokio::spawn(task.run(rx));
        Ok(Contact { phone: phone.to_owned(), commands })
    }

    /// Waits until the contacts have received `wanted` unnumbered messages in all (warm-ups).
    pub async fn wait_for_plain_messages(
        &self,
        wanted: u64,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.counters.plain_messages.load(Ordering::Relaxed) < wanted {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the warm-up messages did not reach the contacts within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// A contact as the scenarios drive it.
#[derive(Debug, Clone)]
pub struct Contact {
    pub phone: String,
    commands: mpsc::Sender<Command>,
}

/// Where a contact sends: the bridge user's gatekeeper id, and the stream it counts in.
#[derive(Debug, Clone)]
pub struct Target {
    pub to: String,
    pub stream: u32,
}

/// A sending run of one contact.
#[derive(Debug, Clone)]
pub struct Plan {
    pub targets: Vec<Target>,
    /// Messages per second for this contact; 0 = as fast as the channel allows.
    pub rate: f64,
    pub duration: Duration,
}

enum Command {
    Run(Plan, oneshot::Sender<Sent>),
    /// Sends one unnumbered message to each of these gatekeeper ids (warm-up).
    Plain(Vec<String>, oneshot::Sender<()>),
}

impl Contact {
    /// Sends per `plan`; returns how many messages went to each stream.
    pub async fn run(&self, plan: Plan) -> anyhow::Result<Sent> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Run(plan, tx)).await.context("the contact's task ended")?;
        rx.await.context("the contact's task ended")
    }

    /// Sends one "warm-up" message to each of `to` (sets up the Olm sessions).
    pub async fn warm_up(&self, to: Vec<String>) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Plain(to, tx)).await.context("the contact's task ended")?;
        rx.await.context("the contact's task ended")
    }
}

struct ContactTask {
    session: Session,
    sink: Sink,
    counters: Arc<Counters>,
}

impl ContactTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                stanza = self.session.recv_stanza() => {
                    let Ok(stanza) = stanza else { return };
                    match self.session.handle(stanza).await {
                        Ok(events) => self.report(events),
                        Err(_) => { self.counters.errors.fetch_add(1, Ordering::Relaxed); }
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Run(plan, reply)) => {
                        let sent = self.send_plan(&plan).await;
                        let _ = reply.send(sent);
                    }
                    Some(Command::Plain(to, reply)) => {
                        for peer in to {
                            if self.session.send_content(&peer, Content::text("warm-up")).await.is_err() {
                                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        self.drain_backlog().await;
                        let _ = reply.send(());
                    }
                    None => return,
                },
            }
        }
    }

    fn report(&self, events: Vec<Event>) {
        let at_ns = seq::now_ns();
        for event in events {
            match event {
                Event::Message { text, .. } => match Stamp::parse(&text) {
                    Some(stamp) => self.sink.send(Arrival {
                        stamp,
                        at_ns,
                        kind: ArrivalKind::Message,
                        event_n: 0,
                    }),
                    None => {
                        self.counters.plain_messages.fetch_add(1, Ordering::Relaxed);
                    }
                },
                Event::Reaction { revoke: false, .. } => {
                    self.counters.reactions.fetch_add(1, Ordering::Relaxed);
                }
                Event::Receipt { receipt, .. } if receipt == "read" => {
                    self.counters.read_receipts.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }

    async fn drain_backlog(&mut self) {
        match self.session.process_backlog().await {
            Ok(events) => self.report(events),
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends numbered messages round-robin over the plan's targets until its time is up.
    async fn send_plan(&mut self, plan: &Plan) -> Sent {
        let mut sent: Sent = HashMap::new();
        if plan.targets.is_empty() {
            return sent;
        }
        let mut pacer = Pacer::new(plan.duration, plan.rate);
        loop {
            let batch = match pacer.step(WINDOW as u64) {
                Step::Done => break,
                Step::Send(batch) => batch,
                Step::Wait(wait) => {
                    // Keep reading while waiting for the next due message.
                    if let Ok(Ok(stanza)) =
                        tokio::time::timeout(wait, self.session.recv_stanza()).await
                    {
                        match self.session.handle(stanza).await {
                            Ok(events) => self.report(events),
                            Err(_) => {
                                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    continue;
                }
            };
            let mut in_flight = 0;
            for _ in 0..batch {
                let target = &plan.targets[(pacer.issued() % plan.targets.len() as u64) as usize];
                let seq = sent.entry(target.stream).or_insert(0);
                let sent_ns = pacer.issue();
                let stamp = Stamp { stream: target.stream, seq: *seq, sent_ns };
                match self
                    .session
                    .send_content_nowait(&target.to, Content::text(stamp.body()))
                    .await
                {
                    Ok(_) => {
                        *seq += 1;
                        in_flight += 1;
                    }
                    Err(_) => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if in_flight > 0 && self.session.wait_acks(in_flight).await.is_err() {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            self.drain_backlog().await;
        }
        sent
    }
}
