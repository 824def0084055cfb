//! Partners' JWKS, fetched from `{partner_base}/.well-known/jwks.json` and cached.
//!
//! A cached set is used for an hour; a token with an unknown `kid` triggers
//! one refetch (at most once a minute per partner), so a partner can rotate
//! keys by publishing the new one before signing with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use interop_proto::auth::{self, AuthError, Claims, Expected, JwkSet};
use tokio::sync::Mutex;

use crate::config::PartnerConfig;

const FRESH_FOR: Duration = Duration::from_secs(3600);
const REFETCH_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot fetch the partner's JWKS: {0}")]
    Fetch(String),
    #[error("{0}")]
    Token(#[from] AuthError),
}

impl JwksError {
    /// The enlistment refusal this error stands for: an expired token has its own reason.
    pub fn enlist_failure(&self) -> interop_proto::enlist::EnlistFailure {
        match self {
            Self::Token(e) if e.is_expired() => interop_proto::enlist::EnlistFailure::ExpiredToken,
            _ => interop_proto::enlist::EnlistFailure::BadToken,
        }
    }
}

struct Cached {
    set: JwkSet,
    fetched: Instant,
}

pub struct PartnerJwks {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for PartnerJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartnerJwks")
    }
}

impl PartnerJwks {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http, cache: Mutex::new(HashMap::new()) }
    }

    async fn fetch(&self, partner: &PartnerConfig) -> Result<JwkSet, JwksError> {
        let url = auth::jwks_url(&partner.base_url).map_err(|e| JwksError::Fetch(e.to_string()))?;
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        let set: JwkSet = resp.json().await.map_err(|e| JwksError::Fetch(e.to_string()))?;
        tracing::info!(partner = %partner.id, keys = set.keys.len(), "fetched partner JWKS");
        Ok(set)
    }

    /// Verifies a partner-signed token, fetching the partner's JWKS as needed.
    pub async fn verify(
        &self,
        partner: &PartnerConfig,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<Claims, JwksError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&partner.id) {
            let age = c.fetched.elapsed();
            match auth::verify(token, &c.set, expected) {
                Err(AuthError::UnknownKid(_)) if age >= REFETCH_AFTER => {}
                r if age < FRESH_FOR => return Ok(r?),
                _ => {}
            }
        }
        let set = self.fetch(partner).await?;
        let r = auth::verify(token, &set, expected);
        cache.insert(partner.id.clone(), Cached { set, fetched: Instant::now() });
        Ok(r?)
    }
}
