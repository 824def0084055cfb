//! Checking a JWT against the issuer's JWKS.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{AuthError, Claims, Scope, authkey_thumbprint};

/// Longest accepted `exp - iat`: one day.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// What the verifier requires of a token.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub scope: Scope,
    /// If set, the token's `authkey` claim must match this Noise static key.
    pub authkey: Option<&'a [u8; 32]>,
}

/// Verifies signature (EdDSA only, key chosen by `kid`), `iss`, `aud`,
/// `exp` (60 s leeway), lifetime, `scope` and the authkey binding.
pub fn verify(token: &str, jwks: &JwkSet, expected: &Expected<'_>) -> Result<Claims, AuthError> {
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.ok_or(AuthError::MissingKid)?;
    let jwk = jwks.find(&kid).ok_or_else(|| AuthError::UnknownKid(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[expected.issuer]);
    v.set_audience(&[expected.audience]);
    v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    v.leeway = 60;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &v)?.claims;
    if claims.exp.saturating_sub(claims.iat) > MAX_TOKEN_LIFETIME_SECS {
        return Err(AuthError::LifetimeTooLong);
    }
    if claims.scope != expected.scope {
        return Err(AuthError::WrongScope { expected: expected.scope, got: claims.scope });
    }
    if let Some(k) = expected.authkey
        && claims.authkey.as_deref() != Some(authkey_thumbprint(k).as_str())
    {
        return Err(AuthError::AuthkeyMismatch);
    }
    Ok(claims)
}
