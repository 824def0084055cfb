//! The interop HTML subset (protocol §8.2), written out from a sanitised tree.
//!
//! Both directions need the same reduction: Matrix HTML going out may use anything the Matrix
//! spec allows, and HTML coming in from the gatekeeper is hostile. Either way only `b strong i em
//! s del u code pre blockquote br p ul ol li a[href]` may remain; everything else is dropped but
//! keeps its text. ruma's strict Matrix sanitiser does the dangerous part (script, style and
//! friends removed with their content, unknown elements unwrapped, `on*`/`style` attributes and
//! links with unlisted schemes such as `javascript:` dropped, reply fallbacks removed, nesting
//! bounded); this module then writes only the subset, with no attribute but `href`, and asks the
//! caller what each link becomes (kept, a mention, a pill, or plain text).

use ruma::html::{
    ElementAttributesSchemes, ListBehavior, NodeRef, PropertiesNames, SanitizerConfig,
};

use super::bounded_html::BoundedHtml;
use super::placeholder;

/// Elements nested deeper than this are cut (with their text) by the sanitiser, which also bounds
/// the recursion here. Real messages nest a handful of levels.
const MAX_DEPTH: u32 = 64;

/// What a link becomes, decided by the caller from its `href` and its text.
pub(crate) enum LinkAction {
    /// `<a href>` as it was (the caller has checked the scheme).
    Keep,
    /// Just its content.
    Text,
    /// Its content, then this plain text (e.g. ` (http://…)` for a scheme the subset lacks).
    TextThen(String),
    /// This HTML instead of the whole element (a mention link, a pill, a placeholder).
    Replace(String),
}

/// Reduces `html` to the interop subset. `link` gets each surviving link's `href` and its text
/// (whitespace collapsed) and says what to write for it.
pub(crate) fn to_subset(html: &str, link: &mut dyn FnMut(&str, &str) -> LinkAction) -> String {
    let schemes = [PropertiesNames { parent: "href", properties: &["interop", "matrix"] }];
    let config = SanitizerConfig::strict()
        .remove_reply_fallback()
        .remove_elements([
            "script", "style", "head", "title", "template", "noscript", "iframe", "object",
            "embed", "svg", "math", "select", "textarea",
        ])
        .allow_schemes([ElementAttributesSchemes { element: "a", attr_schemes: &schemes }], {
            ListBehavior::Add
        })
        .max_depth(MAX_DEPTH);
    let document = BoundedHtml::parse(&placeholder::strip(html), &config);
    let mut out = String::new();
    for child in document.children() {
        render(&child, &mut out, link);
    }
    out
}

/// Whether `href` may stay a link in the subset (`https`, `mailto`; mentions are the caller's).
pub(crate) fn is_subset_link(href: &str) -> bool {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("mailto:")
}

/// The usual answer for a link that is not a mention: kept when the subset allows its scheme,
/// otherwise its text followed by the address, unless the text already is the address.
pub(crate) fn plain_link(href: &str, text: &str) -> LinkAction {
    if is_subset_link(href) {
        LinkAction::Keep
    } else if href.is_empty() {
        LinkAction::Text
    } else if text.is_empty() {
        LinkAction::TextThen(href.to_owned())
    } else if text == href || href.strip_prefix("mailto:") == Some(text) {
        LinkAction::Text
    } else {
        LinkAction::TextThen(format!(" ({href})"))
    }
}

