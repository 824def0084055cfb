//! The plaintext of messages we sent recently, kept so a retry receipt can be answered.
//!
//! When a contact cannot decrypt one of our messages it sends `receipt RETRY` with fresh keys
//! (spec §7.6); we then encrypt the same envelope again on a new session. The envelope is kept
//! in memory only (wiped when dropped), for 24 hours and at most 1000 messages, like the
//! reference client. After a restart a retry finds nothing and the contact sees "could not be
//! decrypted", which is what the protocol expects of a sender that no longer has the text.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
const KEEP_AT_MOST: usize = 1000;

pub struct SentRecord {
    pub to: String,
    pub envelope: Zeroizing<Vec<u8>>,
    at: Instant,
}

#[derive(Default)]
pub struct SentCache {
    records: HashMap<String, SentRecord>,
    order: VecDeque<String>,
}

impl SentCache {
    pub fn remember(&mut self, id: &str, to: &str, envelope: Zeroizing<Vec<u8>>) {
        let record = SentRecord { to: to.to_owned(), envelope, at: Instant::now() };
        if self.records.insert(id.to_owned(), record).is_none() {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > KEEP_AT_MOST {
            if let Some(old) = self.order.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    /// The message `id`, if it is still kept.
    pub fn get(&self, id: &str) -> Option<&SentRecord> {
        self.records.get(id).filter(|r| r.at.elapsed() < KEEP_FOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_thousand() {
        let mut cache = SentCache::default();
        for n in 0..1005 {
            cache.remember(&format!("m{n}"), "peer@native", Zeroizing::new(vec![n as u8]));
        }
        assert!(cache.get("m0").is_none() && cache.get("m4").is_none());
        assert_eq!(
            cache.get("m1004").map(|r| r.envelope.as_slice()),
            Some([1004u16 as u8].as_slice())
        );
        cache.remember("m1004", "peer@native", Zeroizing::new(vec![1]));
        assert_eq!(cache.order.len(), 1000);
    }
}
