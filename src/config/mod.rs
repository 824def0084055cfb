//! The bridge's configuration: what an admin writes in `config.yaml`.
//!
//! Loading goes through [`check::check`], which reads the YAML loosely and reports *every*
//! problem with the key it belongs to, so `check-config` and `run` give the same, complete
//! answer instead of stopping at the first serde error.

mod check;
mod permissions;
pub mod registration;
mod template;

use std::path::{Path, PathBuf};

pub use check::{Problem, check};
pub use permissions::{PermissionLevel, Permissions};
pub use template::UsernameTemplate;

/// The placeholder the example config carries until `generate-registration` fills the secrets
/// (the appservice tokens and the gatekeeper pickle key).
pub const TOKEN_PLACEHOLDER: &str = "generate";

#[derive(Clone, Debug)]
pub struct Config {
    pub homeserver: HomeserverConfig,
    pub appservice: AppserviceConfig,
    pub database: DatabaseConfig,
    pub bridge: BridgeConfig,
    pub gatekeeper: GatekeeperConfig,
    pub logging: LoggingConfig,
}

#[derive(Clone, Debug)]
pub struct HomeserverConfig {
    /// Where the bridge reaches the homeserver's client-server API.
    pub address: String,
    /// The server name, the part after `:` in user ids.
    pub domain: String,
}

#[derive(Clone)]
pub struct AppserviceConfig {
    /// Where the homeserver reaches the bridge (goes into the registration's `url`).
    pub address: String,
    pub hostname: String,
    pub port: u16,
    pub id: String,
    pub bot: BotConfig,
    pub as_token: String,
    pub hs_token: String,
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for AppserviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are secrets; they must never appear in a log line.
        f.debug_struct("AppserviceConfig")
            .field("address", &self.address)
            .field("hostname", &self.hostname)
            .field("port", &self.port)
            .field("id", &self.id)
            .field("bot", &self.bot)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl AppserviceConfig {
    /// Whether `generate-registration` has filled in real tokens.
    pub fn tokens_generated(&self) -> bool {
        self.as_token != TOKEN_PLACEHOLDER && self.hs_token != TOKEN_PLACEHOLDER
    }
}

#[derive(Clone, Debug)]
pub struct BotConfig {
    pub username: String,
    pub displayname: String,
    /// An `mxc://` URI, or empty for no avatar.
    pub avatar: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    pub kind: DatabaseKind,
    /// A connection URI; for SQLite, relative paths are resolved against the config's folder.
    pub uri: String,
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PostgreSQL URI may hold a password.
        f.debug_struct("DatabaseConfig")
            .field("kind", &self.kind)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct BridgeConfig {
    pub username_template: UsernameTemplate,
    pub displayname_template: String,
    pub permissions: Permissions,
    /// Prefix for commands outside a management room, e.g. `!wa help`.
    pub command_prefix: String,
    /// Threads that run the bridge's work.
    pub worker_threads: usize,
}

#[derive(Clone)]
pub struct GatekeeperConfig {
    /// The gatekeeper's name as shown to users (e.g. "WhatsApp").
    pub network_name: String,
    /// The third-party protocol id offered to clients (e.g. `whatsapp`).
    pub protocol_id: String,
    /// The gatekeeper's HTTP API base URL; empty while no gatekeeper is configured.
    pub address: String,
    /// The gatekeeper's id: the `aud` of the tokens we sign for it.
    pub gatekeeper_id: String,
    /// Our partner id: the `iss` of the tokens we sign.
    pub partner_id: String,
    /// Where the gatekeeper reaches our partner endpoints (JWKS, push, media).
    pub partner_base: String,
    /// base64url of 32 bytes that encrypt the keys stored in the database, or the placeholder.
    pub pickle_key: String,
}

impl std::fmt::Debug for GatekeeperConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The pickle key unlocks every stored key; it must never appear in a log line.
        f.debug_struct("GatekeeperConfig")
            .field("network_name", &self.network_name)
            .field("protocol_id", &self.protocol_id)
            .field("address", &self.address)
            .field("gatekeeper_id", &self.gatekeeper_id)
            .field("partner_id", &self.partner_id)
            .field("partner_base", &self.partner_base)
            .finish_non_exhaustive()
    }
}

impl GatekeeperConfig {
    /// Whether `generate-registration` has filled in a real pickle key.
    pub fn pickle_key_generated(&self) -> bool {
        self.pickle_key != TOKEN_PLACEHOLDER
    }
}

/// The 32 bytes a `pickle_key` value stands for: exactly 43 characters of unpadded base64url.
pub fn decode_pickle_key(text: &str) -> Option<[u8; 32]> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
    bytes.try_into().ok()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct LoggingConfig {
    pub level: String,
    pub format: LogFormat,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} has {} problem(s):\n{}", problems.len(), render(problems))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

fn render(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        check(&text, base_dir)
            .map_err(|problems| ConfigError::Invalid { path: path.to_owned(), problems })
    }

    /// The bot's full user id, e.g. `@interopbot:example.org`.
    pub fn bot_user_id(&self) -> String {
        format!("@{}:{}", self.appservice.bot.username, self.homeserver.domain)
    }
}
