//! Pacing numbered messages over a run: as fast as possible, or at a fixed rate where each
//! message has a due time (its latency counts from then, so a sender that falls behind does
//! not hide its lag). The gatekeeper's senders and the transaction pusher share it.

use std::time::Duration;

use crate::seq;

/// What a sender should do next.
pub enum Step {
    /// The run's time is up.
    Done,
    /// Nothing is due yet; the next message is due in this long.
    Wait(Duration),
    /// Send this many messages now.
    Send(u64),
}

pub struct Pacer {
    start: u64,
    end: u64,
    /// 0: no rate, as fast as possible.
    interval_ns: u64,
    issued: u64,
}

impl Pacer {
    /// `rate`: messages/s; 0 or less is as fast as possible.
    pub fn new(duration: Duration, rate: f64) -> Self {
        let start = seq::now_ns();
        let interval_ns = if rate > 0.0 { (1e9 / rate) as u64 } else { 0 };
        Self { start, end: start + duration.as_nanos() as u64, interval_ns, issued: 0 }
    }

    /// The next step, sending at most `max_batch` at once.
    pub fn step(&self, max_batch: u64) -> Step {
        let now = seq::now_ns();
        if now >= self.end {
            return Step::Done;
        }
        match (now - self.start).checked_div(self.interval_ns) {
            None => Step::Send(max_batch),
            Some(elapsed_intervals) => {
                let due = elapsed_intervals + 1;
                if due <= self.issued {
                    let next = self.start + self.issued * self.interval_ns;
                    return Step::Wait(Duration::from_nanos(next.saturating_sub(now)));
                }
                Step::Send((due - self.issued).min(max_batch))
            }
        }
    }

    /// How many messages were issued so far (the next one's index).
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// The send time to stamp on the next message (its due time at a fixed rate), and counts
    /// it as issued.
    pub fn issue(&mut self) -> u64 {
        let sent_ns = if self.interval_ns == 0 {
            seq::now_ns()
        } else {
            self.start + self.issued * self.interval_ns
        };
        self.issued += 1;
        sent_ns
    }
}