fn render(node: &NodeRef, out: &mut String, link: &mut dyn FnMut(&str, &str) -> LinkAction) {
    if let Some(text) = node.as_text() {
        out.push_str(&escape_text(&text.borrow()));
        return;
    }
    let Some(element) = node.as_element() else { return };
    let name: &str = &element.name.local;
    match name {
        "b" | "strong" | "i" | "em" | "s" | "del" | "u" | "code" | "pre" | "blockquote" | "p"
        | "ul" | "ol" | "li" => wrap(node, name, out, link),
        "br" => out.push_str("<br>"),
        "strike" => wrap(node, "s", out, link),
        "div" | "tr" => wrap(node, "p", out, link),
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            out.push_str("<p>");
            wrap(node, "strong", out, link);
            out.push_str("</p>");
        }
        "td" | "th" => {
            children(node, out, link);
            out.push(' ');
        }
        "img" => {
            // Custom emoji: their alt text (e.g. ":party:") is all a text-only client can show.
            let alt = attribute(node, "alt").or_else(|| attribute(node, "title"));
            out.push_str(&escape_text(&alt.unwrap_or_default()));
        }
        "a" => {
            let href = attribute(node, "href").unwrap_or_default();
            let href = placeholder::strip(&href);
            let text = collapsed_text(node);
            match link(&href, &text) {
                LinkAction::Keep if is_subset_link(&href) => {
                    out.push_str("<a href=\"");
                    out.push_str(&escape_attr(&href));
                    out.push_str("\">");
                    children(node, out, link);
                    out.push_str("</a>");
                }
                LinkAction::Keep | LinkAction::Text => children(node, out, link),
                LinkAction::TextThen(suffix) => {
                    children(node, out, link);
                    out.push_str(&escape_text(&suffix));
                }
                LinkAction::Replace(html) => out.push_str(&html),
            }
        }
        // Everything else (span, sup, details, table, font, unknown names, …): its text only.
        _ => children(node, out, link),
    }
}

fn wrap(
    node: &NodeRef,
    tag: &str,
    out: &mut String,
    link: &mut dyn FnMut(&str, &str) -> LinkAction,
) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    children(node, out, link);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

fn children(node: &NodeRef, out: &mut String, link: &mut dyn FnMut(&str, &str) -> LinkAction) {
    for child in node.children() {
        render(&child, out, link);
    }
}

fn attribute(node: &NodeRef, name: &str) -> Option<String> {
    let element = node.as_element()?;
    let attrs = element.attrs.borrow();
    attrs.iter().find(|a| &*a.name.local == name).map(|a| a.value.to_string())
}

/// The text below `node` as a reader sees it: whitespace runs collapsed, ends trimmed.
fn collapsed_text(node: &NodeRef) -> String {
    let mut raw = String::new();
    collect_text(node, &mut raw);
    let words: Vec<&str> = raw.split_whitespace().collect();
    placeholder::strip(&words.join(" ")).into_owned()
}

fn collect_text(node: &NodeRef, out: &mut String) {
    if let Some(text) = node.as_text() {
        out.push_str(&text.borrow());
    }
    for child in node.children() {
        collect_text(&child, out);
    }
}

