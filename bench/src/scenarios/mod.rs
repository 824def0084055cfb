//! The scenarios, one per file, and what they share: collecting arrivals while a run goes,
//! waiting for the stragglers, and turning the counts, latencies, CPU times and memory into a
//! report [`Row`].
//!
//! - [`inbound`]: gatekeeper users → Matrix.
//! - [`outbound`]: Matrix transactions → gatekeeper users (also the bridge's row beside the peers).
//! - [`mixed`]: both at once, with reactions and read receipts.
//! - [`idle`]: many idle portals: start-up time and memory.
//! - [`trip`]: against Synapse, a message's trip each way, and the same trip without the bridge.

pub mod idle;
pub mod inbound;
pub mod mixed;
pub mod outbound;
pub mod trip;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    gatekeeper::{Contact, Counters, Plan},
    measure::{CpuSpan, Matched, RssSampler, Sent, Tally, settle},
    report::Row,
    standin::{Arrival, ArrivalKind},
};

/// How long to wait for the next arrival once sending stopped, before the rest count as lost.
pub const DRAIN: Duration = Duration::from_secs(10);
/// The longest the subject may stay busy with an earlier run's work before a run starts.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// The longest a backlog is waited for in all.
pub const MAX_DRAIN: Duration = Duration::from_secs(600);

/// Stream ids of a new run: never the same as an earlier run's in this process, so event ids
/// built from them are never seen twice by the bridge.
pub fn stream_base() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) * 100_000
}

/// Arrivals of one run, matched as they come.
pub struct Collector {
    tally: Arc<Mutex<Tally>>,
    /// The latest arrival per stream: the number of the event id the stand-in gave it.
    latest: Arc<Mutex<HashMap<u32, u64>>>,
}

impl Collector {
    pub fn start(mut rx: mpsc::UnboundedReceiver<Arrival>) -> Collector {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let latest = Arc::new(Mutex::new(HashMap::new()));
        let (t, l) = (tally.clone(), latest.clone());
        tokio::spawn(async move {
            while let Some(arrival) = rx.recv().await {
                // Only messages carry the numbers that are matched.
                if arrival.kind != ArrivalKind::Message {
                    continue;
                }
                t.lock().unwrap_or_else(|e| e.into_inner()).record(arrival.stamp, arrival.at_ns);
                if arrival.event_n > 0 {
                    l.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(arrival.stamp.stream, arrival.event_n);
                }
            }
        });
        Collector { tally, latest }
    }

