//! Errors the server answers with, as stanza errors on the channel.

use interop_proto::ErrorCode;
use interop_proto::stanza::StanzaError;

use crate::store::StoreError;

/// A refusal with the code the client sees.
#[derive(Debug, Clone)]
pub struct Refusal(pub StanzaError);

impl Refusal {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        Self(StanzaError::new(code, text))
    }

    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut e =
            StanzaError::new(ErrorCode::RateLimited, "rate_limited: too many messages; slow down");
        e.retry_after_ms = wait.as_millis().max(1) as u64;
        Self(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        Self::new(ErrorCode::Internal, "internal: storage failure")
    }
}
