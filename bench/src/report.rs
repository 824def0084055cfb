//! What the benchmark prints: a table per kind of scenario, for people, or (with `--json`) one
//! JSON object with the same figures, so results can be compared over time.
//!
//! Every throughput row carries its correctness counts (lost, doubled, out of order); a row
//! that lost or doubled messages is marked, and the run exits non-zero.

use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::{Matched, Percentiles};

/// One measured run of messages through something (the bridge, a peer, the stand-in).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Row {
    pub scenario: String,
    /// `bridge`, `other bridge` (`--against`), `mautrix`, `appservice-bridge`.
    pub subject: String,
    pub database: String,
    /// Events per pushed transaction (outbound and peers), if it applies.
    pub events_per_txn: Option<usize>,
    /// The fixed rate asked for, in messages/s; `None` = as fast as possible.
    pub target_rate: Option<f64>,
    pub seconds: f64,
    pub messages_per_s: f64,
    pub latency: Percentiles,
    /// CPU seconds of the subject's process per 1,000 messages.
    pub cpu_s_per_1000: f64,
    /// The subject's CPU use over the run, in cores (1.0 = one core busy).
    pub cpu_cores: f64,
    /// The benchmark process's CPU use over the run (stand-in, gatekeeper, simulated users).
    pub harness_cpu_cores: f64,
    pub peak_rss_bytes: u64,
    pub matched: Matched,
    /// Other counts: reactions and read receipts that arrived, errors of the simulated users.
    pub extra: Vec<(String, u64)>,
    pub notes: Vec<String>,
}

impl Row {
    /// A build of the bridge (this one or the one given with `--against`), not a peer.
    pub fn is_bridge(&self) -> bool {
        self.subject == "bridge" || self.subject == crate::compare::OTHER
    }

    /// Whether messages were lost or doubled, or — for the bridge, which promises order per
    /// portal — reordered. (The peers forward concurrently: their reordering is reported, not
    /// failed.)
    pub fn failed(&self) -> bool {
        self.matched.lost > 0
            || self.matched.duplicated > 0
            || self.matched.unexpected > 0
            || (self.is_bridge() && self.matched.out_of_order > 0)
    }
}

/// Start-up and memory with many idle portals.
#[derive(Debug, Clone, Serialize)]
pub struct IdleRow {
    pub database: String,
    pub portals: u64,
    pub startup_empty_ms: f64,
    pub startup_ms: f64,
    /// What the bridge logged as its own start-up time with `portals` portals.
    pub startup_logged_ms: Option<u64>,
    pub idle_rss_empty_bytes: u64,
    pub idle_rss_bytes: u64,
    pub rss_per_portal_bytes: f64,
}

/// The stand-in hit directly with the bridge's requests: the most the bridge could reach.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    pub concurrency: usize,
    pub requests_per_s: f64,
}

/// What the bridge adds to the p50 of a message's trip through Synapse, per the target.
pub const ADDED_P50_TARGET_MS: f64 = 5.0;

/// What the bridge adds to a message's trip through Synapse (`--homeserver synapse`): one
/// direction's trip against the same trip Matrix → Matrix through Synapse alone.
#[derive(Debug, Clone, Serialize)]
pub struct Overhead {
    pub direction: String,
    pub bridge: Percentiles,
    pub baseline: Percentiles,
    /// The bridge's p50 minus the baseline's, in ms.
    pub added_p50_ms: f64,
    /// The bridge's own part of the trip, door to door ([`crate::door`]): an upper bound.
    pub bridge_part: Percentiles,
    /// How many messages that part was measured on.
    pub bridge_part_messages: usize,
}

