//! The gatekeeper's own long-term keys: the Noise static key partners pin,
//! and the Ed25519 key that signs push and media tokens.
//!
//! Kept in `data_dir/server-keys.json` with mode 0600, created on first start,
//! so partners' pins and cached JWKS survive restarts.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interop_proto::auth::JwtSigner;
use interop_proto::transport::NoiseKeypair;
use serde::{Deserialize, Serialize};

use crate::fsutil;

pub struct ServerKeys {
    pub noise: NoiseKeypair,
    pub jwt: JwtSigner,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys").field("noise", &self.noise).field("jwt", &self.jwt).finish()
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    noise_private: String,
    jwt_kid: String,
    jwt_seed: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("server keys file: {0}")]
    Io(#[from] std::io::Error),
    #[error("server keys file is corrupt")]
    Corrupt,
}

fn key32(s: &str) -> Result<[u8; 32], KeysError> {
    URL_SAFE_NO_PAD.decode(s).ok().and_then(|v| v.try_into().ok()).ok_or(KeysError::Corrupt)
}

impl ServerKeys {
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeysError> {
        let path = data_dir.join("server-keys.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path)?;
            let s: Stored = serde_json::from_str(&text).map_err(|_| KeysError::Corrupt)?;
            return Ok(Self {
                noise: NoiseKeypair::from_private(key32(&s.noise_private)?),
                jwt: JwtSigner::from_seed(&s.jwt_kid, key32(&s.jwt_seed)?),
            });
        }
        let keys = Self { noise: NoiseKeypair::generate(), jwt: JwtSigner::generate("gk1") };
        let stored = Stored {
            noise_private: URL_SAFE_NO_PAD.encode(*keys.noise.private_bytes()),
            jwt_kid: keys.jwt.kid().to_owned(),
            jwt_seed: URL_SAFE_NO_PAD.encode(*keys.jwt.seed()),
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|_| KeysError::Corrupt)?;
        fsutil::write_secret(&path, &json)?;
        Ok(keys)
    }
}
