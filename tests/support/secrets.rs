//! Checks that a bridge's log holds none of its secrets: the appservice tokens, the pickle key,
//! and what the pickle key stands for (its bytes, and the key derived from it for Olm pickles),
//! in every encoding a log line would use.

use super::Bridge;

/// Fails if the log of `bridge` contains any of its configured secrets.
pub fn assert_none_in_log(bridge: &Bridge) -> anyhow::Result<()> {
    let log = bridge.log();
    for secret in ["as_token", "hs_token", "pickle_key"] {
        let value = bridge.config_value(secret)?;
        anyhow::ensure!(!log.contains(&value), "{secret} leaked into the log");
    }
    let pickle = bridge.config_value("pickle_key")?;
    let pickle = interop_bridge::config::decode_pickle_key(&pickle)
        .ok_or_else(|| anyhow::anyhow!("pickle_key is not a key"))?;
    let olm = derived(&pickle, "olm-pickle");
    for (name, bytes) in [("pickle key", pickle), ("Olm pickle key", olm)] {
        for shown in encodings(&bytes) {
            anyhow::ensure!(!log.contains(&shown), "the {name} leaked into the log as {shown}");
        }
    }
    Ok(())
}

/// `StorageKey::derive(label)`: SHA-256 over a purpose label and the pickle key.
fn derived(key: &[u8; 32], label: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"interop-bridge/derive/");
    hash.update(label.as_bytes());
    hash.update([0u8]);
    hash.update(key);
    hash.finalize().into()
}

/// How 32 secret bytes could show up in a log line.
fn encodings(bytes: &[u8; 32]) -> Vec<String> {
    use base64::{Engine as _, engine::general_purpose};
    vec![
        bytes.iter().map(|b| format!("{b:02x}")).collect(),
        bytes.iter().map(|b| format!("{b:02X}")).collect(),
        general_purpose::STANDARD.encode(bytes),
        general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        format!("{bytes:?}"),
    ]
}
