//! An Ed25519 JWT signing key and the JWKS entry that publishes it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{AuthError, Claims};

/// RFC 8410 PKCS#8 v1 prefix for an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Signs JWTs with one Ed25519 key named `kid`.
pub struct JwtSigner {
    kid: String,
    public: [u8; 32],
    seed: Zeroizing<[u8; 32]>,
    encoding: EncodingKey,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JwtSigner {{ kid: {:?}, public: {}, private: <redacted> }}",
            self.kid,
            crate::hex(&self.public)
        )
    }
}

impl JwtSigner {
    pub fn generate(kid: &str) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut());
        Self::from_seed(kid, *seed)
    }

    /// Restores a stored key from its 32-byte seed.
    pub fn from_seed(kid: &str, seed: [u8; 32]) -> Self {
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(&seed);
        Self {
            kid: kid.to_owned(),
            public,
            seed: Zeroizing::new(seed),
            encoding: EncodingKey::from_ed_der(&der),
        }
    }

    /// The seed, for storing the key (keep it secret).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        self.seed.clone()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs claims as `{"alg":"EdDSA","typ":"JWT","kid":…}`.
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// The public key as a JWK (`kty` OKP, `crv` Ed25519).
    pub fn jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(self.kid.clone()),
                ..Default::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(self.public),
            }),
        }
    }

    /// A JWKS holding this key (serve it as JSON at the JWKS URL).
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.jwk()] }
    }
}
