//! Error codes shared by every stanza that can fail.
//!
//! One numeric space (modelled on HTTP status codes so they read at a glance)
//! lets an `ack`, an `iq` result and a refused handshake all say *why* in the
//! same way, and lets an older peer fall back on the hundreds digit for a
//! code it does not know.

/// A wire error code. Unknown codes survive as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: malformed or semantically invalid stanza.
    BadRequest,
    /// 401: authentication failed or expired (bad JWT, wrong authkey).
    NotAuthorized,
    /// 403: the recipient blocked the sender, or the action is forbidden.
    Blocked,
    /// 404: unknown user, group or message.
    NotFound,
    /// 406: the native user has not opted in to third-party chats (or opted out).
    NotOptedIn,
    /// 409: the id was already used for a different stanza.
    Conflict,
    /// 410: the user was un-enlisted (e.g. after 30 days offline).
    Gone,
    /// 413: frame, message or media too large.
    TooLarge,
    /// 415: the gatekeeper does not offer this capability (see capabilities).
    Unsupported,
    /// 426: protocol version not supported.
    VersionUnsupported,
    /// 429: rate limited; `retry_after_ms` says when to try again.
    RateLimited,
    /// 500: internal error; retry later.
    Internal,
    /// 503: temporarily unavailable; retry later.
    Unavailable,
    /// Any other code, kept so it can be forwarded and logged.
    Other(u32),
}

impl ErrorCode {
    pub fn as_u32(self) -> u32 {
        match self {
            Self::BadRequest => 400,
            Self::NotAuthorized => 401,
            Self::Blocked => 403,
            Self::NotFound => 404,
            Self::NotOptedIn => 406,
            Self::Conflict => 409,
            Self::Gone => 410,
            Self::TooLarge => 413,
            Self::Unsupported => 415,
            Self::VersionUnsupported => 426,
            Self::RateLimited => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
            Self::Other(c) => c,
        }
    }

    pub fn from_u32(code: u32) -> Self {
        match code {
            400 => Self::BadRequest,
            401 => Self::NotAuthorized,
            403 => Self::Blocked,
            404 => Self::NotFound,
            406 => Self::NotOptedIn,
            409 => Self::Conflict,
            410 => Self::Gone,
            413 => Self::TooLarge,
            415 => Self::Unsupported,
            426 => Self::VersionUnsupported,
            429 => Self::RateLimited,
            500 => Self::Internal,
            503 => Self::Unavailable,
            c => Self::Other(c),
        }
    }

    /// Whether the same request may succeed later without change.
    pub fn is_transient(self) -> bool {
        let c = self.as_u32();
        c == 429 || (500..600).contains(&c)
    }

    /// Every named code, for documentation checks.
    pub const ALL: [ErrorCode; 13] = [
        Self::BadRequest,
        Self::NotAuthorized,
        Self::Blocked,
        Self::NotFound,
        Self::NotOptedIn,
        Self::Conflict,
        Self::Gone,
        Self::TooLarge,
        Self::Unsupported,
        Self::VersionUnsupported,
        Self::RateLimited,
        Self::Internal,
        Self::Unavailable,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u32(c.as_u32()), c);
        }
        assert_eq!(ErrorCode::from_u32(418), ErrorCode::Other(418));
        assert!(ErrorCode::RateLimited.is_transient());
        assert!(!ErrorCode::NotOptedIn.is_transient());
    }
}
