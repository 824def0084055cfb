//! What the bridge's fuzz targets share: capability sets from a byte, stand-ins for the store's
//! ghost look-ups, and the check that HTML is in the subset the converters promise.

use interop_proto::{Capability, CapabilitySet};
use ruma::{OwnedUserId, UserId};

/// A capability set: text always, the others by bit.
pub fn capabilities(bits: u8) -> CapabilitySet {
    let optional = [
        Capability::Media,
        Capability::Replies,
        Capability::Reactions,
        Capability::ReactionRevoke,
        Capability::Edits,
        Capability::Deletes,
        Capability::Typing,
        Capability::ReadReceipts,
    ];
    let chosen = optional.into_iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0);
    std::iter::once(Capability::Text).chain(chosen.map(|(_, c)| c)).collect()
}

/// The ghost look-up of the outgoing conversion: `@wa_<digits>:example.org` is a ghost.
pub fn ghost_id_of(user: &UserId) -> Option<String> {
    let digits = user.localpart().strip_prefix("wa_")?;
    let ours = user.server_name() == "example.org"
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit());
    ours.then(|| format!("{digits}@native"))
}

/// The ghost look-up of the incoming conversion: `<digits>@native` has a ghost, with a display
/// name that needs escaping.
pub fn ghost_of(remote: &str) -> Option<(OwnedUserId, String)> {
    let digits = remote.strip_suffix("@native")?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let user = UserId::parse(format!("@wa_{digits}:example.org")).ok()?;
    Some((user, format!("<b>Ann</b> & \"{digits}\"")))
}

/// Tags the converters may write (the protocol subset plus what Matrix output adds).
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "s",
    "del",
    "u",
    "code",
    "pre",
    "blockquote",
    "br",
    "p",
    "ul",
    "ol",
    "li",
    "a",
];

/// Panics unless every tag in `html` is an allowed one, with no attribute but a safe `href` on
/// `a` (and `start` on `ol`).
pub fn assert_subset_html(html: &str) {
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        let tag = &rest[at + 1..];
        let tag = tag.strip_prefix('/').unwrap_or(tag);
        let name_len = tag.bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
        let name = &tag[..name_len];
        assert!(TAGS.contains(&name), "tag {name:?} outside the subset in {html:?}");
        let after = &tag[name_len..];
        let end = match after.find('>') {
            Some(end) => end,
            None => panic!("unclosed tag in {html:?}"),
        };
        let attrs = &after[..end];
        if !attrs.is_empty() {
            let ok = match name {
                "a" => attrs
                    .strip_prefix(" href=\"")
                    .and_then(|v| v.strip_suffix('"'))
                    .is_some_and(|href| {
                        !href.contains('"')
                            && ["https://", "mailto:", "interop:user/"].iter().any(|s| {
                                href.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s))
                            })
                    }),
                "ol" => attrs
                    .strip_prefix(" start=\"")
                    .and_then(|v| v.strip_suffix('"'))
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())),
                _ => false,
            };
            assert!(ok, "attributes {attrs:?} on <{name}> in {html:?}");
        }
        rest = &after[end + 1..];
    }
}
