//! How a gatekeeper-internal id becomes the id part of a ghost's Matrix user id, and back.
//!
//! Internal ids are opaque `local@domain` strings of printable ASCII, which Matrix localparts
//! cannot all hold. Most contacts are phone-number users (`<digits>@native` on the reference
//! gatekeeper), and they get the readable form users expect from Matrix bridges: their digits,
//! `@wa_4915112345678:example.org`. Every other id is escaped reversibly: `[a-z0-9._-]` stay,
//! anything else becomes `=` and two hex digits (`@` is `=40`), so the result never looks like
//! bare digits and never collides with a phone form.

/// The domain of phone-number users' internal ids.
pub const PHONE_USER_DOMAIN: &str = "native";

/// The internal id of the phone-number user with these digits (E.164 without `+`).
pub fn phone_remote_id(digits: &str) -> String {
    format!("{digits}@{PHONE_USER_DOMAIN}")
}

/// The E.164 digits of a phone-number user's internal id.
pub fn phone_digits(remote_id: &str) -> Option<&str> {
    let digits = remote_id.strip_suffix(PHONE_USER_DOMAIN)?.strip_suffix('@')?;
    is_phone_digits(digits).then_some(digits)
}

fn is_phone_digits(s: &str) -> bool {
    (7..=15).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
}

/// The id part of the ghost for `remote_id`, or `None` if it is not a valid internal id.
pub fn ghost_id_for(remote_id: &str) -> Option<String> {
    let valid = !remote_id.is_empty()
        && remote_id.len() <= 128
        && remote_id.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && remote_id.bytes().filter(|b| *b == b'@').count() == 1;
    if !valid {
        return None;
    }
    if let Some(digits) = phone_digits(remote_id) {
        return Some(digits.to_owned());
    }
    let mut out = String::with_capacity(remote_id.len() + 8);
    for b in remote_id.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02x}"));
        }
    }
    Some(out)
}

/// The internal id a ghost id part stands for; `None` for anything `ghost_id_for` never makes.
pub fn remote_id_for(ghost_id: &str) -> Option<String> {
    if is_phone_digits(ghost_id) {
        return Some(phone_remote_id(ghost_id));
    }
    let bytes = ghost_id.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = ghost_id.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let remote = String::from_utf8(out).ok()?;
    // Only the canonical encoding is accepted, so one remote id has exactly one ghost.
    (ghost_id_for(&remote).as_deref() == Some(ghost_id)).then_some(remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_users_get_their_digits() {
        assert_eq!(ghost_id_for("4915112345678@native").as_deref(), Some("4915112345678"));
        assert_eq!(remote_id_for("4915112345678").as_deref(), Some("4915112345678@native"));
    }

    #[test]
    fn other_ids_round_trip_escaped() {
        for id in ["1-10853634039893@interop", "Bob.X@elsewhere", "a=b@c", "0123456@native"] {
            let ghost = ghost_id_for(id).unwrap();
            assert!(
                ghost
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-".contains(&b))
            );
            assert_eq!(remote_id_for(&ghost).as_deref(), Some(id), "{ghost}");
        }
        assert_eq!(ghost_id_for("1-2@interop").as_deref(), Some("1-2=40interop"));
    }

    #[test]
    fn invalid_ids_and_non_canonical_ghosts_are_refused() {
        assert_eq!(ghost_id_for("no-at-sign"), None);
        assert_eq!(ghost_id_for("two@at@signs"), None);
        assert_eq!(ghost_id_for("space @x"), None);
        assert_eq!(remote_id_for("nonsense"), None);
        assert_eq!(remote_id_for("a=4"), None);
        assert_eq!(remote_id_for("a=41@b"), None); // '=41' is 'A' but '@' must be escaped
        assert_eq!(remote_id_for("4915112345678=40native"), None); // the phone form is canonical
    }
}
