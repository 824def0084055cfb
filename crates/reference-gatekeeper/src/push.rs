//! Waking partner users: `POST {partner_base}/push` with a gatekeeper-signed JWT.
//!
//! Queued when a stanza lands in the mailbox of a partner user without a
//! channel; at most one push per user per `min_interval`, retried with
//! doubling backoff until the partner answers or the user connects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop_proto::auth::{self, Claims, Scope};
use interop_proto::push::{PUSH_PATH, PushRequest};

use crate::state::Shared;

#[derive(Debug, Default)]
pub struct Pusher {
    last: Mutex<HashMap<String, Instant>>,
}

impl Pusher {
    /// Schedules a push for a partner user unless one was sent recently.
    pub fn schedule(&self, shared: &Arc<Shared>, user: &str) {
        let interval = Duration::from_secs(shared.config.push.min_interval_secs);
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.get(user).is_some_and(|t| t.elapsed() < interval) {
                return;
            }
            last.insert(user.to_owned(), Instant::now());
        }
        let shared = shared.clone();
        let user = user.to_owned();
        tokio::spawn(async move { push_with_retries(&shared, &user).await });
    }
}

async fn push_with_retries(shared: &Shared, user: &str) {
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=shared.config.push.max_attempts.max(1) {
        if shared.hub.is_online(user) {
            return;
        }
        match push_once(shared, user).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::info!(%user, "partner refused the push; not retrying");
                return;
            }
            Err(e) => tracing::warn!(%user, attempt, error = %e, "push failed"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(300));
    }
}

/// One attempt: `Ok(true)` delivered, `Ok(false)` refused for good, `Err` retry.
async fn push_once(shared: &Shared, user: &str) -> Result<bool, String> {
    let row = shared.store.user(user).await.map_err(|e| e.to_string())?;
    let Some(row) = row else { return Ok(false) };
    let (Some(partner_id), Some(visible)) = (row.partner.as_deref(), row.visible_id.as_deref())
    else {
        return Ok(false);
    };
    let Some(partner) = shared.config.partner(partner_id) else { return Ok(false) };
    let (pending, _) = shared.store.mailbox_status(user).await.map_err(|e| e.to_string())?;
    let claims = Claims::new(&shared.config.gatekeeper_id, visible, partner_id, Scope::Push, 300);
    let token = shared.keys.jwt.sign(&claims).map_err(|e| e.to_string())?;
    let url = auth::join(&partner.base_url, PUSH_PATH).map_err(|e| e.to_string())?;
    let resp = shared
        .http
        .post(url)
        .bearer_auth(token)
        .json(&PushRequest { to: visible.to_owned(), pending })
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    tracing::debug!(%user, %status, "push answered");
    if status.is_success() {
        Ok(true)
    } else if status.is_client_error() && status.as_u16() != 429 {
        Ok(false)
    } else {
        Err(format!("partner answered {status}"))
    }
}
