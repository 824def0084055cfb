//! What the gatekeeper says about itself at `GET {address}/v1/info`: where its chat channel is
//! and which Noise static key to expect there.
//!
//! The channel URL is not configured separately: the HTTPS API names it, so one address in the
//! config is enough. The server key learned here is pinned for the Noise handshake, so the
//! channel can only reach the party that answers the (TLS-protected) HTTPS API. The answer is
//! cached and refreshed now and then, or after a connection attempt failed.

use std::time::{Duration, Instant};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

/// Path of the info endpoint, relative to the gatekeeper's base URL.
pub const INFO_PATH: &str = "v1/info";
/// A cached answer older than this is fetched again before the next connection.
const FRESH_FOR: Duration = Duration::from_secs(600);

/// The members of `/v1/info` the connector uses (others are ignored).
#[derive(Debug, Clone, Deserialize)]
struct InfoBody {
    chat_url: String,
    #[serde(default)]
    server_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperInfo {
    /// `wss://…/chat` (or `ws://` on loopback).
    pub chat_url: String,
    /// The gatekeeper's Noise static key to pin, when it publishes one.
    pub server_key: Option<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the gatekeeper's info at {url}: {reason}")]
pub struct InfoError {
    url: String,
    reason: String,
}

#[derive(Debug, Default)]
pub struct InfoCache(Mutex<Option<(GatekeeperInfo, Instant)>>);

impl InfoCache {
    /// The info, fetched when there is none, it is old, or `refresh` asks for it. A failed
    /// refresh falls back to the cached answer.
    pub async fn get(
        &self,
        http: &reqwest::Client,
        address: &Url,
        refresh: bool,
    ) -> Result<GatekeeperInfo, InfoError> {
        let mut cached = self.0.lock().await;
        if let Some((info, at)) = cached.as_ref()
            && !refresh
            && at.elapsed() < FRESH_FOR
        {
            return Ok(info.clone());
        }
        match fetch(http, address).await {
            Ok(info) => {
                *cached = Some((info.clone(), Instant::now()));
                Ok(info)
            }
            Err(e) => match cached.as_ref() {
                Some((info, _)) => {
                    tracing::debug!(error = %e, "using the cached gatekeeper info");
                    Ok(info.clone())
                }
                None => Err(e),
            },
        }
    }
}

async fn fetch(http: &reqwest::Client, address: &Url) -> Result<GatekeeperInfo, InfoError> {
    let url = interop_proto::auth::join(address, INFO_PATH)
        .map_err(|e| InfoError { url: address.to_string(), reason: e.to_string() })?;
    let fail = |reason: String| InfoError { url: url.to_string(), reason };
    let body: InfoBody = http
        .get(url.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(e.to_string()))?
        .json()
        .await
        .map_err(|e| fail(e.to_string()))?;
    parse(body).map_err(fail)
}

fn parse(body: InfoBody) -> Result<GatekeeperInfo, String> {
    let chat = Url::parse(&body.chat_url).map_err(|e| format!("chat_url: {e}"))?;
    if !matches!(chat.scheme(), "ws" | "wss") {
        return Err(format!("chat_url {} is not a ws:// or wss:// URL", body.chat_url));
    }
    let server_key = match body.server_key.as_str() {
        "" => None,
        text => Some(
            URL_SAFE_NO_PAD
                .decode(text)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or("server_key is not 32 bytes of base64url")?,
        ),
    };
    Ok(GatekeeperInfo { chat_url: body.chat_url, server_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chat_url: &str, server_key: &str) -> InfoBody {
        InfoBody { chat_url: chat_url.into(), server_key: server_key.into() }
    }

    #[test]
    fn parses_and_checks_the_answer() {
        let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let info = parse(body("ws://127.0.0.1:8481/chat", &key)).unwrap();
        assert_eq!(info.server_key, Some([7u8; 32]));
        assert_eq!(parse(body("wss://gk.example/chat", "")).unwrap().server_key, None);
        assert!(parse(body("https://gk.example/chat", "")).is_err());
        assert!(parse(body("ws://gk.example/chat", "AAAA")).is_err());
        let json: InfoBody = serde_json::from_str(
            r#"{"gatekeeper_id":"g","chat_url":"ws://h/chat","server_key":"","future":1}"#,
        )
        .unwrap();
        assert_eq!(json.chat_url, "ws://h/chat");
    }
}
