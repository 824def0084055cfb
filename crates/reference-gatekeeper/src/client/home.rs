//! The device's home directory (`--home` or `GK_HOME`).
//!
//! `device.json` holds the credentials, the Olm account and sessions (as a
//! vodozemac pickle encrypted under the key in `pickle.key`) and the
//! de-duplication state; both files are mode 0600. Received files go to
//! `files/`, and `gk listen` serves commands on `gk.sock`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use interop_proto::e2ee::{OlmEndpoint, PickleKey};
use interop_proto::transport::NoiseKeypair;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::ClientError;
use super::session::Persisted;
use crate::fsutil::write_secret;

/// Who this device is and where its gatekeeper lives.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// Native HTTP API base, e.g. `http://127.0.0.1:8480/`.
    pub server: String,
    /// Channel URL, e.g. `ws://127.0.0.1:8481/chat`.
    pub chat_url: String,
    /// The gatekeeper's Noise static key (pinned at registration), base64url.
    #[serde(default)]
    pub server_key: String,
    pub phone: String,
    pub user: String,
    /// Secret.
    pub token: String,
    /// Noise static private key, base64url. Secret.
    pub authkey: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn noise_keypair(&self) -> Result<NoiseKeypair, ClientError> {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&self.authkey)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| ClientError::Corrupt("authkey".into()))?;
        Ok(NoiseKeypair::from_private(bytes))
    }

    pub fn pinned_server_key(&self) -> Option<[u8; 32]> {
        URL_SAFE_NO_PAD.decode(&self.server_key).ok().and_then(|v| v.try_into().ok())
    }
}

#[derive(Serialize, Deserialize)]
struct DeviceFile {
    credentials: Credentials,
    e2ee: String,
    #[serde(default)]
    state: Persisted,
}

/// A device's directory.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("gk.sock")
    }

    pub fn files_dir(&self) -> PathBuf {
        self.dir.join("files")
    }

    fn device_path(&self) -> PathBuf {
        self.dir.join("device.json")
    }

    pub fn is_registered(&self) -> bool {
        self.device_path().exists()
    }

    fn pickle_key(&self) -> Result<PickleKey, ClientError> {
        let path = self.dir.join("pickle.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let bytes: [u8; 32] = URL_SAFE_NO_PAD
                .decode(text.trim())
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| ClientError::Corrupt("pickle.key".into()))?;
            return Ok(PickleKey::new(bytes));
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        write_secret(&path, URL_SAFE_NO_PAD.encode(bytes).as_bytes())?;
        Ok(PickleKey::new(bytes))
    }

    /// Reads the device: credentials, E2EE state and persisted session state.
    pub fn load(&self) -> Result<(Credentials, OlmEndpoint, Persisted), ClientError> {
        let text = std::fs::read_to_string(self.device_path())
            .map_err(|_| ClientError::NotRegistered(self.dir.display().to_string()))?;
        let file: DeviceFile =
            serde_json::from_str(&text).map_err(|e| ClientError::Corrupt(e.to_string()))?;
        let e2ee = OlmEndpoint::from_pickle(&file.e2ee, &self.pickle_key()?)?;
        Ok((file.credentials, e2ee, file.state))
    }

    /// Writes the device atomically (mode 0600).
    pub fn save(
        &self,
        creds: &Credentials,
        e2ee: &OlmEndpoint,
        state: &Persisted,
    ) -> Result<(), ClientError> {
        use interop_proto::e2ee::E2ee as _;
        std::fs::create_dir_all(&self.dir)?;
        let file = DeviceFile {
            credentials: creds.clone(),
            e2ee: e2ee.pickle(&self.pickle_key()?)?,
            state: state.clone(),
        };
        let json = serde_json::to_vec(&file).map_err(|e| ClientError::Corrupt(e.to_string()))?;
        write_secret(&self.device_path(), &json)?;
        Ok(())
    }
}
