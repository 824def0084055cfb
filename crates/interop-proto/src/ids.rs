//! Identifiers on the wire.
//!
//! The gatekeeper addresses everyone by its own opaque internal id; phone
//! numbers (E.164) only appear in reachability look-ups and native log-ins,
//! and partner user-visible ids (a Matrix ID for us) only in JWTs and push.
//! Validating them once here keeps garbage out of stores and logs.

use std::fmt;

/// Longest id accepted anywhere on the wire, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("identifier must be `local@domain` in printable ASCII without spaces")]
    Malformed,
    #[error("phone number must be E.164: `+` then 8 to 15 digits, first digit not 0")]
    NotE164,
}

/// A gatekeeper-internal user or group id, e.g. `1-10853634039893@interop`
/// (an enlisted partner user), `4915112345678@native` (a gatekeeper user) or
/// `g-42@group`.
///
/// Opaque to partners: compare it, store it, never parse meaning out of it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Checks the shape `local@domain`, printable ASCII, at most 128 bytes.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(IdError::TooLong);
        }
        let printable = s.bytes().all(|b| b.is_ascii_graphic());
        let mut parts = s.splitn(2, '@');
        let local = parts.next().unwrap_or_default();
        let domain = parts.next().unwrap_or_default();
        if !printable || local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(IdError::Malformed);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`: `interop`, `native`, `group` at the reference gatekeeper.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// A phone number in E.164 form, `+` followed by 8 to 15 digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts only the canonical form; callers normalise user input first.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let digits = s.strip_prefix('+').ok_or(IdError::NotE164)?;
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok { Ok(Self(s.to_owned())) } else { Err(IdError::NotE164) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`, as used in native ids (`<digits>@native`).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids() {
        assert!(UserId::parse("1-10853634039893@interop").is_ok());
        assert_eq!(UserId::parse("g-1@group").unwrap().domain(), "group");
        assert_eq!(UserId::parse(""), Err(IdError::Empty));
        assert_eq!(UserId::parse("nodomain"), Err(IdError::Malformed));
        assert_eq!(UserId::parse("a b@x"), Err(IdError::Malformed));
        assert_eq!(UserId::parse("a@b@c"), Err(IdError::Malformed));
        assert_eq!(UserId::parse(&"a".repeat(129)), Err(IdError::TooLong));
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(PhoneNumber::parse("+4915112345678").unwrap().digits(), "4915112345678");
        for bad in ["4915112345678", "+0123456789", "+49 151", "+1234567", "+1234567890123456"] {
            assert_eq!(PhoneNumber::parse(bad), Err(IdError::NotE164), "{bad}");
        }
    }
}
