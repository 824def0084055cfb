//! Push: the gatekeeper wakes a partner user whose channel is closed.
//!
//! `POST {partner_base}/push` with `Authorization: Bearer <JWT>` signed by the
//! gatekeeper (scope `push`, `sub` = the user-visible id, verified against
//! the gatekeeper's JWKS) and a JSON [`PushRequest`]. The partner answers
//! 2xx and then opens the user's channel to drain the mailbox.

use serde::{Deserialize, Serialize};

/// Path of the push endpoint, relative to the partner base URL.
pub const PUSH_PATH: &str = "push";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The partner user-visible id to wake (e.g. `@alice:example.org`).
    pub to: String,
    /// Stanzas waiting in the mailbox (a hint; 0 if unknown).
    #[serde(default)]
    pub pending: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_body_parses() {
        let p: PushRequest =
            serde_json::from_str(r#"{"to":"@alice:example.org","future":1}"#).unwrap();
        assert_eq!(p, PushRequest { to: "@alice:example.org".into(), pending: 0 });
    }
}
