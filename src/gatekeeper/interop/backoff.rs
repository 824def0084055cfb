//! How long to wait before reconnecting: capped exponential backoff with full jitter.
//!
//! Full jitter (a uniformly random wait up to the current cap) spreads the reconnects of many
//! logins after a gatekeeper restart, instead of having them all knock at the same instant. The
//! cap doubles per failed attempt from `initial` up to `max`; a successful, drained connection
//! resets it. `min` keeps a hot loop from ever retrying with no wait at all. Twenty lines do not
//! justify a dependency (the `backoff` crate is unmaintained).

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    min: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, min: Duration) -> Self {
        Self { initial, max, min, attempt: 0 }
    }

    /// The cap of the next wait: `initial * 2^attempt`, at most `max`, at least `min`.
    fn cap(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(31));
        self.initial.saturating_mul(factor).min(self.max).max(self.min)
    }

    /// The next wait: uniformly random in `[min, cap]`; each call doubles the cap.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.cap();
        self.attempt = self.attempt.saturating_add(1);
        let (low, high) = (self.min.as_millis() as u64, cap.as_millis() as u64);
        Duration::from_millis(rand::thread_rng().gen_range(low..=high.max(low)))
    }

    /// After a connection that worked: start again from `initial`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_and_resets() {
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(1), s(60), Duration::ZERO);
        let caps: Vec<u64> = (0..9)
            .map(|_| {
                let cap = b.cap();
                assert!(b.next_delay() <= cap);
                cap.as_secs()
            })
            .collect();
        assert_eq!(caps, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // Full jitter: waits spread over the whole range, not bunched at the cap.
        let waits: Vec<Duration> = (0..200).map(|_| b.next_delay()).collect();
        assert!(waits.iter().any(|w| *w < s(20)) && waits.iter().any(|w| *w > s(40)));
        b.reset();
        assert!(b.next_delay() <= s(1));
    }

    #[test]
    fn min_is_a_floor() {
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(1), s(60), s(5));
        for _ in 0..50 {
            assert!(b.next_delay() >= s(5));
        }
        let mut fixed = Backoff::new(s(1), s(2), s(30));
        assert_eq!(fixed.next_delay(), s(30));
    }
}
