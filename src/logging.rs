//! Log set-up: human-readable or JSON lines, at the level the config names.
//!
//! `RUST_LOG` overrides the config for debugging. Chatty dependencies are held at `warn` unless
//! asked for, and no part of the bridge logs tokens or keys (their types redact themselves).

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogFormat, LoggingConfig};

pub fn init(config: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},sqlx=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn,tower_http=warn",
            level = config.level
        ))
    });
    let builder = fmt().with_env_filter(filter).with_target(true);
    let result = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // A second init (e.g. in tests) keeps the first subscriber; that is fine.
    let _ = result;
}
