//! Store-and-forward: every queued stanza goes through the recipient's
//! mailbox, and each open channel has a pump that sends it out in order.
//!
//! Routing only ever writes to the mailbox and wakes the pump, so a stanza
//! is sent once per connection, in arrival order, and survives a restart
//! until the recipient acknowledges it (`receipt DELIVERED` or `ack`).

use std::sync::Arc;

use interop_proto::frame;
use interop_proto::stanza::{
    Ib, IbBody, MessageStanza, Notification, NotificationBody, OfflineComplete, OfflinePending,
    Stanza,
};
use interop_proto::transport::ChannelSender;
use rand::RngCore;
use tokio::sync::Notify;

use crate::state::Shared;
use crate::store::{MailboxClass, NewEntry, StoreError};

/// Queues `stanza` for `recipient` and wakes its channel (or pushes).
pub async fn enqueue(
    shared: &Arc<Shared>,
    recipient: &str,
    class: MailboxClass,
    peer: &str,
    stanza_id: &str,
    stanza: &Stanza,
) -> Result<(), StoreError> {
    let expires = interop_proto::now_ms() + shared.config.mailbox_ttl().as_millis() as u64;
    let bytes = frame::encode(stanza);
    shared.store.enqueue(recipient, class, peer, stanza_id, &bytes, expires).await?;
    if !shared.hub.wake(recipient) && recipient.ends_with("@interop") {
        shared.pusher.schedule(shared, recipient);
    }
    Ok(())
}

/// Accepts a message (idempotently) and queues its copies atomically;
/// `Some(first recipient)` if it was a duplicate.
pub async fn accept_message(
    shared: &Arc<Shared>,
    sender: &str,
    m: &MessageStanza,
    copies: Vec<(String, Stanza)>,
) -> Result<Option<String>, StoreError> {
    let expires = interop_proto::now_ms() + shared.config.mailbox_ttl().as_millis() as u64;
    let entries: Vec<NewEntry<'_>> = copies
        .iter()
        .map(|(recipient, stanza)| NewEntry {
            recipient,
            peer: &m.from,
            frame: frame::encode(stanza),
            expires_ms: expires,
        })
        .collect();
    let dup = shared
        .store
        .accept_and_enqueue(sender, &m.id, m.retry_count, &m.to, m.timestamp, &entries)
        .await?;
    if dup.is_none() {
        for (recipient, _) in &copies {
            if !shared.hub.wake(recipient) && recipient.ends_with("@interop") {
                shared.pusher.schedule(shared, recipient);
            }
        }
    }
    Ok(dup)
}

/// Queues a notification for `user`.
pub async fn notify(
    shared: &Arc<Shared>,
    user: &str,
    body: NotificationBody,
) -> Result<(), StoreError> {
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02X}")).collect();
    let n = Notification { id: id.clone(), timestamp: interop_proto::now_ms(), body: Some(body) };
    enqueue(shared, user, MailboxClass::Notification, "", &id, &Stanza::Notification(n)).await
}

/// Sends the mailbox to one channel: first what was queued before it
/// connected (between `offline_pending` and `offline_complete`, messages
/// marked `offline`), then whatever arrives, until the channel fails.
pub async fn pump(shared: Arc<Shared>, user: String, sender: ChannelSender, wake: Arc<Notify>) {
    if let Err(e) = run_pump(&shared, &user, &sender, &wake).await {
        tracing::debug!(%user, error = %e, "mailbox pump stopped");
    }
}

async fn run_pump(
    shared: &Shared,
    user: &str,
    sender: &ChannelSender,
    wake: &Notify,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (count, top) = shared.store.mailbox_status(user).await?;
    let ib = |body| Stanza::Ib(Ib { body: Some(body) });
    sender.send(&ib(IbBody::OfflinePending(OfflinePending { count }))).await?;
    let mut last = 0i64;
    let mut offline_done = false;
    loop {
        let entries = shared.store.mailbox_after(user, last, 256).await?;
        if entries.is_empty() {
            if !offline_done {
                offline_done = true;
                sender.send(&ib(IbBody::OfflineComplete(OfflineComplete { count }))).await?;
                continue;
            }
            wake.notified().await;
            continue;
        }
        for e in entries {
            if !offline_done && e.seq > top {
                offline_done = true;
                sender.send(&ib(IbBody::OfflineComplete(OfflineComplete { count }))).await?;
            }
            last = e.seq;
            let mut stanza = match frame::decode(&e.frame, usize::MAX) {
                Ok(s) => s,
                Err(err) => {
                    tracing::warn!(%user, seq = e.seq, error = %err, "skipping an unreadable mailbox entry");
                    continue;
                }
            };
            if let Stanza::Message(m) = &mut stanza {
                m.offline = !offline_done;
            }
            sender.send(&stanza).await?;
        }
    }
}