/// Escapes text for an HTML text node, dropping placeholder characters.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if placeholder::is_reserved(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted attribute value.
pub(crate) fn escape_attr(value: &str) -> String {
    escape_text(value).replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subset(html: &str) -> String {
        to_subset(html, &mut plain_link)
    }

    #[test]
    fn keeps_the_subset_and_drops_attributes() {
        assert_eq!(
            subset("<b>b</b><strong>s</strong><i>i</i><em>e</em><s>s</s><del>d</del><u>u</u>"),
            "<b>b</b><strong>s</strong><i>i</i><em>e</em><s>s</s><del>d</del><u>u</u>"
        );
        assert_eq!(
            subset("<pre><code class=\"language-rust\">fn x() {\n  1 &lt; 2\n}</code></pre>"),
            "<pre><code>fn x() {\n  1 &lt; 2\n}</code></pre>"
        );
        assert_eq!(
            subset(
                "<blockquote><p>q</p></blockquote><ol start=\"3\"><li>a</li></ol><ul><li>b<br>c</li></ul>"
            ),
            "<blockquote><p>q</p></blockquote><ol><li>a</li></ol><ul><li>b<br>c</li></ul>"
        );
    }

    #[test]
    fn maps_or_unwraps_the_rest() {
        assert_eq!(subset("<h1>Title</h1>"), "<p><strong>Title</strong></p>");
        assert_eq!(subset("<strike>x</strike>"), "<s>x</s>");
        assert_eq!(subset("<div>a</div><div>b</div>"), "<p>a</p><p>b</p>");
        assert_eq!(
            subset(
                "<span data-mx-spoiler=\"\">secret</span> <sup>2</sup> <font color=\"red\">r</font>"
            ),
            "secret 2 r"
        );
        assert_eq!(subset("<img src=\"mxc://a/b\" alt=\":party:\">!"), ":party:!");
        assert_eq!(subset("<hr>after"), "after");
        assert_eq!(subset("<table><tr><td>a</td><td>b</td></tr></table>"), "<p>a b </p>");
    }

    #[test]
    fn links_by_scheme() {
        assert_eq!(
            subset("<a href=\"https://example.org/?a=1&amp;b=\">site</a>"),
            "<a href=\"https://example.org/?a=1&amp;b=\">site</a>"
        );
        assert_eq!(
            subset("<a href=\"mailto:a@b.example\">a@b.example</a>"),
            "<a href=\"mailto:a@b.example\">a@b.example</a>"
        );
        assert_eq!(subset("<a href=\"http://x.example\">x</a>"), "x (http://x.example)");
        assert_eq!(subset("<a href=\"http://x.example\">http://x.example</a>"), "http://x.example");
        assert_eq!(subset("<a href=\"javascript:alert(1)\">click</a>"), "click");
        assert_eq!(subset("<a href=\"JavaScript:alert(1)\">click</a>"), "click");
        assert_eq!(subset("<a href=\"data:text/html,x\">d</a>"), "d");
        assert_eq!(subset("<a href=\"vbscript:x\">v</a>"), "v");
        assert_eq!(subset("<a name=\"anchor\">n</a>"), "n");
        assert_eq!(subset("<a href=\"ftp://f.example/x\"></a>"), "ftp://f.example/x");
    }

    #[test]
    fn hostile_html_keeps_only_text() {
        assert_eq!(subset("<script>alert(1)</script>hi"), "hi");
        assert_eq!(subset("<style>p{}</style><p onclick=\"x()\" style=\"x\">ok</p>"), "<p>ok</p>");
        assert_eq!(subset("<iframe src=\"https://evil\">inner</iframe>x"), "x");
        assert_eq!(subset("<b onmouseover=\"x()\">b</b>"), "<b>b</b>");
        assert_eq!(subset("<svg><script>x</script></svg><math>m</math>t"), "t");
        assert_eq!(subset("<object data=\"x\">o</object><embed src=\"x\">e"), "e");
        assert_eq!(subset("<!-- comment -->c"), "c");
        assert_eq!(subset("<b>unclosed <i>nest"), "<b>unclosed <i>nest</i></b>");
        assert_eq!(subset("&lt;script&gt;"), "&lt;script&gt;");
        assert_eq!(
            subset("<a href=\"https://x\" title=\"t\" target=\"_blank\">x</a>"),
            "<a href=\"https://x\">x</a>"
        );
        assert_eq!(
            subset("<a href='https://x/\"onmouseover=\"y'>x</a>"),
            "<a href=\"https://x/&quot;onmouseover=&quot;y\">x</a>"
        );
    }

    #[test]
    fn reply_fallback_is_removed() {
        let html = "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:x/$e\">In reply to</a> \
                    <a href=\"https://matrix.to/#/@a:x\">@a:x</a><br>old</blockquote></mx-reply>new";
        assert_eq!(subset(html), "new");
    }

    #[test]
    fn deep_nesting_is_cut() {
        for tag in ["b", "div", "blockquote", "span", "x-unknown", "ul"] {
            let deep =
                format!("<{tag}>").repeat(20_000) + "deep" + &format!("</{tag}>").repeat(20_000);
            let out = subset(&deep);
            assert!(!out.contains("deep"), "{tag}");
            assert!(out.len() < 2_000, "{tag}: {}", out.len());
        }
    }

    #[test]
    fn huge_input_is_linear() {
        let big = "<p>word <b>bold</b> <a href=\"https://x.example\">x</a></p>".repeat(20_000);
        let started = std::time::Instant::now();
        let out = subset(&big);
        assert!(out.len() > big.len() / 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn placeholders_in_input_are_dropped() {
        let input = format!("a{}0{}b &#xFDD0;1&#xFDD1;", '\u{FDD0}', '\u{FDD1}');
        assert_eq!(subset(&input), "a0b 1");
    }

    #[test]
    fn link_callback_sees_href_and_text() {
        let mut seen = Vec::new();
        let out =
            to_subset("<a href=\"interop:user/7@native\"> Bob \n Smith </a>!", &mut |h, t| {
                seen.push((h.to_owned(), t.to_owned()));
                LinkAction::Replace("[m]".into())
            });
        assert_eq!(out, "[m]!");
        assert_eq!(seen, [("interop:user/7@native".to_owned(), "Bob Smith".to_owned())]);
    }
}
