//! Who may speak for whom: JWTs signed with Ed25519 and published as JWKS.
//!
//! Both directions use the same code. The partner signs tokens for its users
//! (enlistment, channel log-in) and publishes its keys at
//! `{partner_base}/.well-known/jwks.json`; the gatekeeper signs push and
//! media-fetch tokens and publishes at `{gatekeeper_base}/.well-known/jwks.json`.
//! Algorithm: `EdDSA` (Ed25519) only, via `jsonwebtoken`'s pure-Rust backend.

mod claims;
mod signer;
mod verify;

pub use claims::{Claims, Scope, authkey_thumbprint};
pub use jsonwebtoken::jwk::JwkSet;
pub use signer::JwtSigner;
pub use verify::{Expected, MAX_TOKEN_LIFETIME_SECS, verify};

use url::Url;

/// Where a party's JWKS lives, relative to its base URL.
pub const JWKS_PATH: &str = ".well-known/jwks.json";

/// `{base}/.well-known/jwks.json`, whether or not `base` ends in `/`.
pub fn jwks_url(base: &Url) -> Result<Url, url::ParseError> {
    join(base, JWKS_PATH)
}

/// Joins a relative path to a base URL treating the base as a directory.
pub fn join(base: &Url, path: &str) -> Result<Url, url::ParseError> {
    let mut b = base.clone();
    if !b.path().ends_with('/') {
        let p = format!("{}/", b.path());
        b.set_path(&p);
    }
    b.join(path.trim_start_matches('/'))
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("jwt: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("token has no `kid` header")]
    MissingKid,
    #[error("no key `{0}` in the issuer's JWKS")]
    UnknownKid(String),
    #[error("token scope is {got:?}, expected {expected:?}")]
    WrongScope { expected: Scope, got: Scope },
    #[error("token is not bound to this transport key")]
    AuthkeyMismatch,
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    #[error("invalid signing key")]
    BadKey,
}

impl AuthError {
    /// Whether the token was well-formed and signed but is past its `exp`.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Jwt(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature))
    }
}

#[cfg(test)]
mod tests;