impl Overhead {
    pub fn of(direction: &str, bridge: &Row, baseline: &Row, part: &mut [u64]) -> Overhead {
        Overhead {
            direction: direction.to_owned(),
            bridge: bridge.latency,
            baseline: baseline.latency,
            added_p50_ms: bridge.latency.p50_ms - baseline.latency.p50_ms,
            bridge_part: Percentiles::of(part),
            bridge_part_messages: part.len(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub machine: String,
    pub bridge_binary: String,
    pub homeserver: String,
    pub rows: Vec<Row>,
    pub idle: Vec<IdleRow>,
    pub reference: Option<Reference>,
    pub overhead: Vec<Overhead>,
    /// With `--against`: each scenario's medians for both builds, and their ratios.
    pub comparison: Vec<crate::compare::Comparison>,
    /// The unavoidable parts of an outbound message (`--scenario floor`).
    pub floor: Option<crate::floor::Floor>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.rows.iter().any(Row::failed)
    }

    /// The bridge's throughput as a share of the stand-in's own request rate.
    pub fn reference_ratio(&self, row: &Row) -> Option<f64> {
        let reference = self.reference.as_ref()?;
        (reference.requests_per_s > 0.0).then(|| row.messages_per_s / reference.requests_per_s)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let ratios: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "scenario": r.scenario, "subject": r.subject, "database": r.database,
                    "events_per_txn": r.events_per_txn,
                    "ratio_to_reference": self.reference_ratio(r),
                })
            })
            .collect();
        value["reference_ratios"] = serde_json::Value::Array(ratios);
        value["peer_ratios"] = serde_json::to_value(self.peer_ratios()).unwrap_or_default();
        if let Some(floor) = &self.floor {
            value["floor_budgets"] =
                serde_json::to_value(floor.budgets(&self.rows)).unwrap_or_default();
        }
        value["failed"] = self.failed().into();
        value
    }

    /// For each peer row, the bridge's outbound row with the same events per transaction and
    /// database: (peer, events/txn, bridge ÷ peer events/s, bridge ÷ peer CPU per event).
    pub fn peer_ratios(&self) -> Vec<(String, usize, f64, f64)> {
        let mut out = Vec::new();
        for peer in self.rows.iter().filter(|r| !r.is_bridge()) {
            let Some(per_txn) = peer.events_per_txn else { continue };
            let bridge = self.rows.iter().find(|r| {
                r.subject == "bridge"
                    && r.scenario == peer.scenario
                    && r.events_per_txn == Some(per_txn)
                    && r.target_rate.is_none()
            });
            if let Some(bridge) = bridge
                && peer.messages_per_s > 0.0
                && peer.cpu_s_per_1000 > 0.0
            {
                out.push((
                    peer.subject.clone(),
                    per_txn,
                    bridge.messages_per_s / peer.messages_per_s,
                    bridge.cpu_s_per_1000 / peer.cpu_s_per_1000,
                ));
            }
        }
        out
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "interop-bench — {}", self.machine);
        let _ =
            writeln!(s, "bridge binary: {}; homeserver: {}", self.bridge_binary, self.homeserver);
        if let Some(reference) = &self.reference {
            let _ = writeln!(
                s,
                "reference: the stand-in answers {:.0} sends/s hit directly ({} concurrent senders, as the bridge's portal queues)",
                reference.requests_per_s, reference.concurrency
            );
        }
        if !self.rows.is_empty() {
            let _ = writeln!(
                s,
                "\n{:<28} {:<18} {:<8} {:>5} {:>10} {:>8} {:>8} {:>8} {:>10} {:>6} {:>6} {:>9} {:>6} {:>5} {:>5} {:>5}",
                "scenario",
                "subject",
                "db",
                "ev/tx",
                "msg/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "CPUs/1000",
                "cores",
                "harn.",
                "peak RSS",
                "ref%",
                "lost",
                "dup",
                "ooo"
            );
            for r in &self.rows {
                let ratio = self
                    .reference_ratio(r)
                    .map(|x| format!("{:.0}", x * 100.0))
                    .unwrap_or_else(|| "-".into());
                let _ = writeln!(
                    s,
                    "{:<28} {:<18} {:<8} {:>5} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>10.3} {:>6.2} {:>6.2} {:>9} {:>6} {:>5} {:>5} {:>5}{}",
                    r.scenario,
                    r.subject,
                    r.database,
                    r.events_per_txn.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    r.messages_per_s,
                    r.latency.p50_ms,
                    r.latency.p95_ms,
                    r.latency.p99_ms,
                    r.cpu_s_per_1000,
                    r.cpu_cores,
                    r.harness_cpu_cores,
                    mib(r.peak_rss_bytes),
                    ratio,
                    r.matched.lost,
                    r.matched.duplicated,
                    r.matched.out_of_order,
                    if r.failed() { "  <-- MESSAGES LOST, DOUBLED OR REORDERED" } else { "" },
                );
                for (name, n) in &r.extra {
                    let _ = writeln!(s, "    {name}: {n}");
                }
                for note in &r.notes {
                    let _ = writeln!(s, "    note: {note}");
                }
            }
        }
        for i in &self.idle {
            let _ = writeln!(
                s,
                "\nidle ({}): {} portals; start-up {:.0} ms (empty store {:.0} ms; bridge logged {}); idle RSS {} (empty store {}); RSS per idle portal {:.0} B",
                i.database,
                i.portals,
                i.startup_ms,
                i.startup_empty_ms,
                i.startup_logged_ms.map(|m| format!("{m} ms")).unwrap_or_else(|| "-".into()),
                mib(i.idle_rss_bytes),
                mib(i.idle_rss_empty_bytes),
                // Below zero is noise in two RSS readings, not memory given back.
                i.rss_per_portal_bytes.max(0.0),
            );
        }
        let ratios = self.peer_ratios();
        if !ratios.is_empty() {
            let _ = writeln!(s, "\nbridge vs peers (same pushes, same stand-in):");
            for (peer, per_txn, speed, cpu) in ratios {
                let _ = writeln!(
                    s,
                    "  vs {peer} at {per_txn} ev/txn: {speed:.2}x the events/s, {cpu:.3}x the CPU per event"
                );
            }
        }
        if let Some(floor) = &self.floor {
            s.push_str(&floor.to_text(&self.rows));
        }
        if !self.overhead.is_empty() {
            let _ =
                writeln!(s, "\nwhat the bridge adds to a message's trip through Synapse (p50):");
        }
        for o in &self.overhead {
            let part = &o.bridge_part;
            let met = match o.bridge_part_messages {
                0 => "not measured (no message passed both doors)",
                _ if part.p50_ms < ADDED_P50_TARGET_MS => "met",
                _ => "NOT met",
            };
            let _ = writeln!(
                s,
                "  {}: its own part, door to door (an upper bound) {:.1} ms (p95 {:.1}, p99 {:.1}; {} messages); target < {ADDED_P50_TARGET_MS} ms: {met}",
                o.direction, part.p50_ms, part.p95_ms, part.p99_ms, o.bridge_part_messages,
            );
            let _ = writeln!(
                s,
                "    trip against Synapse alone: {:+.1} ms ({:.1} ms against {:.1} ms Matrix → Matrix; p95 {:.1} against {:.1}, p99 {:.1} against {:.1}; two paths through Synapse, which moves more than the target)",
                o.added_p50_ms,
                o.bridge.p50_ms,
                o.baseline.p50_ms,
                o.bridge.p95_ms,
                o.baseline.p95_ms,
                o.bridge.p99_ms,
                o.baseline.p99_ms,
            );
        }
        if !self.comparison.is_empty() {
            s.push_str(&crate::compare::to_text(&self.comparison));
        }
        for note in &self.notes {
            let _ = writeln!(s, "note: {note}");
        }
        if self.failed() {
            let _ = writeln!(
                s,
                "\nFAILED: a scenario lost, doubled or reordered messages (see the rows marked above)"
            );
        }
        s
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A one-line description of this machine.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("MemTotal"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(format!("{:.1} GiB RAM", kb as f64 / 1024.0 / 1024.0))
    });
    format!("{cpu}, {cores} cores, {}", mem.unwrap_or_default())
}
