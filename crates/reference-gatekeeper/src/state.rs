//! What every connection and HTTP handler shares: config, store, keys, the
//! online hub, partner JWKS, the pusher and the rate limiters.

use std::collections::HashSet;
use std::sync::Mutex;

use interop_proto::CapabilitySet;
use url::Url;

use crate::config::Config;
use crate::hub::Hub;
use crate::keys::ServerKeys;
use crate::partner_jwks::PartnerJwks;
use crate::push::Pusher;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub capabilities: CapabilitySet,
    pub store: Store,
    pub keys: ServerKeys,
    pub hub: Hub,
    pub jwks: PartnerJwks,
    pub pusher: Pusher,
    pub message_limit: RateLimiter,
    pub enlist_limit: RateLimiter,
    pub http: reqwest::Client,
    pub public_url: Url,
    /// Contact pairs already stored, to skip a write per message.
    pub known_contacts: Mutex<HashSet<(String, String)>>,
}

impl Shared {
    /// Records a contact pair once per process.
    pub async fn note_contact(&self, a: &str, b: &str) {
        let key = if a < b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) };
        let new = self.known_contacts.lock().unwrap_or_else(|p| p.into_inner()).insert(key);
        if new && let Err(e) = self.store.add_contact(a, b).await {
            tracing::warn!(error = %e, "could not record a contact");
        }
    }

    /// `{public_url}/{path}`.
    pub fn public(&self, path: &str) -> String {
        interop_proto::auth::join(&self.public_url, path)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| path.to_owned())
    }
}
