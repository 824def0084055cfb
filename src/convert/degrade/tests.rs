use interop_proto::content::{Content, ContentKind, Mention, MessageRef, Reaction};
use ruma::events::room::MediaSource;
use ruma::owned_mxc_uri;

use super::*;
use crate::convert::OutgoingMedia;

const NET: &str = "WhatsApp";

fn all() -> CapabilitySet {
    CapabilitySet::reference_default()
}

fn without(caps: &[Capability]) -> CapabilitySet {
    all().iter().filter(|c| !caps.contains(c)).cloned().collect()
}

fn msg_ref(id: &str) -> MessageRef {
    MessageRef { id: id.into(), sender: "491@native".into() }
}

fn reaction(revoke: bool) -> OutgoingMessage {
    let emoji = if revoke { "" } else { "👍" };
    let r = Reaction { target: Some(msg_ref("m1")), emoji: emoji.into(), revoke };
    Content { version: 1, reaction: Some(r), ..Default::default() }.into()
}

fn edit() -> OutgoingMessage {
    let mut c = Content { replaces: Some(msg_ref("m1")), ..Content::text("fixed @Ann") };
    c.html = "<p>fixed <a href=\"interop:user/7@native\">@Ann</a></p>".into();
    c.mentions.push(Mention { user: "7@native".into(), offset: 6, length: 4 });
    c.into()
}

fn photo(caption: &str) -> OutgoingMessage {
    let media = OutgoingMedia {
        source: MediaSource::Plain(owned_mxc_uri!("mxc://hs.example/p")),
        kind: MediaKind::Image,
        mime: "image/jpeg".into(),
        filename: "cat.jpg".into(),
        claimed_size: 0,
        width: 0,
        height: 0,
        duration_ms: 0,
    };
    let content = Content { in_reply_to: Some(msg_ref("m0")), ..Content::text(caption) };
    OutgoingMessage { content, media: Some(media) }
}

fn sent(d: &Degraded) -> &Content {
    &d.send.as_ref().expect("something is sent").content
}

#[test]
fn everything_offered_changes_nothing() {
    for m in [reaction(false), reaction(true), edit(), photo("hi"), redaction_message()] {
        let before = m.content.clone();
        let d = degrade(&all(), m, NET);
        assert_eq!((sent(&d), d.notice.as_deref()), (&before, None));
    }
}

fn redaction_message() -> OutgoingMessage {
    Content { version: 1, delete: Some(msg_ref("m1")), ..Default::default() }.into()
}

#[test]
fn edit_without_edits_becomes_a_reply() {
    let d = degrade(&without(&[Capability::Edits]), edit(), NET);
    let c = sent(&d);
    assert_eq!(c.text, "* fixed @Ann");
    assert_eq!(c.html, "<p>* fixed <a href=\"interop:user/7@native\">@Ann</a></p>");
    assert_eq!(&c.text[c.mentions[0].offset as usize..][..4], "@Ann");
    assert_eq!((c.replaces.clone(), c.in_reply_to.clone()), (None, Some(msg_ref("m1"))));
    assert_eq!(c.validate().ok(), Some(ContentKind::Text));
    assert_eq!(
        d.notice.as_deref(),
        Some("WhatsApp does not support edits; your correction was sent as a new message")
    );
    // Without replies too, the correction stands alone.
    let d = degrade(&without(&[Capability::Edits, Capability::Replies]), edit(), NET);
    assert_eq!((sent(&d).in_reply_to.clone(), sent(&d).text.as_str()), (None, "* fixed @Ann"));
}

#[test]
fn delete_without_deletes_is_not_sent() {
    let d = degrade(&without(&[Capability::Deletes]), redaction_message(), "Messenger");
    assert!(d.send.is_none());
    assert_eq!(
        d.notice.as_deref(),
        Some("Messenger does not support deleting messages; your message was not deleted there")
    );
}

#[test]
fn reactions_need_their_capabilities() {
    let d = degrade(&without(&[Capability::ReactionRevoke]), reaction(true), NET);
    assert!(d.send.is_none());
    assert_eq!(
        d.notice.as_deref(),
        Some("WhatsApp does not support removing reactions; your reaction is still shown there")
    );
    // Adding a reaction does not need reaction_revoke.
    let d = degrade(&without(&[Capability::ReactionRevoke]), reaction(false), NET);
    assert!(d.send.is_some() && d.notice.is_none());
    for m in [reaction(false), reaction(true)] {
        let d = degrade(&without(&[Capability::Reactions]), m, NET);
        assert!(d.send.is_none() && d.notice.as_deref().is_some_and(|n| n.starts_with("WhatsApp")));
    }
}

