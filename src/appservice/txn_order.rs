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
//! Synapse also counts again from a low number after it restarts (from 1 when nothing was left
//! to send). A new transaction whose number is below the last one therefore starts the count
//! again from itself; without that, every number after a restart was "at or below the highest
//! seen" and no gap was noticed until the count passed the old highest, which let a stranded
//! transaction through late (the long fault-injection run showed it as messages out of order,
//! and one lost until the next outage). A transaction that was held back and comes late looks
//! the same, so right after it the number after the old highest is in order too.
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
    /// The highest number since the count last started again.
    highest: Option<u64>,
    /// The highest number before the count last went back, while the count is below it: the
    /// one after it is in order too (the lower one was a late transaction, not a restart).
    went_back_from: Option<u64>,
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
        let inner = Inner { highest, went_back_from: None, gap: None, open_gaps: 0, off: false };
        Self { inner: Mutex::new(inner), max_wait }
    }

    /// The order after a restart of the bridge: the stored transactions' ids, oldest first, are
    /// taken as if they arrived now, so a count that started again is followed.
    pub fn resume<'a>(stored_oldest_first: impl IntoIterator<Item = &'a str>) -> Self {
        let order = Self::new(None, MAX_WAIT);
        for txn_id in stored_oldest_first {
            order.stored(txn_id, true);
        }
        order
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
        let after_went_back = inner.went_back_from.is_some_and(|from| n == from.saturating_add(1));
        if inner.off || n <= highest.saturating_add(1) || after_went_back {
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

    /// Notes that `txn_id` was stored: `fresh` when it was new, not a retry of a stored one.
    pub fn stored(&self, txn_id: &str, fresh: bool) {
        let Ok(n) = txn_id.parse::<u64>() else { return };
        let mut inner = self.lock();
        match inner.highest {
            // A retry was counted when it was first stored.
            _ if !fresh => {}
            Some(highest) if n < highest => {
                // The count went back: it starts again from here.
                let from = inner.went_back_from.map_or(highest, |from| from.max(highest));
                inner.went_back_from = Some(from);
                inner.highest = Some(n);
                inner.gap = None;
            }
            Some(highest) => {
                // Checked: the number is the homeserver's, and may be the largest there is.
                let next = |after: u64| after.checked_add(1) == Some(n);
                if next(highest) || inner.went_back_from.is_some_and(next) {
                    inner.open_gaps = 0;
                }
                inner.highest = Some(highest.max(n));
            }
            None => inner.highest = Some(n),
        }
        if inner.went_back_from.is_some_and(|from| inner.highest.is_some_and(|h| h > from)) {
            inner.went_back_from = None;
        }
        if inner.gap.is_some_and(|gap| gap.missing <= n) {
            inner.gap = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TxnOrder {
        fn stored_new(&self, txn_id: &str) {
            self.stored(txn_id, true);
        }
    }

    #[test]
    fn a_count_that_starts_again_is_followed_and_its_gaps_held() {
        let order = TxnOrder::new(Some(1573), MAX_WAIT);
        let now = Instant::now();
        // The homeserver restarted and counts from 1 again.
        assert_eq!(order.admit("1", now), Admission::Accept);
        order.stored_new("1");
        assert_eq!(order.admit("2", now), Admission::Accept);
        order.stored_new("2");
        assert_eq!(order.admit("4", now), Admission::Wait { missing: 3 });
        assert_eq!(order.admit("3", now), Admission::Accept);
        order.stored_new("3");
        // A retry of a transaction stored before the restart does not move the count.
        order.stored("1500", false);
        assert_eq!(order.admit("4", now), Admission::Accept);
        order.stored_new("4");
        assert_eq!(order.admit("6", now), Admission::Wait { missing: 5 });
    }

    #[test]
    fn a_late_transaction_is_taken_and_the_count_goes_on_after_the_highest() {
        let order = TxnOrder::new(Some(647), MAX_WAIT);
        let now = Instant::now();
        assert_eq!(order.admit("571", now), Admission::Accept);
        order.stored_new("571");
        assert_eq!(order.admit("648", now), Admission::Accept, "in order after the old highest");
        order.stored_new("648");
        assert_eq!(order.admit("650", now), Admission::Wait { missing: 649 });
    }

    #[test]
    fn the_largest_number_neither_overflows_nor_panics() {
        let order = TxnOrder::new(Some(u64::MAX - 1), MAX_WAIT);
        let now = Instant::now();
        let max = u64::MAX.to_string();
        assert_eq!(order.admit(&max, now), Admission::Accept);
        order.stored_new(&max);
        order.stored_new("7");
        assert_eq!(order.admit(&max, now), Admission::Accept, "after the old highest");
        order.stored_new(&max);
        assert_eq!(order.admit("9", now), Admission::Accept);
    }

    #[test]
    fn a_bridge_restart_resumes_the_count_where_it_started_again() {
        let order = TxnOrder::resume(["1570", "1571", "1573", "1", "2", "3"]);
        let now = Instant::now();
        assert_eq!(order.admit("4", now), Admission::Accept);
        assert_eq!(order.admit("5", now), Admission::Wait { missing: 4 });
    }

    #[test]
    fn a_gap_holds_later_transactions_until_the_missing_one_arrives() {
        let order = TxnOrder::new(Some(5), MAX_WAIT);
        let now = Instant::now();
        assert_eq!(order.admit("6", now), Admission::Accept);
        order.stored_new("6");
        assert_eq!(order.admit("8", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("9", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("7", now), Admission::Accept);
        order.stored_new("7");
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
        order.stored_new("3");
        assert_eq!(order.admit("4", now), Admission::Accept);
        order.stored_new("4");
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
        order.stored_new("6");
        // Gap after gap, never one in order: a homeserver that does not number contiguously.
        assert_eq!(order.admit("9", now), Admission::Wait { missing: 7 });
        assert_eq!(order.admit("9", now), Admission::Accept);
        order.stored_new("9");
        assert_eq!(order.admit("20", now), Admission::Wait { missing: 10 });
        assert_eq!(order.admit("20", now), Admission::Accept);
        order.stored_new("20");
        assert_eq!(order.admit("40", now), Admission::Accept, "off for good");
    }

    #[test]
    fn an_empty_store_accepts_anything_first() {
        let order = TxnOrder::new(None, MAX_WAIT);
        assert_eq!(order.admit("42", Instant::now()), Admission::Accept);
        let resumed = TxnOrder::resume(["x", "12"]);
        assert_eq!(resumed.admit("14", Instant::now()), Admission::Wait { missing: 13 });
    }
}
