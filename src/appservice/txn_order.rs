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
//! rest in order. If the refused transaction comes back first instead, the homeserver holds
//! nothing older: the missing number was never used (Synapse's id sequence can skip one, seen
//! after a restart), so it is accepted and the check goes on from there.
//!
//! The transaction id is opaque in the spec, so this is a heuristic: ids that are not numbers
//! are never held; a gap that stays open for [`MAX_WAIT`] while other transactions arrive is
//! given up on; and a homeserver that leaves [`OFF_AFTER_GAPS`] gaps in a row, with no
//! transaction in order between them, does not number contiguously, which turns the check off.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a gap may hold transactions back before it is given up on. Synapse's recoverer
/// retries after 2 s, then 4 and 8; holding everything behind a gap longer would stall every
/// chat.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// Gaps in a row (none of them closed by the missing transaction, no transaction in order
/// between them) after which the homeserver is taken not to number contiguously.
pub const OFF_AFTER_GAPS: u32 = 3;

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
    gap: Option<Gap>,
    /// Gaps given up on since the last transaction that arrived in order.
    open_gaps: u32,
    /// Set once the homeserver left gaps open again and again: it does not number contiguously.
    off: bool,
}

#[derive(Debug, Clone, Copy)]
struct Gap {
    missing: u64,
    since: Instant,
    /// The transaction refused for it; its coming back first means nothing older is on its way.
    refused: u64,
}

impl TxnOrder {
    /// `highest`: the highest numbered transaction already stored (from the store at start).
    pub fn new(highest: Option<u64>, max_wait: Duration) -> Self {
        let inner = Inner { highest, gap: None, open_gaps: 0, off: false };
        Self { inner: Mutex::new(inner), max_wait }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock means a panic mid-update of plain fields; they are still usable.
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
            Some(gap) if gap.missing == missing => {
                let resent = n == gap.refused;
                if !resent && now.duration_since(gap.since) < self.max_wait {
                    return Admission::Wait { missing };
                }
                inner.gap = None;
                inner.open_gaps += 1;
                if inner.open_gaps >= OFF_AFTER_GAPS {
                    tracing::warn!(
                        missing,
                        arrived = n,
                        "the homeserver keeps leaving gaps in its transaction numbers;                          transactions are taken in arrival order from now on"
                    );
                    inner.off = true;
                } else if resent {
                    tracing::info!(
                        missing,
                        arrived = n,
                        "the homeserver never used a transaction number; going on"
                    );
                } else {
                    tracing::warn!(
                        missing,
                        arrived = n,
                        "a missing transaction did not come; going on without it"
                    );
                }
                Admission::Accept
            }
            _ => {
                inner.gap = Some(Gap { missing, since: now, refused: n });
                Admission::Wait { missing }
            }
        }
    }

    /// Notes that `txn_id` was stored.
    pub fn stored(&self, txn_id: &str) {
        let Ok(n) = txn_id.parse::<u64>() else { return };
        let mut inner = self.lock();
        if inner.highest.is_some_and(|highest| n == highest + 1) {
            inner.open_gaps = 0;
        }
        inner.highest = Some(inner.highest.map_or(n, |highest| highest.max(n)));
        if inner.gap.is_some_and(|gap| gap.missing <= n) {
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
    fn a_refused_transaction_that_comes_back_first_means_the_number_was_skipped() {
        let order = TxnOrder::new(Some(1), MAX_WAIT);
        let now = Instant::now();
        assert_eq!(order.admit("3", now), Admission::Wait { missing: 2 });
        assert_eq!(order.admit("3", now), Admission::Accept, "nothing older is on its way");
        order.stored("3");
        assert_eq!(order.admit("4", now), Admission::Accept);
        order.stored("4");
        // The check is still on: a later gap holds transactions again.
        assert_eq!(order.admit("6", now), Admission::Wait { missing: 5 });
        assert_eq!(order.admit("7", now), Admission::Wait { missing: 5 });
    }

    #[test]
    fn a_gap_that_never_closes_is_given_up_and_repeated_gaps_turn_the_check_off() {
        let order = TxnOrder::new(Some(1), Duration::from_secs(10));
        let mut now = Instant::now();
        assert_eq!(order.admit("5", now), Admission::Wait { missing: 2 });
        assert_eq!(order.admit("6", now), Admission::Wait { missing: 2 });
        now += Duration::from_secs(11);
        assert_eq!(order.admit("6", now), Admission::Accept, "given up on 2");
        order.stored("6");
        // Gap after gap, never one in order: a homeserver that does not number contiguously.
        assert_eq!(order.admit("9", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("9", now), Admission::Accept);
        order.stored("9");
        assert_eq!(order.admit("20", now), Admission::Wait { missing: 10 });
        assert_eq!(order.admit("20", now), Admission::Accept);
        order.stored("20");
        assert_eq!(order.admit("40", now), Admission::Accept, "off for good");
    }

    #[test]
    fn an_empty_store_accepts_anything_first() {
        let order = TxnOrder::new(None, MAX_WAIT);
        assert_eq!(order.admit("42", Instant::now()), Admission::Accept);
        assert_eq!(highest_numbered(["3", "x", "12", "7"]), Some(12));
        assert_eq!(highest_numbered(["x"]), None);
    }
}
