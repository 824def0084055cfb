//! The server's configuration: YAML file plus command-line overrides.
//!
//! Every setting has a default, so a test can build a [`Config`] in code and
//! an operator can start from `gatekeeper.example.yaml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interop_proto::{Capability, CapabilitySet};
use serde::{Deserialize, Serialize};
use url::Url;

/// Which gatekeeper the server plays: decides the capability set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// No edits or deletes (WhatsApp's first offer).
    Whatsapp,
    /// Edits and deletes allowed.
    Messenger,
}

impl Profile {
    pub fn capabilities(self) -> CapabilitySet {
        let mut set: CapabilitySet = [
            Capability::Text,
            Capability::Media,
            Capability::Replies,
            Capability::Reactions,
            Capability::ReactionRevoke,
            Capability::ReadReceipts,
            Capability::Typing,
            Capability::Groups,
            Capability::Reachability,
        ]
        .into_iter()
        .collect();
        if self == Self::Messenger {
            set.insert(Capability::Edits);
            set.insert(Capability::Deletes);
        }
        set
    }
}

/// A partner allowed to enlist users.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerConfig {
    /// The partner id (its JWT `iss`), e.g. `example.org`.
    pub id: String,
    /// Its base URL: JWKS at `{base}/.well-known/jwks.json`, push at `{base}/push`,
    /// media at `{base}/{storage_reference}`.
    pub base_url: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Messages (and receipts) per second per sender.
    pub messages_per_sec: f64,
    /// Short bursts above the rate.
    pub burst: f64,
    /// Enlistments per second per partner.
    pub enlist_per_sec: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self { messages_per_sec: 20.0, burst: 40.0, enlist_per_sec: 5.0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// At most one push per user per this many seconds.
    pub min_interval_secs: u64,
    /// Attempts per push before giving up (backoff doubles from 1 s).
    pub max_attempts: u32,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self { min_interval_secs: 30, max_attempts: 6 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// trace, debug, info, warn or error; RUST_LOG overrides it.
    pub level: String,
    /// `pretty` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: "pretty".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This gatekeeper's id: `aud` of partner tokens, `iss` of its own.
    pub gatekeeper_id: String,
    pub profile: Profile,
    /// HTTP API (enlistment, registration, media, JWKS).
    pub listen: SocketAddr,
    /// Chat channel (WebSocket + Noise).
    pub chat_listen: SocketAddr,
    /// The HTTP API's public base URL, for media URLs; default `http://{listen}`.
    pub public_url: Option<Url>,
    /// The channel URL as clients reach it; default `ws://{chat_listen}/chat`.
    pub public_chat_url: Option<String>,
    /// Database, server keys and media blobs.
    pub data_dir: PathBuf,
    /// How long queued stanzas wait in a mailbox.
    pub mailbox_ttl_days: u64,
    pub max_frame_size: u32,
    pub keepalive_secs: u32,
    /// Largest media blob accepted, bytes.
    pub max_media_bytes: u64,
    /// Allow anyone to register a native user (there is no SMS check).
    pub open_registration: bool,
    pub rate_limit: RateLimitConfig,
    pub push: PushConfig,
    pub partners: Vec<PartnerConfig>,
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            gatekeeper_id: "gatekeeper.example".into(),
            profile: Profile::Whatsapp,
            listen: SocketAddr::from(([127, 0, 0, 1], 8480)),
            chat_listen: SocketAddr::from(([127, 0, 0, 1], 8481)),
            public_url: None,
            public_chat_url: None,
            data_dir: PathBuf::from("gatekeeper-data"),
            mailbox_ttl_days: 30,
            max_frame_size: interop_proto::DEFAULT_MAX_FRAME_SIZE as u32,
            keepalive_secs: 20,
            max_media_bytes: 100 * 1024 * 1024,
            open_registration: true,
            rate_limit: RateLimitConfig::default(),
            push: PushConfig::default(),
            partners: Vec::new(),
            log: LogConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut cfg: Config = serde_saphyr::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        // A relative data_dir is next to the config file.
        if cfg.data_dir.is_relative()
            && let Some(dir) = path.parent()
        {
            cfg.data_dir = dir.join(&cfg.data_dir);
        }
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.gatekeeper_id.is_empty() {
            return Err(ConfigError::Invalid("gatekeeper_id is empty".into()));
        }
        if self.rate_limit.messages_per_sec <= 0.0 || self.rate_limit.burst < 1.0 {
            return Err(ConfigError::Invalid("rate_limit must be positive".into()));
        }
        if self.keepalive_secs == 0 || self.mailbox_ttl_days == 0 {
            return Err(ConfigError::Invalid(
                "keepalive_secs and mailbox_ttl_days must be > 0".into(),
            ));
        }
        let mut ids: Vec<&str> = self.partners.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.partners.len() {
            return Err(ConfigError::Invalid("duplicate partner id".into()));
        }
        Ok(())
    }

    pub fn public_url(&self) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://{}/", self.listen)).unwrap_or_else(|_| {
                Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("static URL"))
            })
        })
    }

    pub fn chat_url(&self) -> String {
        self.public_chat_url.clone().unwrap_or_else(|| format!("ws://{}/chat", self.chat_listen))
    }

    pub fn partner(&self, id: &str) -> Option<&PartnerConfig> {
        self.partners.iter().find(|p| p.id == id)
    }

    pub fn mailbox_ttl(&self) -> Duration {
        Duration::from_secs(self.mailbox_ttl_days * 86400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gatekeeper.example.yaml");
        let cfg = Config::load(&path).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.partners.len(), 1);
    }

    #[test]
    fn profiles_differ_in_edits_and_deletes() {
        let wa = Profile::Whatsapp.capabilities();
        let ms = Profile::Messenger.capabilities();
        assert!(!wa.contains(&Capability::Edits) && !wa.contains(&Capability::Deletes));
        assert!(ms.contains(&Capability::Edits) && ms.contains(&Capability::Deletes));
        for c in
            [Capability::Media, Capability::ReadReceipts, Capability::Typing, Capability::Groups]
        {
            assert!(wa.contains(&c) && ms.contains(&c));
        }
    }
}