#[test]
fn media_without_media_becomes_text() {
    let d = degrade(&without(&[Capability::Media]), photo("look ✨"), NET);
    let out = d.send.as_ref().expect("sent");
    assert!(out.media.is_none() && out.content.media.is_none());
    assert_eq!(out.content.text, "look ✨\n[image: cat.jpg]");
    assert_eq!(out.content.in_reply_to, Some(msg_ref("m0")));
    assert_eq!(out.content.validate().ok(), Some(ContentKind::Text));
    assert_eq!(
        d.notice.as_deref(),
        Some("WhatsApp does not support media; your image was sent as text (its name and caption)")
    );
    let mut formatted = photo("*look*");
    formatted.content.html = "<b>look</b>".into();
    let d = degrade(&without(&[Capability::Media]), formatted, NET);
    assert_eq!(sent(&d).html, "<b>look</b><br>[image: cat.jpg]");
    let d = degrade(&without(&[Capability::Media]), photo(""), NET);
    assert_eq!(sent(&d).text, "[image: cat.jpg]");
}

#[test]
fn reply_without_replies_is_dropped_silently() {
    let m: OutgoingMessage =
        Content { in_reply_to: Some(msg_ref("m0")), ..Content::text("yes") }.into();
    let d = degrade(&without(&[Capability::Replies]), m, NET);
    assert_eq!(
        (sent(&d).in_reply_to.clone(), sent(&d).text.as_str(), d.notice.as_deref()),
        (None, "yes", None)
    );
    let d = degrade(&without(&[Capability::Replies]), photo("hi"), NET);
    assert!(sent(&d).in_reply_to.is_none() && d.send.as_ref().is_some_and(|m| m.media.is_some()));
}

#[test]
fn typing_and_receipts() {
    assert!(allows_typing(&all()) && allows_read_receipts(&all()));
    assert!(!allows_typing(&without(&[Capability::Typing])));
    assert!(!allows_read_receipts(&without(&[Capability::ReadReceipts])));
    assert!(allows_typing(&without(&[Capability::ReadReceipts])));
}

#[test]
fn what_degradation_adds_never_takes_a_message_past_the_text_limit() {
    use crate::convert::MAX_TEXT;
    // An edit of the longest text the protocol allows: "* " would push it over.
    let mut long_edit = Content { replaces: Some(msg_ref("m1")), ..Content::text("a") };
    long_edit.text = "a".repeat(MAX_TEXT);
    let d = degrade(&without(&[Capability::Edits]), long_edit.into(), NET);
    assert!(d.send.is_none(), "sent as {} bytes", sent(&d).text.len());
    assert!(d.notice.as_deref().is_some_and(|n| n.contains("64 KiB")), "{:?}", d.notice);

    // A long caption with HTML: the line naming the file fits in the text, the HTML is dropped
    // (the text says the same), and the result is valid content.
    let mut m = photo(&"b".repeat(MAX_TEXT - 30));
    m.content.html = format!("<p>{}</p>", "b".repeat(MAX_TEXT - 10));
    let d = degrade(&without(&[Capability::Media]), m, NET);
    let c = sent(&d);
    assert!(c.text.ends_with("[image: cat.jpg]") && c.text.len() <= MAX_TEXT, "{}", c.text.len());
    assert!(c.html.is_empty());
    assert!(c.validate().is_ok());

    // A caption at the limit: the file's line cannot be added; nothing is sent, and the user
    // hears why.
    let d = degrade(&without(&[Capability::Media]), photo(&"c".repeat(MAX_TEXT)), NET);
    assert!(d.send.is_none() && d.notice.is_some());
}

#[test]
fn no_kind_of_content_keeps_a_reply_without_the_replies_capability() {
    // Found by the `degrade` fuzz target: a delete may carry `in_reply_to` (it is valid), and
    // deletes returned before replies were looked at.
    let delete = Content {
        in_reply_to: Some(msg_ref("m0")),
        ..Content { version: 1, delete: Some(msg_ref("m1")), ..Default::default() }
    };
    assert!(delete.validate().is_ok());
    let d = degrade(&without(&[Capability::Replies]), delete.into(), NET);
    assert_eq!(sent(&d).in_reply_to, None);
    let d = degrade(&without(&[Capability::Replies, Capability::Edits]), edit(), NET);
    assert_eq!((sent(&d).in_reply_to.as_ref(), sent(&d).replaces.as_ref()), (None, None));
}
