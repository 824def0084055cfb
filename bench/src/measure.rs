//! What a scenario measures: every arrival matched to its message (lost, doubled and reordered
//! ones counted), latency percentiles, and a process's CPU time and memory read from `/proc`.
//!
//! The bridge runs as its own process, so its CPU time (`utime + stime` in `/proc/<pid>/stat`)
//! and memory (`VmRSS`, `VmHWM` in `/proc/<pid>/status`) are its own; the benchmark's process
//! (stand-in, gatekeeper, simulated users) is measured the same way, to tell whether the
//! harness rather than the bridge was the limit.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::seq::Stamp;

/// Arrivals of numbered messages, per stream.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    streams: HashMap<u32, Stream>,
    latencies_ns: Vec<u64>,
    pub first_sent_ns: Option<u64>,
    pub last_arrival_ns: u64,
}

#[derive(Debug, Default, Clone)]
struct Stream {
    /// When each sequence number first arrived (benchmark clock, ns), if it did.
    arrived_ns: Vec<Option<u64>>,
    /// The highest sequence number seen so far; an arrival below it is out of order.
    highest: Option<u32>,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
}

/// What was sent per stream: the number of messages (sequence numbers 0..n).
pub type Sent = HashMap<u32, u32>;

/// The outcome of matching arrivals to what was sent.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Matched {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Arrivals with a sequence number that was never sent (or a stream never used).
    pub unexpected: u64,
}

impl Tally {
    pub fn record(&mut self, stamp: Stamp, at_ns: u64) {
        let stream = self.streams.entry(stamp.stream).or_default();
        let i = stamp.seq as usize;
        if stream.arrived_ns.len() <= i {
            stream.arrived_ns.resize(i + 1, None);
        }
        if stream.arrived_ns[i].is_some() {
            stream.duplicates += 1;
            return;
        }
        stream.arrived_ns[i] = Some(at_ns);
        stream.delivered += 1;
        if stream.highest.is_some_and(|h| stamp.seq < h) {
            stream.out_of_order += 1;
        }
        stream.highest = Some(stream.highest.map_or(stamp.seq, |h| h.max(stamp.seq)));
        self.latencies_ns.push(at_ns.saturating_sub(stamp.sent_ns));
        self.first_sent_ns =
            Some(self.first_sent_ns.map_or(stamp.sent_ns, |f| f.min(stamp.sent_ns)));
        self.last_arrival_ns = self.last_arrival_ns.max(at_ns);
    }

    /// When message `seq` of `stream` first arrived, if it did.
    pub fn arrival_ns(&self, stream: u32, seq: u32) -> Option<u64> {
        let stream = self.streams.get(&stream)?;
        let i = seq as usize;
        stream.arrived_ns.get(i).copied().flatten()
    }

    pub fn delivered(&self) -> u64 {
        self.streams.values().map(|s| s.delivered).sum()
    }

    /// Whether every message of `sent` arrived.
    pub fn complete(&self, sent: &Sent) -> bool {
        sent.iter().all(|(stream, n)| {
            self.streams.get(stream).is_some_and(|s| {
                s.arrived_ns.len() >= *n as usize
                    && s.arrived_ns.iter().take(*n as usize).all(Option::is_some)
            })
        })
    }

    pub fn matched(&self, sent: &Sent) -> Matched {
        let mut m =
            Matched { sent: sent.values().map(|n| u64::from(*n)).sum(), ..Matched::default() };
        for (id, stream) in &self.streams {
            let n = sent.get(id).copied().unwrap_or(0) as usize;
            let ok = stream.arrived_ns.iter().take(n).filter(|at| at.is_some()).count() as u64;
            m.delivered += ok;
            m.unexpected += stream.delivered - ok;
            m.duplicated += stream.duplicates;
            m.out_of_order += stream.out_of_order;
        }
        m.lost = m.sent - m.delivered;
        m
    }

    pub fn percentiles(&mut self) -> Percentiles {
        Percentiles::of(&mut self.latencies_ns)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(values_ns: &mut [u64]) -> Percentiles {
        if values_ns.is_empty() {
            return Percentiles::default();
        }
        values_ns.sort_unstable();
        let at = |p: f64| {
            let i = ((values_ns.len() - 1) as f64 * p).round() as usize;
            values_ns[i.min(values_ns.len() - 1)] as f64 / 1e6
        };
        Percentiles { p50_ms: at(0.50), p95_ms: at(0.95), p99_ms: at(0.99), max_ms: at(1.0) }
    }
}

/// CPU time of a process so far, in seconds (user + system).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line =
        status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

pub fn rss_bytes(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS")
}

/// Samples a process's RSS every 100 ms while a scenario runs, keeping the peak.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssSampler { peak, stop }
    }

    /// Stops sampling; returns the peak seen.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.peak.load(Ordering::Relaxed)
    }
}

/// Waits until a process is idle (under 5 % of a core over half a second), at most `limit`:
/// work left from an earlier run (receipts, pruning) would otherwise count against the next.
/// Returns whether it settled.
pub async fn settle(pid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        let before = cpu_seconds(pid).unwrap_or(0.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if cpu_seconds(pid).unwrap_or(0.0) - before < 0.025 {
            return true;
        }
    }
    false
}

/// CPU seconds of a process between two moments.
#[derive(Debug, Clone, Copy)]
pub struct CpuSpan {
    pid: u32,
    start: f64,
}

impl CpuSpan {
    pub fn start(pid: u32) -> CpuSpan {
        CpuSpan { pid, start: cpu_seconds(pid).unwrap_or(0.0) }
    }

    pub fn seconds(&self) -> f64 {
        (cpu_seconds(self.pid).unwrap_or(self.start) - self.start).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(stream: u32, seq: u32) -> Stamp {
        Stamp { stream, seq, sent_ns: 0 }
    }

    #[test]
    fn lost_doubled_and_reordered_messages_are_counted() {
        let mut tally = Tally::default();
        for (stream, seq) in [(1, 0), (1, 2), (1, 1), (1, 2), (2, 0), (3, 0)] {
            tally.record(stamp(stream, seq), 10);
        }
        let sent: Sent = [(1, 4), (2, 1)].into_iter().collect();
        let m = tally.matched(&sent);
        assert_eq!((m.sent, m.delivered, m.lost), (5, 4, 1));
        assert_eq!((m.duplicated, m.out_of_order, m.unexpected), (1, 1, 1));
        assert!(!tally.complete(&sent));
    }

    #[test]
    fn this_process_can_be_measured() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some());
        assert!(rss_bytes(pid).is_some_and(|b| b > 0));
    }
}
