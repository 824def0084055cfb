//! Prepending a marker to an interop message: `/me ` for an emote, `* ` for a correction sent
//! as a new message.
//!
//! `text`, `html` and the mention offsets must keep saying the same thing (protocol §8.2), so
//! the marker goes into both bodies and every mention moves by its length.

use interop_proto::content::Content;

use super::html_subset::escape_text;

/// Puts `prefix` in front of `content`'s text and HTML, shifting the mentions.
pub fn prepend(content: &mut Content, prefix: &str) {
    content.text.insert_str(0, prefix);
    let shift = u32::try_from(prefix.len()).unwrap_or(u32::MAX);
    for mention in &mut content.mentions {
        mention.offset = mention.offset.saturating_add(shift);
    }
    if !content.html.is_empty() {
        let escaped = escape_text(prefix);
        // Inside a leading paragraph, so the marker stays on the first line.
        content.html = match content.html.strip_prefix("<p>") {
            Some(rest) => format!("<p>{escaped}{rest}"),
            None => format!("{escaped}{}", content.html),
        };
    }
}

#[cfg(test)]
mod tests {
    use interop_proto::content::Mention;

    use super::*;

    #[test]
    fn shifts_mentions_and_html() {
        let mut c = Content::text("hé @Ann");
        c.html = "<p>hé <a href=\"interop:user/1@n\">@Ann</a></p>".into();
        c.mentions.push(Mention { user: "1@n".into(), offset: 4, length: 4 });
        prepend(&mut c, "/me ");
        assert_eq!(c.text, "/me hé @Ann");
        assert_eq!(c.html, "<p>/me hé <a href=\"interop:user/1@n\">@Ann</a></p>");
        assert_eq!(&c.text[c.mentions[0].offset as usize..][..4], "@Ann");
        assert!(c.validate().is_ok());
    }

    #[test]
    fn plain_and_inline_html() {
        let mut c = Content::text("x");
        prepend(&mut c, "* ");
        assert_eq!((c.text.as_str(), c.html.as_str()), ("* x", ""));
        c.html = "<b>x</b>".into();
        prepend(&mut c, "<&> ");
        assert_eq!(c.html, "&lt;&amp;&gt; <b>x</b>");
    }
}
