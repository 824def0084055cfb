//! Placeholders that carry mentions through text transforms.
//!
//! A mention's offset must point into the final text, but that text comes out of transforms
//! (`html_to_markup`, `markup_to_html`, HTML escaping) that know nothing of mentions. So each
//! mention is first swapped for a placeholder no transform touches (its index between the
//! noncharacters U+FDD0 and U+FDD1), and swapped back at the end, which yields its exact byte
//! range. Outside input has these characters removed first, so it cannot forge a placeholder.

use std::borrow::Cow;
use std::ops::Range;

const OPEN: char = '\u{FDD0}';
const CLOSE: char = '\u{FDD1}';

/// Whether `c` is reserved for placeholders (and so removed from outside input).
pub(crate) fn is_reserved(c: char) -> bool {
    c == OPEN || c == CLOSE
}

/// `text` without reserved characters.
pub(crate) fn strip(text: &str) -> Cow<'_, str> {
    if text.contains(is_reserved) {
        Cow::Owned(text.chars().filter(|c| !is_reserved(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// The placeholder for mention number `index`.
pub(crate) fn placeholder(index: usize) -> String {
    format!("{OPEN}{index}{CLOSE}")
}

/// Replaces each placeholder in `text` with `replacement(index)` (or nothing, for `None`) and
/// returns the new text and, per replaced placeholder, its index and the byte range it now spans.
pub(crate) fn fill(
    text: &str,
    mut replacement: impl FnMut(usize) -> Option<String>,
) -> (String, Vec<(usize, Range<usize>)>) {
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let digits = after.find(CLOSE).map(|end| &after[..end]);
        match digits.and_then(|d| d.parse::<usize>().ok().map(|i| (d.len(), i))) {
            Some((len, index)) => {
                if let Some(with) = replacement(index) {
                    let begin = out.len();
                    out.push_str(&with);
                    spans.push((index, begin..out.len()));
                }
                rest = &after[len + CLOSE.len_utf8()..];
            }
            // A stray marker (cannot come from outside input): drop it, keep the rest.
            None => rest = after,
        }
    }
    out.push_str(rest);
    (out.replace(CLOSE, ""), spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_reports_byte_ranges() {
        let text = format!("héllo {} and {}!", placeholder(0), placeholder(12));
        let (out, spans) =
            fill(&text, |i| Some(if i == 0 { "Ånna".into() } else { "Bob".into() }));
        assert_eq!(out, "héllo Ånna and Bob!");
        assert_eq!(spans, [(0, 7..12), (12, 17..20)]);
        assert_eq!(&out[7..12], "Ånna");
        assert_eq!(&out[17..20], "Bob");
    }

    #[test]
    fn none_drops_the_placeholder() {
        let (out, spans) = fill(&format!("a{}b", placeholder(3)), |_| None);
        assert_eq!((out.as_str(), spans.len()), ("ab", 0));
    }

    #[test]
    fn stray_markers_are_dropped() {
        let (out, spans) = fill("a\u{FDD0}x\u{FDD1}b\u{FDD0}", |_| Some("!".into()));
        assert_eq!((out.as_str(), spans.len()), ("axb", 0));
    }

    #[test]
    fn strip_removes_reserved_only() {
        assert_eq!(strip("a\u{FDD0}b\u{FDD1}c"), "abc");
        assert!(matches!(strip("plain ü"), Cow::Borrowed(_)));
    }
}
