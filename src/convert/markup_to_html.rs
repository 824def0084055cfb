//! The gatekeeper's lightweight markup → Matrix HTML (`formatted_body`).
//!
//! Follows WhatsApp's rules: a style marker opens only at the start of a word and closes only
//! at the end of one, on the same line, around non-blank text; ```` ``` ```` fences a code
//! block; lines starting `> ` quote, `- `/`* ` bullet and `1. ` number. Everything else is text,
//! HTML-escaped. When the text has no markup at all, there is no HTML to send.

/// The HTML for `text`, or `None` when it is plain text.
pub fn markup_to_html(text: &str) -> Option<String> {
    let html = blocks(text);
    let plain = escape(text).replace('\n', "<br>");
    (html != plain).then_some(html)
}

enum Block<'a> {
    Paragraph(Vec<&'a str>),
    Code(Vec<&'a str>),
    Quote(Vec<&'a str>),
    Bullets(Vec<&'a str>),
    Numbered(u64, Vec<&'a str>),
}

fn blocks(text: &str) -> String {
    let mut out: Vec<Block> = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.trim_end() == "```" || (line.starts_with("```") && !line[3..].contains("```")) {
            // A fence: collect until the closing fence (or the end, if never closed).
            let mut code = Vec::new();
            let first = line[3..].trim_end();
            if !first.is_empty() {
                code.push(first);
            }
            let mut closed = false;
            for next in lines.by_ref() {
                if next.trim_end() == "```" {
                    closed = true;
                    break;
                }
                code.push(next);
            }
            if closed {
                out.push(Block::Code(code));
            } else {
                let mut paragraph = vec![line];
                paragraph.extend(code);
                out.push(Block::Paragraph(paragraph));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("> ").or(if line == ">" { Some("") } else { None }) {
            match out.last_mut() {
                Some(Block::Quote(quoted)) => quoted.push(rest),
                _ => out.push(Block::Quote(vec![rest])),
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            match out.last_mut() {
                Some(Block::Bullets(items)) => items.push(rest),
                _ => out.push(Block::Bullets(vec![rest])),
            }
            continue;
        }
        if let Some((number, rest)) = numbered(line) {
            match out.last_mut() {
                Some(Block::Numbered(_, items)) => items.push(rest),
                _ => out.push(Block::Numbered(number, vec![rest])),
            }
            continue;
        }
        match out.last_mut() {
            Some(Block::Paragraph(paragraph)) => paragraph.push(line),
            _ => out.push(Block::Paragraph(vec![line])),
        }
    }
    out.iter().map(render_block).collect()
}

fn numbered(line: &str) -> Option<(u64, &str)> {
    let (digits, rest) = line.split_once(". ")?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, rest))
}

fn render_block(block: &Block) -> String {
    match block {
        Block::Paragraph(lines) => lines.iter().map(|l| inline(l)).collect::<Vec<_>>().join("<br>"),
        Block::Code(lines) => format!("<pre><code>{}</code></pre>", escape(&lines.join("\n"))),
        Block::Quote(lines) => {
            format!("<blockquote>{}</blockquote>", blocks(&lines.join("\n")))
        }
        Block::Bullets(items) => {
            format!(
                "<ul>{}</ul>",
                items.iter().map(|i| format!("<li>{}</li>", inline(i))).collect::<String>()
            )
        }
        Block::Numbered(start, items) => {
            let start = if *start == 1 { String::new() } else { format!(" start=\"{start}\"") };
            format!(
                "<ol{start}>{}</ol>",
                items.iter().map(|i| format!("<li>{}</li>", inline(i))).collect::<String>()
            )
        }
    }
}

/// How deep styles may nest before markers are taken as plain text (bounds recursion).
const MAX_NESTING: usize = 8;
/// How far ahead a closing marker is looked for (bounds the work on hostile long lines).
const MAX_SPAN: usize = 1000;

/// Inline styles on one line.
fn inline(line: &str) -> String {
    inline_at(line, 0)
}

fn inline_at(line: &str, depth: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(tag) = tag_for(c).filter(|_| depth < MAX_NESTING && opens_at(&chars, i))
            && let Some(end) = closing(&chars, i, c)
        {
            let inner: String = chars[i + 1..end].iter().collect();
            let body = if c == '`' { escape(&inner) } else { inline_at(&inner, depth + 1) };
            out.push_str(&format!("<{tag}>{body}</{tag}>"));
            i = end + 1;
            continue;
        }
        out.push_str(&escape(&c.to_string()));
        i += 1;
    }
    out
}

fn tag_for(marker: char) -> Option<&'static str> {
    match marker {
        '*' => Some("strong"),
        '_' => Some("em"),
        '~' => Some("del"),
        '`' => Some("code"),
        _ => None,
    }
}

/// A marker opens at the start of a word: after nothing, a space or punctuation, before non-space.
fn opens_at(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !chars[i - 1].is_alphanumeric();
    let after_ok = chars.get(i + 1).is_some_and(|c| !c.is_whitespace() && *c != chars[i]);
    before_ok && after_ok
}

/// The index of the marker that closes the one at `open`, if any.
fn closing(chars: &[char], open: usize, marker: char) -> Option<usize> {
    (open + 2..chars.len().min(open + MAX_SPAN)).find(|&j| {
        chars[j] == marker
            && !chars[j - 1].is_whitespace()
            && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
    })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::markup_to_html;

    #[test]
    fn plain_text_needs_no_html() {
        assert_eq!(markup_to_html("hello there"), None);
        assert_eq!(markup_to_html("2 * 3 * 4 = 24"), None);
        assert_eq!(markup_to_html("snake_case_name"), None);
        assert_eq!(markup_to_html("two\nlines"), None);
    }

    #[test]
    fn inline_styles() {
        assert_eq!(
            markup_to_html("*bold* _it_ ~gone~ `x<y`").as_deref(),
            Some("<strong>bold</strong> <em>it</em> <del>gone</del> <code>x&lt;y</code>")
        );
        assert_eq!(markup_to_html("*_both_*").as_deref(), Some("<strong><em>both</em></strong>"));
        assert_eq!(markup_to_html("a *b c* d").as_deref(), Some("a <strong>b c</strong> d"));
        assert_eq!(markup_to_html("not* bold*"), None);
    }

    #[test]
    fn blocks() {
        assert_eq!(
            markup_to_html("```\nfn main() {}\n```").as_deref(),
            Some("<pre><code>fn main() {}</code></pre>")
        );
        assert_eq!(
            markup_to_html("> quoted\n> more\nafter").as_deref(),
            Some("<blockquote>quoted<br>more</blockquote>after")
        );
        assert_eq!(
            markup_to_html("- one\n- two").as_deref(),
            Some("<ul><li>one</li><li>two</li></ul>")
        );
        assert_eq!(
            markup_to_html("3. three\n4. four").as_deref(),
            Some("<ol start=\"3\"><li>three</li><li>four</li></ol>")
        );
    }

    #[test]
    fn html_in_text_is_escaped() {
        assert_eq!(
            markup_to_html("*<script>*").as_deref(),
            Some("<strong>&lt;script&gt;</strong>")
        );
    }

    #[test]
    fn hostile_lines_stay_cheap_and_shallow() {
        let nested = "*_~".repeat(20_000) + "x" + &"~_*".repeat(20_000);
        assert!(markup_to_html(&nested).is_some());
        let unmatched = "*a ".repeat(30_000);
        let started = std::time::Instant::now();
        let _ = markup_to_html(&unmatched);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn unclosed_fence_stays_text() {
        assert_eq!(markup_to_html("```\nnever closed"), None);
    }

    #[test]
    fn round_trip_through_matrix_html() {
        use super::super::html_to_markup::html_to_markup;
        for markup in [
            "*bold* and _it_",
            "> quote\n- a\n- b",
            "```\ncode  here\n```",
            "1. x\n2. y",
            "~gone~ `code`",
        ] {
            let html = markup_to_html(markup).unwrap();
            assert_eq!(html_to_markup(&html), markup, "via {html}");
        }
    }
}
