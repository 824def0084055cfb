//! Parsing hostile HTML without letting its depth reach the stack or the CPU.
//!
//! Two costs grow with nesting. The HTML parser checks element scope by walking its stack of open
//! elements, so 20 000 nested `<div>`s take quadratic time (tens of seconds). And ruma's tree
//! frees itself recursively, one chain of stack frames per level, as does every subtree the
//! sanitiser cuts, which overflows a 2 MiB thread stack. So:
//!
//! 1. Before parsing, start tags beyond [`MAX_NESTING`] open elements are dropped (their text
//!    stays). The count is deliberately pessimistic: an end tag only closes the element on top,
//!    and elements the parser would close implicitly stay counted, so the parser's real nesting is
//!    no deeper (bar the few elements it inserts itself).
//! 2. The parsed document is paired with a handle to every node, taken in document order before
//!    sanitising: nothing is freed while the tree is walked, and at the end the nodes go parent
//!    before child, each child still held elsewhere, so every free is one level deep.

use std::borrow::Cow;

use ruma::html::{Children, Html, NodeRef, SanitizerConfig};

/// Most elements open at once before further start tags are dropped; real messages use a few.
const MAX_NESTING: usize = 256;

/// A parsed, sanitised document. Fields drop in order: the tree, then the node handles.
pub(crate) struct BoundedHtml {
    html: Html,
    #[allow(dead_code, reason = "only held, so the tree is freed one level at a time")]
    nodes: Vec<NodeRef>,
}

impl BoundedHtml {
    /// Parses `input` and sanitises it with `config` (which must set a `max_depth`, bounding
    /// the sanitiser's own recursion and every walk of the result).
    pub(crate) fn parse(input: &str, config: &SanitizerConfig) -> Self {
        let html = Html::parse(&cap_nesting(input, MAX_NESTING));
        let mut nodes = Vec::new();
        let mut pending: Vec<NodeRef> = html.children().collect();
        pending.reverse();
        while let Some(node) = pending.pop() {
            let mut children: Vec<NodeRef> = node.children().collect();
            children.reverse();
            pending.extend(children);
            nodes.push(node);
        }
        html.sanitize_with(config);
        Self { html, nodes }
    }

    /// The top-level nodes after sanitising.
    pub(crate) fn children(&self) -> Children {
        self.html.children()
    }
}

/// Elements that never have content, so never stay open.
const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// `html` with every start tag dropped that would make more than `max` elements open at once.
fn cap_nesting(html: &str, max: usize) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0; // `html[..copied]` is in `out`, or dropped
    let mut open: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(found) = html[at..].find('<') {
        let start = at + found;
        let rest = &html[start..];
        let (closing, name_at) = if rest.starts_with("</") { (true, 2) } else { (false, 1) };
        let name_len = rest[name_at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
            .unwrap_or(rest.len() - name_at);
        let name = &rest[name_at..name_at + name_len];
        if rest.starts_with("<!") || rest.starts_with("<?") {
            // Comment, doctype or processing instruction: never an element.
            let end = if let Some(comment) = rest.strip_prefix("<!--") {
                comment.find("-->").map_or(rest.len(), |e| e + 7)
            } else {
                rest.find('>').map_or(rest.len(), |e| e + 1)
            };
            at = start + end;
            continue;
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            at = start + 1; // a lone `<` is text
            continue;
        }
        let end = start + name_at + name_len + tag_end(&rest[name_at + name_len..]);
        let name = name.to_ascii_lowercase();
        if closing {
            if open.last() == Some(&name) {
                open.pop();
            }
        } else if !VOID.contains(&name.as_str()) {
            if open.len() >= max {
                out.push_str(&html[copied..start]);
                copied = end;
            } else {
                open.push(name);
            }
        }
        at = end;
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Length of a tag's remainder after its name, through its `>` (attribute values may hold `>`).
fn tag_end(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'>' => return i + 1,
            b'=' => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&quote @ (b'"' | b'\'')) = bytes.get(i) {
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn depth(node: &NodeRef) -> usize {
        1 + node.children().map(|c| depth(&c)).max().unwrap_or(0)
    }

    #[test]
    fn deep_documents_are_freed_without_recursion() {
        // A small stack: recursion over this tree would need far more.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = "<x>".repeat(30_000) + "deep";
                let doc = BoundedHtml::parse(&deep, &SanitizerConfig::strict().max_depth(16));
                assert!(doc.nodes.len() > MAX_NESTING);
                assert!(doc.children().map(|c| depth(&c)).max().unwrap_or(0) <= 17);
            })
            .expect("spawn");
        assert!(handle.join().is_ok());
    }

    #[test]
    fn deep_blocks_parse_quickly() {
        // Without the cap the parser takes quadratic time here (over 20 s in a debug build).
        for tag in ["div", "blockquote", "ul", "table"] {
            let deep = format!("<{tag}>").repeat(20_000) + "deep";
            let started = Instant::now();
            let doc = BoundedHtml::parse(&deep, &SanitizerConfig::new().max_depth(10_000));
            assert!(started.elapsed() < Duration::from_secs(5), "{tag}: {:?}", started.elapsed());
            let deepest = doc.children().map(|c| depth(&c)).max().unwrap_or(0);
            assert!(deepest <= 3 * MAX_NESTING + 2, "{tag}: {deepest}");
        }
    }

    #[test]
    fn misnested_end_tags_do_not_reset_the_count() {
        // `</div>` is ignored by the parser inside a table cell, so it must not count as closing.
        let tricky = "<div><table><td></div>".repeat(5_000);
        let doc = BoundedHtml::parse(&tricky, &SanitizerConfig::new().max_depth(100_000));
        let deepest = doc.children().map(|c| depth(&c)).max().unwrap_or(0);
        assert!(deepest <= 3 * MAX_NESTING + 2, "{deepest}");
    }

    #[test]
    fn cap_keeps_text_and_well_formed_html() {
        let normal = "<p>a <b>b</b> <a href=\"x>y\">c</a><br><!-- <b> --></p>";
        assert!(matches!(cap_nesting(normal, 3), Cow::Borrowed(_)));
        assert_eq!(cap_nesting("<i><b><u>x</u></b></i>", 2), "<i><b>x</u></b></i>");
        assert_eq!(cap_nesting("a < b <3 <i title='>'>c", 0), "a < b <3 c");
        assert_eq!(cap_nesting("<br><br><i>x", 0), "<br><br>x");
    }

    #[test]
    fn document_order_parents_first() {
        let doc = BoundedHtml::parse("<p>a<b>b</b></p>c", &SanitizerConfig::strict().max_depth(8));
        let names: Vec<String> = doc
            .nodes
            .iter()
            .map(|n| match n.as_element() {
                Some(e) => e.name.local.to_string(),
                None => n.as_text().map(|t| t.borrow().to_string()).unwrap_or_default(),
            })
            .collect();
        assert_eq!(names, ["p", "a", "b", "b", "c"]);
    }
}
