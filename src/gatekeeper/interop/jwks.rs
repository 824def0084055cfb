//! The gatekeeper's JWKS: the keys that sign the push and media tokens it sends us.
//!
//! Fetched from `{address}/.well-known/jwks.json` and cached for up to an hour; a token with an
//! unknown `kid` causes one refetch, at most once a minute, so the gatekeeper can rotate keys by
//! publishing the new one first (spec §3.3). A token is refused unless it verifies against it.

use std::time::{Duration, Instant};

use interop_proto::auth::{self, AuthError, Claims, Expected, JwkSet};
use tokio::sync::Mutex;
use url::Url;

const FRESH_FOR: Duration = Duration::from_secs(3600);
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// Why a gatekeeper token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is bad (signature, claims, scope, expiry, unknown key): answer 401.
    #[error("the token does not verify: {0}")]
    Invalid(#[from] AuthError),
    /// The gatekeeper's keys could not be fetched: answer 503 so it tries again.
    #[error("cannot fetch the gatekeeper's JWKS: {0}")]
    Unavailable(String),
}

#[derive(Debug)]
pub struct GatekeeperJwks {
    url: Option<Url>,
    cache: Mutex<Option<(JwkSet, Instant)>>,
}

impl GatekeeperJwks {
    pub fn new(address: &Url) -> Self {
        Self { url: auth::jwks_url(address).ok(), cache: Mutex::new(None) }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<JwkSet, TokenError> {
        let url = self.url.clone().ok_or_else(|| TokenError::Unavailable("no JWKS URL".into()))?;
        let set: JwkSet = http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::Unavailable(e.to_string()))?
            .json()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        tracing::info!(keys = set.keys.len(), "fetched the gatekeeper's JWKS");
        Ok(set)
    }

    /// Verifies a gatekeeper-signed token, fetching the JWKS as needed.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<Claims, TokenError> {
        let mut cache = self.cache.lock().await;
        if let Some((set, fetched)) = cache.as_ref() {
            let age = fetched.elapsed();
            match auth::verify(token, set, expected) {
                Err(AuthError::UnknownKid(_)) if age >= REFETCH_AFTER => {}
                result if age < FRESH_FOR => return Ok(result?),
                _ => {}
            }
        }
        let set = self.fetch(http).await?;
        let result = auth::verify(token, &set, expected);
        *cache = Some((set, Instant::now()));
        Ok(result?)
    }
}
