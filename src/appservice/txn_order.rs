//! Holding the homeserver to the order of its own transactions.
//!
//! The bridge applies transactions in the order they arrive, so a homeserver that sends a
//! later one before an earlier one reorders the user's messages. Synapse does, after an outage
//! of the bridge: when its recoverer has sent the backlog and finds nothing more, it marks the
//! bridge up again, and a transaction created in between is stored as "to be recovered" while
//! the next ones go out directly — the stranded one waits for the *next* outage, and arrives
//! after them (seen in the fault-injection test; `docs/reliability.md`).
//!
//! Synapse numbers an appservice's transactions 1, 2, 3… So when a numbered transaction
//! arrives while the one before it never did, it is refused (503): that puts Synapse into
//! recovery, which sends the oldest unsent transaction first — the missing one — and then the
//! rest in order. The transaction id is opaque in the spec, so this is a heuristic: ids that
//! are not numbers are never held, and a gap that stays open for [`MAX_WAIT`] is taken to
//! mean this homeserver does not number contiguously, which turns the check off.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a gap may hold transactions back before the check gives up on this homeserver.
/// Synapse's recoverer retries after 2 s, then 4 and 8; a gap still open after that is more
/// likely a transaction this bridge never sees (seen after a restart) than one on its way, and
/// holding everything behind it longer would stall every chat.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// What to do with an arriving transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Accept,
    /// Refuse it for now: transaction `missing` has to come first.
    Wait {
        missing: u64,
    },
}

/// The highest numbered transaction stored, and the gap being waited on.
#[derive(Debug)]
pub struct TxnOrder {
    inner: Mutex<Inner>,
    max_wait: Duration,
}

#[derive(Debug)]
struct Inner {
    highest: Option<u64>,
    /// The missing id and when the wait for it began.
    gap: Option<(u64, Instant)>,
    /// Set once the homeserver left a gap open: it does not number contiguously.
    off: bool,
}

impl TxnOrder {
    /// `highest`: the highest numbered transaction already stored (from the store at start).
    pub fn new(highest: Option<u64>, max_wait: Duration) -> Self {
        Self { inner: Mutex::new(Inner { highest, gap: None, off: false }), max_wait }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock means a panic mid-update of two plain fields; they are still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `txn_id` may be stored now.
    pub fn admit(&self, txn_id: &str, now: Instant) -> Admission {
        let Ok(n) = txn_id.parse::<u64>() else { return Admission::Accept };
        let mut inner = self.lock();
        let Some(highest) = inner.highest else { return Admission::Accept };
        // At or below the next one: in order, a retry, or a homeserver whose numbering
        // started again (a new database), which the de-duplication by body tells apart.
        if inner.off || n <= highest.saturating_add(1) {
            return Admission::Accept;
        }
        let missing = highest + 1;
        match inner.gap {
            Some((waited_for, since)) if waited_for == missing => {
                if now.duration_since(since) < self.max_wait {
                    return Admission::Wait { missing };
                }
                tracing::warn!(
                    missing,
                    arrived = n,
                    "the homeserver never sent a missing transaction; transactions are taken \
                     in arrival order from now on"
                );
                inner.off = true;
                inner.gap = None;
                Admission::Accept
            }
            _ => {
                inner.gap = Some((missing, now));
                Admission::Wait { missing }
            }
        }
    }

    /// Notes that `txn_id` was stored.
    pub fn stored(&self, txn_id: &str) {
        let Ok(n) = txn_id.parse::<u64>() else { return };
        let mut inner = self.lock();
        inner.highest = Some(inner.highest.map_or(n, |highest| highest.max(n)));
        if inner.gap.is_some_and(|(missing, _)| missing <= n) {
            inner.gap = None;
        }
    }
}

/// The highest number among `txn_ids` (the stored ones), if any is a number.
pub fn highest_numbered<'a>(txn_ids: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    txn_ids.into_iter().filter_map(|id| id.parse::<u64>().ok()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_holds_later_transactions_until_the_missing_one_arrives() {
        let order = TxnOrder::new(Some(5), MAX_WAIT);
        let now = Instant::now();
        assert_eq!(order.admit("6", now), Admission::Accept);
        order.stored("6");
        assert_eq!(order.admit("8", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("9", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("7", now), Admission::Accept);
        order.stored("7");
        assert_eq!(order.admit("8", now), Admission::Accept);
        // Retries of old transactions, and a homeserver that starts again at 1, pass.
        assert_eq!(order.admit("3", now), Admission::Accept);
        assert_eq!(order.admit("1", now), Admission::Accept);
        assert_eq!(order.admit("abc", now), Admission::Accept);
    }

    #[test]
    fn a_gap_that_never_closes_turns_the_check_off() {
        let order = TxnOrder::new(Some(1), Duration::from_secs(10));
        let now = Instant::now();
        assert_eq!(order.admit("5", now), Admission::Wait { missing: 2 });
        let later = now + Duration::from_secs(11);
        assert_eq!(order.admit("5", later), Admission::Accept);
        order.stored("5");
        assert_eq!(order.admit("9", later), Admission::Accept, "off for good");
    }

    #[test]
    fn an_empty_store_accepts_anything_first() {
        let order = TxnOrder::new(None, MAX_WAIT);
        assert_eq!(order.admit("42", Instant::now()), Admission::Accept);
        assert_eq!(highest_numbered(["3", "x", "12", "7"]), Some(12));
        assert_eq!(highest_numbered(["x"]), None);
    }
}
