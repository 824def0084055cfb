//! Bridged messages whose record is not stored yet.
//!
//! Every bridged message is recorded as both a Matrix event and a gatekeeper message, so that
//! later replies, edits, reactions, deletes and receipts find it. A commit of its own for each
//! record was a large share of a message's cost. Instead, the portal worker that bridged the
//! message stores the record in the same commit that marks the item done
//! ([`super::queue`]), and until then lookups find it here. Should the bridge stop before that
//! commit, the item is not marked done either: it runs again as a replay, finds what it sent,
//! and records it again.
//!
//! Each direction of a portal has its own worker, so after a crash a message's record can be
//! missing while the other direction already applies an item that refers to the message; see
//! [`Bridge::target_may_come`].

use std::sync::Mutex;

use super::Bridge;
use crate::store::{MessageRow, QueuedWork, StoreError};

/// The records made since their portal's worker last committed.
#[derive(Default)]
pub struct UnsavedMappings {
    rows: Mutex<Vec<MessageRow>>,
}

impl UnsavedMappings {
    fn rows(&self) -> std::sync::MutexGuard<'_, Vec<MessageRow>> {
        // A plain list: a panic mid-update leaves it usable.
        self.rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes a bridged message, to be stored with its item's finish.
    pub fn record(&self, row: MessageRow) {
        self.rows().push(row);
    }

    /// The records of one portal not stored yet, for its worker's next commit.
    pub fn of_portal(&self, owner: &str, remote_chat: &str) -> Vec<MessageRow> {
        let rows = self.rows();
        rows.iter().filter(|r| r.owner == owner && r.remote_chat == remote_chat).cloned().collect()
    }

    /// Forgets records once they are stored.
    pub fn stored(&self, stored: &[MessageRow]) {
        if !stored.is_empty() {
            self.rows().retain(|row| !stored.contains(row));
        }
    }

    fn find(&self, matches: impl Fn(&MessageRow) -> bool) -> Option<MessageRow> {
        self.rows().iter().rev().find(|row| matches(row)).cloned()
    }
}

impl Bridge {
    /// The bridged message that is the Matrix event `event_id`, stored or not yet.
    pub async fn message_by_event(
        &self,
        room_id: &str,
        event_id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let unsaved = self.mappings.find(|r| r.room_id == room_id && r.event_id == event_id);
        match unsaved {
            Some(row) => Ok(Some(row)),
            None => self.store.message_by_event(room_id, event_id).await,
        }
    }

    /// Whether a message that `item` refers to, and that was not found, may still be recorded:
    /// the portal's other direction has unfinished work queued before `item`. After a crash
    /// that work runs again and records what it bridged, so `item` waits for it instead of
    /// going on without its target. Only older work counts, so two items never wait for each
    /// other.
    pub async fn target_may_come(&self, item: &QueuedWork) -> Result<bool, StoreError> {
        let (owner, chat, other) = (&item.owner, &item.remote_chat, item.direction.other());
        self.store.has_portal_work_before(owner, chat, other, item.seq).await
    }

    /// The bridged message `(remote_sender, remote_id)` of a portal, stored or not yet.
    pub async fn message_by_remote(
        &self,
        owner: &str,
        remote_chat: &str,
        remote_sender: &str,
        remote_id: &str,
    ) -> Result<Option<MessageRow>, StoreError> {
        let unsaved = self.mappings.find(|r| {
            r.owner == owner
                && r.remote_chat == remote_chat
                && r.remote_sender == remote_sender
                && r.remote_id == remote_id
        });
        match unsaved {
            Some(row) => Ok(Some(row)),
            None => {
                self.store.message_by_remote(owner, remote_chat, remote_sender, remote_id).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(owner: &str, chat: &str, id: &str) -> MessageRow {
        MessageRow {
            room_id: format!("!{chat}:x"),
            event_id: format!("${id}"),
            owner: owner.into(),
            remote_chat: chat.into(),
            remote_sender: chat.into(),
            remote_id: id.into(),
        }
    }

    #[test]
    fn records_are_kept_by_portal_until_stored() {
        let unsaved = UnsavedMappings::default();
        unsaved.record(row("@a:x", "1@native", "m1"));
        unsaved.record(row("@a:x", "2@native", "m2"));
        unsaved.record(row("@a:x", "1@native", "m3"));
        let first = unsaved.of_portal("@a:x", "1@native");
        assert_eq!(first, [row("@a:x", "1@native", "m1"), row("@a:x", "1@native", "m3")]);
        assert!(unsaved.find(|r| r.event_id == "$m3").is_some());
        // One more made while the commit ran stays for the next one.
        unsaved.record(row("@a:x", "1@native", "m4"));
        unsaved.stored(&first);
        assert_eq!(unsaved.of_portal("@a:x", "1@native"), [row("@a:x", "1@native", "m4")]);
        assert!(unsaved.find(|r| r.event_id == "$m3").is_none());
        assert_eq!(unsaved.of_portal("@a:x", "2@native").len(), 1, "another portal's stay");
    }
}
