//! The partner endpoints the gatekeeper calls on us, under `gatekeeper.partner_base`.
//!
//! For now that is the JWKS (interop protocol §3): the public half of our signing key, so the
//! gatekeeper can check the tokens we sign. It is public by design, so it sits outside the
//! hs_token check that guards the Application Service API.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use interop_proto::auth::{JWKS_PATH, JwkSet, JwtSigner};

use super::AppserviceState;

/// What the partner routes serve, and under which path.
#[derive(Clone, Debug)]
pub struct PartnerEndpoints {
    /// The path of `partner_base`, without a trailing `/` (e.g. `/_interop`, or empty).
    base_path: String,
    signer: Arc<JwtSigner>,
}

impl PartnerEndpoints {
    /// Endpoints for the public URL `partner_base` (only its path matters to the listener).
    pub fn new(partner_base: &str, signer: Arc<JwtSigner>) -> Result<Self, url::ParseError> {
        let url = url::Url::parse(partner_base)?;
        Ok(Self { base_path: url.path().trim_end_matches('/').to_owned(), signer })
    }

    /// The listener path of the JWKS, e.g. `/_interop/.well-known/jwks.json`.
    pub fn jwks_path(&self) -> String {
        format!("{}/{JWKS_PATH}", self.base_path)
    }
}

pub(super) fn router(partner: &PartnerEndpoints) -> Router<Arc<AppserviceState>> {
    Router::new().route(&partner.jwks_path(), get(jwks))
}

async fn jwks(State(state): State<Arc<AppserviceState>>) -> Json<JwkSet> {
    Json(state.partner.signer.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_path_follows_partner_base() {
        let signer = Arc::new(JwtSigner::generate("k"));
        let at = |base: &str| PartnerEndpoints::new(base, signer.clone()).unwrap().jwks_path();
        assert_eq!(at("http://127.0.0.1:29340/_interop"), "/_interop/.well-known/jwks.json");
        assert_eq!(at("https://bridge.example.org/x/y/"), "/x/y/.well-known/jwks.json");
        assert_eq!(at("https://bridge.example.org"), "/.well-known/jwks.json");
    }
}
