//! Turning the gatekeeper's refusals into [`GatekeeperError`]s a user can be told about.
//!
//! Refusals arrive as a `StanzaError` (an `ack`, an `iq` answer, a key bundle) whose code
//! follows HTTP's meaning (spec §6). Codes we do not know are read by their hundreds digit.

use interop_proto::ErrorCode;
use interop_proto::stanza::StanzaError;

use crate::gatekeeper::GatekeeperError;

/// The error for a refusal about `subject` (a contact id or phone number).
pub(crate) fn refusal(error: &StanzaError, subject: &str) -> GatekeeperError {
    match error.error_code() {
        ErrorCode::NotOptedIn => GatekeeperError::NotOptedIn(subject.to_owned()),
        ErrorCode::Blocked => GatekeeperError::Blocked(subject.to_owned()),
        ErrorCode::NotFound => GatekeeperError::UnknownUser(subject.to_owned()),
        ErrorCode::TooLarge => GatekeeperError::TooLarge(error.text.clone()),
        ErrorCode::Unsupported => GatekeeperError::Unsupported("this kind of message"),
        ErrorCode::RateLimited => {
            GatekeeperError::RateLimited { retry_after_ms: error.retry_after_ms.max(1000) }
        }
        ErrorCode::Gone | ErrorCode::NotAuthorized => {
            GatekeeperError::LoggedOut(error.text.clone())
        }
        code if code.is_transient() => GatekeeperError::Disconnected(format!(
            "the gatekeeper is busy ({} {}); try again later",
            error.code, error.text
        )),
        _ => {
            GatekeeperError::Other(format!("the gatekeeper refused: {} {}", error.code, error.text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_user_is_told() {
        let e = |code: ErrorCode| refusal(&StanzaError::new(code, "why"), "+4915112345678");
        assert!(
            matches!(e(ErrorCode::NotOptedIn), GatekeeperError::NotOptedIn(s) if s == "+4915112345678")
        );
        assert!(matches!(e(ErrorCode::Blocked), GatekeeperError::Blocked(_)));
        assert!(matches!(e(ErrorCode::NotFound), GatekeeperError::UnknownUser(_)));
        assert!(matches!(e(ErrorCode::TooLarge), GatekeeperError::TooLarge(t) if t == "why"));
        assert!(matches!(e(ErrorCode::Unsupported), GatekeeperError::Unsupported(_)));
        assert!(matches!(e(ErrorCode::Gone), GatekeeperError::LoggedOut(_)));
        assert!(matches!(e(ErrorCode::Unavailable), GatekeeperError::Disconnected(_)));
        assert!(matches!(e(ErrorCode::Other(418)), GatekeeperError::Other(_)));
        let mut limited = StanzaError::new(ErrorCode::RateLimited, "slow down");
        limited.retry_after_ms = 2500;
        assert!(matches!(
            refusal(&limited, "x"),
            GatekeeperError::RateLimited { retry_after_ms: 2500 }
        ));
    }
}
