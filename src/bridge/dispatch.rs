//! Applies one stored piece of portal work: reads it and hands it to the direction it goes.
//!
//! An item that may have been started before (the bridge stopped while applying it, or it had
//! to wait; see [`super::queue`]) is a replay: its homeserver sends may have happened already,
//! and [`super::once`] looks for them before sending again.

use std::sync::Arc;

use ruma::UserId;

use super::{Bridge, portal, queue::Outcome, to_matrix, to_remote, work::PortalWork};
use crate::store::QueuedWork;

pub async fn apply(bridge: &Arc<Bridge>, item: &QueuedWork, replay: bool) -> Outcome {
    let work: PortalWork = match serde_json::from_str(&item.payload) {
        Ok(work) => work,
        Err(error) => {
            // Written by this bridge; unreadable means a format change. Keep the row, move on.
            tracing::error!(%error, seq = item.seq, "queued portal work is unreadable; skipped");
            return Outcome::Done;
        }
    };
    let Ok(owner) = UserId::parse(&item.owner) else {
        tracing::error!(seq = item.seq, "queued portal work has a damaged owner; skipped");
        return Outcome::Done;
    };
    let chat = item.remote_chat.as_str();
    match work {
        PortalWork::Open => to_matrix::open(bridge, &owner, chat, replay).await,
        PortalWork::Matrix { event } => match portal::find(bridge, &owner, chat).await {
            Ok(Some(portal)) => to_remote::apply(bridge, item, &portal, &event, replay).await,
            Ok(None) => Outcome::Done,
            Err(error) => Outcome::Later(error.to_string()),
        },
        PortalWork::RemoteMessage { from, id, content, .. } => {
            let content = PortalWork::decode_content(&content);
            to_matrix::message(bridge, item, &owner, &from, &id, content, replay).await
        }
        PortalWork::RemoteUndecryptable { from, id, .. } => {
            to_matrix::undecryptable(bridge, item, &owner, &from, &id, replay).await
        }
        PortalWork::RemoteReceipt { ids, read, .. } => {
            to_matrix::receipt(bridge, item, &owner, &ids, read).await
        }
        PortalWork::IdentityChanged { .. } => {
            to_matrix::identity_changed(bridge, &owner, chat, &item.dedupe_key, replay).await
        }
    }
}
