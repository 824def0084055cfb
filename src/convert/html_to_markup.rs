//! Matrix HTML (`formatted_body`) → the gatekeeper's lightweight markup.
//!
//! WhatsApp-style markup is what the gatekeeper's users see: `*bold*`, `_italic_`, `~strike~`,
//! `` `code` ``, ```` ``` ```` blocks, `> ` quotes and `- ` / `1. ` lists. The HTML is first
//! sanitised with ruma's strict Matrix sanitiser (scripts, styles and unknown tags go, reply
//! fallbacks are stripped, depth is bounded), then walked once. Anything without a markup
//! equivalent keeps its text.

use ruma::html::{NodeRef, SanitizerConfig};

use super::bounded_html::BoundedHtml;

/// Deeper HTML than this is cut by the sanitiser, so hostile nesting cannot exhaust the stack.
const MAX_DEPTH: u32 = 64;

/// Converts a Matrix `formatted_body` to markup text.
pub fn html_to_markup(html: &str) -> String {
    let config = SanitizerConfig::strict()
        .remove_reply_fallback()
        .remove_elements([
            "script", "style", "head", "title", "template", "noscript", "iframe", "object",
        ])
        .max_depth(MAX_DEPTH);
    let document = BoundedHtml::parse(html, &config);
    let mut out = String::new();
    for child in document.children() {
        render(&child, &mut out, false);
    }
    tidy(&out)
}

/// Renders one node into `out`; `pre` keeps whitespace as it is.
fn render(node: &NodeRef, out: &mut String, pre: bool) {
    if let Some(text) = node.as_text() {
        push_text(out, &text.borrow(), pre);
        return;
    }
    let Some(element) = node.as_element() else { return };
    let name: &str = &element.name.local;
    match name {
        // Never shown, whatever the sanitiser left.
        "script" | "style" | "head" | "title" | "template" => {}
        "b" | "strong" => wrap_inline(node, out, "*"),
        "i" | "em" => wrap_inline(node, out, "_"),
        "s" | "del" | "strike" => wrap_inline(node, out, "~"),
        "code" if !pre => {
            let inner = text_of(node);
            if !inner.is_empty() {
                out.push('`');
                out.push_str(&inner);
                out.push('`');
            }
        }
        "pre" => {
            start_block(out);
            let code = text_of(node);
            out.push_str("```\n");
            out.push_str(code.trim_end_matches('\n'));
            out.push_str("\n```");
            end_block(out);
        }
        "br" => out.push('\n'),
        "hr" => {
            start_block(out);
            out.push_str("---");
            end_block(out);
        }
        "p" | "div" => {
            start_block(out);
            children(node, out, pre);
            end_block(out);
        }
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            start_block(out);
            wrap_inline(node, out, "*");
            end_block(out);
        }
        "blockquote" => {
            start_block(out);
            let mut inner = String::new();
            children(node, &mut inner, pre);
            let inner = tidy(&inner);
            let quoted: Vec<String> =
                inner.lines().map(|l| format!("> {l}").trim_end().to_owned()).collect();
            out.push_str(&quoted.join("\n"));
            end_block(out);
        }
        "ul" | "ol" => {
            start_block(out);
            render_list(node, out, name == "ol", pre);
            end_block(out);
        }
        "a" => render_link(node, out, pre),
        "img" => {
            // Custom emotes: keep their alt text (e.g. ":party:").
            let alt = attribute(node, "alt").or_else(|| attribute(node, "title"));
            out.push_str(&alt.unwrap_or_default());
        }
        _ => children(node, out, pre),
    }
}

fn children(node: &NodeRef, out: &mut String, pre: bool) {
    for child in node.children() {
        render(&child, out, pre);
    }
}

/// `*inner*`, with surrounding spaces moved outside the markers (markup needs them adjacent).
fn wrap_inline(node: &NodeRef, out: &mut String, marker: &str) {
    // Rendered after a placeholder letter, so a leading space inside the tag is kept as a word
    // break (`a<b> b</b>` → `a *b*`), then the placeholder is dropped.
    let mut inner = String::from("x");
    children(node, &mut inner, false);
    let inner = &inner[1..];
    let core = inner.trim();
    if core.is_empty() {
        out.push_str(inner);
        return;
    }
    let lead = &inner[..inner.len() - inner.trim_start().len()];
    let trail = &inner[inner.trim_end().len()..];
    if !(out.is_empty() || out.ends_with([' ', '\n'])) {
        out.push_str(lead);
    }
    out.push_str(marker);
    out.push_str(core);
    out.push_str(marker);
    out.push_str(trail);
}

fn render_list(node: &NodeRef, out: &mut String, ordered: bool, pre: bool) {
    let mut number: u64 = attribute(node, "start").and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut items = Vec::new();
    for child in node.children() {
        let is_item = child.as_element().is_some_and(|e| &*e.name.local == "li");
        if !is_item {
            continue;
        }
        let mut inner = String::new();
        children(&child, &mut inner, pre);
        let inner = tidy(&inner);
        let bullet = if ordered { format!("{number}. ") } else { "- ".to_owned() };
        number = number.saturating_add(1);
        let indent = " ".repeat(bullet.len());
        let mut lines = inner.lines();
        let first = lines.next().unwrap_or_default();
        let mut item = format!("{bullet}{first}");
        for line in lines {
            item.push('\n');
            if !line.is_empty() {
                item.push_str(&indent);
                item.push_str(line);
            }
        }
        items.push(item);
    }
    out.push_str(&items.join("\n"));
}

