//! Whether a Matrix reaction key is a single emoji.
//!
//! Matrix reaction keys are free text ("+1", "lol", custom-emoji `mxc://` URIs), but the
//! protocol carries one emoji grapheme (§8.2) and gatekeeper clients show nothing else. Rather
//! than pull in full grapheme segmentation and the emoji property tables, this accepts the shapes
//! emoji take: one pictographic character, optionally followed by a variation selector,
//! skin-tone modifier or tag characters (subdivision flags), possibly joined to more such
//! characters by ZWJ (families, professions); a pair of regional indicators (country flags); or a
//! keycap (`1️⃣`, `#️⃣`).

/// Longest key accepted, in bytes; the longest real emoji sequences are about 35.
const MAX_LEN: usize = 64;
const ZWJ: char = '\u{200D}';
const KEYCAP: char = '\u{20E3}';

/// Whether `key` is one emoji.
pub(crate) fn is_single_emoji(key: &str) -> bool {
    if key.is_empty() || key.len() > MAX_LEN {
        return false;
    }
    let chars: Vec<char> = key.chars().collect();
    if chars.len() == 2 && chars.iter().all(|c| is_regional_indicator(*c)) {
        return true;
    }
    if let [base, rest @ ..] = chars.as_slice()
        && matches!(base, '0'..='9' | '#' | '*')
    {
        return matches!(rest, [KEYCAP] | ['\u{FE0F}', KEYCAP]);
    }
    let mut expect_base = true;
    for c in chars {
        if expect_base {
            if !is_pictographic(c) {
                return false;
            }
            expect_base = false;
        } else if c == ZWJ {
            expect_base = true;
        } else if !is_modifier(c) {
            return false;
        }
    }
    !expect_base
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Characters that follow a base inside one emoji.
fn is_modifier(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | KEYCAP | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
}

/// Characters that can be an emoji on their own (the blocks `Extended_Pictographic` covers).
fn is_pictographic(c: char) -> bool {
    matches!(
        c,
        '\u{A9}' | '\u{AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}'
            | '\u{2194}'..='\u{21AA}'
            | '\u{231A}'..='\u{23FF}'
            | '\u{24C2}'
            | '\u{25AA}'..='\u{25FE}'
            | '\u{2600}'..='\u{27BF}'
            | '\u{2934}'..='\u{2935}'
            | '\u{2B05}'..='\u{2B55}'
            | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}'
            | '\u{1F000}'..='\u{1F1E5}'
            | '\u{1F200}'..='\u{1F3FA}'
            | '\u{1F400}'..='\u{1FAFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::is_single_emoji;

    #[test]
    fn accepts_emoji_shapes() {
        for key in [
            "👍",
            "👍🏽",
            "❤️",
            "❤",
            "😂",
            "🇩🇪",
            "1️⃣",
            "#⃣",
            "👨‍👩‍👧‍👦",
            "🧑🏾‍💻",
            "🏳️‍🌈",
            "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "☺️",
            "✅",
            "©️",
        ] {
            assert!(is_single_emoji(key), "{key:?}");
        }
    }

    #[test]
    fn refuses_text_and_sequences() {
        for key in [
            "",
            "+1",
            "lol",
            "a",
            "é",
            "👍👍",
            "👍 ",
            " 👍",
            "🇩",
            "🇩🇪🇫🇷",
            "1",
            "11️⃣",
            "👍\u{200D}",
            "\u{200D}👍",
            "🏽",
            "mxc://hs/emote",
            "👍x",
            "\u{FE0F}",
        ] {
            assert!(!is_single_emoji(key), "{key:?}");
        }
        assert!(!is_single_emoji(&"👍\u{FE0F}".repeat(20)));
    }
}
