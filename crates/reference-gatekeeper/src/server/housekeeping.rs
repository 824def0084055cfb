//! Periodic chores: expire old mailbox entries and accepted ids, and wake
//! partner users who still have mail after a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::Shared;

pub async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    wake_partner_users(&shared).await;
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = interop_proto::now_ms();
                match shared.store.expire_mailbox(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "mailbox entries expired"),
                    Err(e) => tracing::warn!(error = %e, "mailbox expiry failed"),
                }
                let horizon = now.saturating_sub(shared.config.mailbox_ttl().as_millis() as u64);
                if let Err(e) = shared.store.prune_accepted(horizon).await {
                    tracing::warn!(error = %e, "pruning accepted ids failed");
                }
                unenlist_inactive(&shared, horizon).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Partner users not connected for the mailbox lifetime (30 days) are
/// un-enlisted, as the public record says WhatsApp does.
async fn unenlist_inactive(shared: &Shared, before_ms: u64) {
    let Ok(stale) = shared.store.stale_partner_users(before_ms).await else { return };
    for user in stale.into_iter().filter(|u| !shared.hub.is_online(u)) {
        match shared.store.delete_user(&user).await {
            Ok(()) => tracing::info!(%user, "un-enlisted after 30 days without a channel"),
            Err(e) => tracing::warn!(%user, error = %e, "could not un-enlist an inactive user"),
        }
    }
}

/// After a restart nobody is connected: push every partner user with mail.
async fn wake_partner_users(shared: &Arc<Shared>) {
    match shared.store.partner_users_with_mail().await {
        Ok(users) => {
            for u in users {
                shared.pusher.schedule(shared, &u);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list pending mailboxes"),
    }
}