fn render_link(node: &NodeRef, out: &mut String, pre: bool) {
    let mut text = String::new();
    children(node, &mut text, pre);
    let href = attribute(node, "href").unwrap_or_default();
    let shown = text.trim();
    let same = href.is_empty()
        || href == shown
        || href.strip_prefix("mailto:") == Some(shown)
        || href.starts_with("https://matrix.to/#/");
    if same || shown.is_empty() {
        out.push_str(if shown.is_empty() { &href } else { &text });
    } else {
        out.push_str(&format!("{text} ({href})"));
    }
}

fn attribute(node: &NodeRef, name: &str) -> Option<String> {
    let element = node.as_element()?;
    let attrs = element.attrs.borrow();
    attrs.iter().find(|a| &*a.name.local == name).map(|a| a.value.to_string())
}

/// All text below `node`, whitespace kept (for code).
fn text_of(node: &NodeRef) -> String {
    let mut out = String::new();
    collect_text(node, &mut out);
    out
}

fn collect_text(node: &NodeRef, out: &mut String) {
    if let Some(text) = node.as_text() {
        out.push_str(&text.borrow());
    }
    for child in node.children() {
        collect_text(&child, out);
    }
}

/// Appends text; outside `pre`, runs of HTML whitespace become one space, as a browser shows.
fn push_text(out: &mut String, text: &str, pre: bool) {
    if pre {
        out.push_str(text);
        return;
    }
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    for c in text.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

fn start_block(out: &mut String) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn end_block(out: &mut String) {
    out.push('\n');
}

/// Trims line ends and collapses runs of blank lines, so block spacing stays tidy.
fn tidy(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::html_to_markup;

    #[test]
    fn inline_styles() {
        assert_eq!(
            html_to_markup("<b>bold</b> and <em>it</em> and <del>gone</del>"),
            "*bold* and _it_ and ~gone~"
        );
        assert_eq!(html_to_markup("<strong> spaced </strong>x"), "*spaced* x");
        assert_eq!(html_to_markup("a<b> b </b>c"), "a *b* c");
        assert_eq!(html_to_markup("use <code>cargo test</code> now"), "use `cargo test` now");
        assert_eq!(html_to_markup("<b><i>both</i></b>"), "*_both_*");
    }

    #[test]
    fn blocks() {
        assert_eq!(
            html_to_markup(
                "<pre><code class=\"language-rust\">fn main() {\n    x &lt; 1\n}\n</code></pre>"
            ),
            "```\nfn main() {\n    x < 1\n}\n```"
        );
        assert_eq!(
            html_to_markup("<blockquote><p>quoted</p><p>twice</p></blockquote>after"),
            "> quoted\n> twice\nafter"
        );
        assert_eq!(html_to_markup("<ul><li>one</li><li>two</li></ul>"), "- one\n- two");
        assert_eq!(
            html_to_markup("<ol start=\"3\"><li>three</li><li>four</li></ol>"),
            "3. three\n4. four"
        );
        assert_eq!(html_to_markup("<p>one</p><p>two</p>"), "one\ntwo");
        assert_eq!(html_to_markup("a<br>b<br/>c"), "a\nb\nc");
        assert_eq!(html_to_markup("<h1>Title</h1>text"), "*Title*\ntext");
    }

    #[test]
    fn nested_lists_are_indented() {
        let html = "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>";
        assert_eq!(html_to_markup(html), "- a\n  - b\n- c");
    }

    #[test]
    fn links_and_mentions() {
        assert_eq!(
            html_to_markup("<a href=\"https://example.org\">site</a>"),
            "site (https://example.org)"
        );
        assert_eq!(
            html_to_markup("<a href=\"https://example.org\">https://example.org</a>"),
            "https://example.org"
        );
        assert_eq!(
            html_to_markup("hi <a href=\"https://matrix.to/#/@anna:example.org\">Anna</a>"),
            "hi Anna"
        );
    }

    #[test]
    fn hostile_html_keeps_only_text() {
        assert_eq!(html_to_markup("<script>alert(1)</script>hi"), "hi");
        assert_eq!(html_to_markup("<b>unclosed <i>nest"), "*unclosed _nest_*");
        assert_eq!(html_to_markup("<style>p{}</style><p onclick=\"x()\">ok</p>"), "ok");
        let deep = "<b>".repeat(5000) + "deep" + &"</b>".repeat(5000);
        assert!(html_to_markup(&deep).len() < 1000);
        let deeper = "<x-y>".repeat(20_000) + "deep";
        assert_eq!(html_to_markup(&deeper), "");
    }

    #[test]
    fn reply_fallback_is_removed() {
        let html = "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r/$e\">In reply to</a> old</blockquote></mx-reply>new";
        assert_eq!(html_to_markup(html), "new");
    }
}