    /// Takes the latest arrival per stream seen since the last call.
    pub fn take_latest(&self) -> HashMap<u32, u64> {
        std::mem::take(&mut *self.latest.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn delivered(&self) -> u64 {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).delivered()
    }

    /// Waits until everything in `sent` arrived, or nothing more arrived for [`DRAIN`] (a
    /// backlog the bridge accepted faster than it could apply is waited for while it moves);
    /// returns the tally.
    pub async fn finish(self, sent: &Sent) -> Tally {
        drain(|| {
            let tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
            (tally.complete(sent), tally.delivered())
        })
        .await;
        // A little longer, so late duplicates would be seen too.
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::mem::take(&mut *self.tally.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Waits while arrivals keep coming: until `progress` says all arrived, or its count of
/// arrivals did not grow for [`DRAIN`], or [`MAX_DRAIN`] passed. `progress` gives (all
/// arrived, how many arrived).
pub async fn drain(mut progress: impl FnMut() -> (bool, u64)) {
    let mut last_progress = Instant::now();
    let mut arrived = progress().1;
    let give_up = Instant::now() + MAX_DRAIN;
    loop {
        let (complete, now_arrived) = progress();
        if now_arrived > arrived {
            arrived = now_arrived;
            last_progress = Instant::now();
        }
        if complete || last_progress.elapsed() > DRAIN || Instant::now() > give_up {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The resource measurements of one run: the subject's process and this one.
pub struct Meters {
    subject: CpuSpan,
    harness: CpuSpan,
    rss: RssSampler,
    started: Instant,
    progress: ProgressBar,
}

impl Meters {
    /// Waits for the subject to go idle (see [`settle`]), then starts measuring.
    pub async fn start(pid: u32, label: &str, duration: Duration) -> Meters {
        if !settle(pid, SETTLE_LIMIT).await {
            eprintln!(
                "{label}: the process was still busy after {SETTLE_LIMIT:?}; measuring anyway"
            );
        }
        let progress = ProgressBar::new(duration.as_secs().max(1));
        progress.set_style(
            ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len} s {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        progress.set_prefix(label.to_owned());
        Meters {
            subject: CpuSpan::start(pid),
            harness: CpuSpan::start(std::process::id()),
            rss: RssSampler::start(pid),
            started: Instant::now(),
            progress,
        }
    }

    /// Updates the bar: seconds gone and messages arrived so far.
    pub fn tick(&self, delivered: u64) {
        self.progress.set_position(self.started.elapsed().as_secs());
        self.progress.set_message(format!("{delivered} arrived"));
    }

    /// The CPU seconds of the subject and of this process, the peak RSS, the wall time.
    pub fn finish(self) -> (f64, f64, u64, f64) {
        self.progress.finish_and_clear();
        let wall = self.started.elapsed().as_secs_f64();
        (self.subject.seconds(), self.harness.seconds(), self.rss.finish(), wall)
    }
}

/// Keeps the progress bar moving while `work` runs.
pub async fn with_progress<T>(
    meters: &Meters,
    delivered: impl Fn() -> u64,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => meters.tick(delivered()),
        }
    }
}

/// What a finished run gives a [`Row`].
pub struct RunResult {
    pub tally: Tally,
    pub sent: Sent,
    pub subject_cpu_s: f64,
    pub harness_cpu_s: f64,
    pub peak_rss: u64,
    pub wall_s: f64,
}

/// Tasks that each send numbered messages and return how many went to each stream.
pub type Senders = Vec<JoinHandle<anyhow::Result<Sent>>>;

/// Starts every contact on its plan, each in a task of its own.
pub fn contact_senders(contacts: &[Contact], plans: Vec<Plan>) -> Senders {
    contacts
        .iter()
        .zip(plans)
        .map(|(contact, plan)| {
            let contact = contact.clone();
            tokio::spawn(async move { contact.run(plan).await })
        })
        .collect()
}

/// Waits for every sender; what they sent, together.
pub async fn join_senders(senders: Senders) -> anyhow::Result<Sent> {
    let mut sent = Sent::new();
    for sender in senders {
        sent.extend(sender.await??);
    }
    Ok(sent)
}

/// The simulated gatekeeper users' errors so far, to count a run's with [`push_errors`].
pub fn errors_now(counters: &Counters) -> u64 {
    counters.errors.load(Ordering::Relaxed)
}

/// Adds to `row` the simulated gatekeeper users' errors since `before`, if there were any.
pub fn push_errors(row: &mut Row, counters: &Counters, before: u64) {
    let errors = errors_now(counters) - before;
    if errors > 0 {
        row.extra.push(("errors of the simulated gatekeeper users".into(), errors));
    }
}

/// Builds a row: throughput is the messages delivered over the time from the first send to the
/// last arrival.
pub fn row(scenario: &str, subject: &str, database: &str, mut run: RunResult) -> Row {
    let matched: Matched = run.tally.matched(&run.sent);
    let span_s = match run.tally.first_sent_ns {
        Some(first) if run.tally.last_arrival_ns > first => {
            (run.tally.last_arrival_ns - first) as f64 / 1e9
        }
        _ => run.wall_s,
    };
    let delivered = matched.delivered.max(1) as f64;
    let mut notes = Vec::new();
    if matched.lost > 0 {
        notes.push(format!("{} of {} messages never arrived", matched.lost, matched.sent));
    }
    let harness_cores = run.harness_cpu_s / run.wall_s.max(1e-9);
    let cores = run.subject_cpu_s / run.wall_s.max(1e-9);
    let machine = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    if harness_cores + cores > machine * 0.9 {
        notes.push(format!(
            "the machine was CPU-bound ({cores:.2} cores for the {subject}, {harness_cores:.2} for the harness of {machine} cores): the harness limits the figure too"
        ));
    }
    Row {
        scenario: scenario.to_owned(),
        subject: subject.to_owned(),
        database: database.to_owned(),
        events_per_txn: None,
        target_rate: None,
        seconds: span_s,
        messages_per_s: matched.delivered as f64 / span_s.max(1e-9),
        latency: run.tally.percentiles(),
        cpu_s_per_1000: run.subject_cpu_s / delivered * 1000.0,
        cpu_cores: cores,
        harness_cpu_cores: harness_cores,
        peak_rss_bytes: run.peak_rss,
        matched,
        extra: Vec::new(),
        notes,
    }
}
