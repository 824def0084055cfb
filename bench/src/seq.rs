//! Numbered benchmark messages: what every message's body carries, so that each arrival can be
//! matched to the message sent, and late, lost, doubled or reordered ones are counted.
//!
//! A body reads `bench <stream> <seq> <sent_ns>`: the stream (one per portal and direction),
//! its sequence number (0, 1, 2… per stream), and when it was sent on the benchmark's clock.
//! Carrying the send time in the message keeps senders and the stand-in free of shared state.

use std::{sync::OnceLock, time::Instant};

/// The body prefix of every numbered message.
pub const PREFIX: &str = "bench ";

/// What a numbered message says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub stream: u32,
    pub seq: u32,
    pub sent_ns: u64,
}

impl Stamp {
    pub fn body(&self) -> String {
        format!("{PREFIX}{} {} {}", self.stream, self.seq, self.sent_ns)
    }

    /// Reads a body made by [`Stamp::body`] (leading text before the prefix is allowed).
    pub fn parse(text: &str) -> Option<Stamp> {
        let at = text.find(PREFIX)?;
        parse_after(text.as_bytes().get(at + PREFIX.len()..)?)
    }
}

/// Finds a stamp in a raw JSON body without parsing the JSON (the stand-in's fast path).
pub fn find_in_json(body: &[u8]) -> Option<Stamp> {
    let needle = PREFIX.as_bytes();
    let at = body.windows(needle.len()).position(|w| w == needle)?;
    parse_after(body.get(at + needle.len()..)?)
}

fn parse_after(bytes: &[u8]) -> Option<Stamp> {
    let mut numbers = [0u64; 3];
    let mut i = 0;
    for (k, slot) in numbers.iter_mut().enumerate() {
        let start = i;
        while let Some(b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            *slot = slot.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
        }
        if i == start {
            return None;
        }
        if k < 2 {
            if bytes.get(i) != Some(&b' ') {
                return None;
            }
            i += 1;
        }
    }
    Some(Stamp {
        stream: u32::try_from(numbers[0]).ok()?,
        seq: u32::try_from(numbers[1]).ok()?,
        sent_ns: numbers[2],
    })
}

fn base() -> &'static Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now)
}

/// Nanoseconds on the benchmark's clock (monotonic, shared by every part of this process).
pub fn now_ns() -> u64 {
    u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_a_round_trip_through_text_and_json() {
        let stamp = Stamp { stream: 17, seq: 42, sent_ns: 123_456_789 };
        assert_eq!(Stamp::parse(&stamp.body()), Some(stamp));
        let json = serde_json::json!({"msgtype": "m.text", "body": stamp.body()}).to_string();
        assert_eq!(find_in_json(json.as_bytes()), Some(stamp));
        assert_eq!(Stamp::parse("hello"), None);
        assert_eq!(Stamp::parse("bench 1 2"), None);
    }
}
