use interop_proto::content::ContentKind;
use ruma::events::relation::Annotation;
use ruma::owned_event_id;
use serde_json::{Value, json};

use super::*;

/// Ghosts are `@wa_<n>:hs.example`, interop id `<n>@native`.
fn ghost_id(user: &UserId) -> Option<String> {
    let n = user.localpart().strip_prefix("wa_")?;
    (user.server_name() == "hs.example").then(|| format!("{n}@native"))
}

fn ctx() -> OutgoingContext<'static> {
    OutgoingContext { reply_to: None, replaces: None, voice: false, ghost_id: &ghost_id }
}

fn msg_ref(id: &str) -> MessageRef {
    MessageRef { id: id.into(), sender: "491@native".into() }
}

fn event(content: Value) -> RoomMessageEventContent {
    serde_json::from_value(content).expect("valid m.room.message content")
}

fn convert_with(content: Value, ctx: &OutgoingContext<'_>) -> OutgoingMessage {
    message_to_remote(&event(content), ctx).expect("bridgeable")
}

fn convert(content: Value) -> OutgoingMessage {
    convert_with(content, &ctx())
}

fn html(html: &str) -> Content {
    let body = "fallback body";
    convert(json!({"msgtype": "m.text", "body": body, "format": "org.matrix.custom.html", "formatted_body": html})).content
}

fn mentioned(c: &Content) -> Vec<(&str, &str)> {
    c.mentions
        .iter()
        .map(|m| (m.user.as_str(), &c.text[m.offset as usize..(m.offset + m.length) as usize]))
        .collect()
}

#[test]
fn plain_text_and_notice() {
    let out = convert(json!({"msgtype": "m.text", "body": "hello *there*"}));
    assert_eq!(out.content.text, "hello *there*");
    assert!(out.content.html.is_empty() && out.content.mentions.is_empty() && out.media.is_none());
    assert_eq!(out.content.validate().ok(), Some(ContentKind::Text));
    let notice = convert(json!({"msgtype": "m.notice", "body": "bot says"}));
    assert_eq!(notice.content.text, "bot says");
}

#[test]
fn emotes_get_the_me_prefix() {
    assert_eq!(convert(json!({"msgtype": "m.emote", "body": "waves"})).content.text, "/me waves");
    let c = convert(json!({"msgtype": "m.emote", "body": "waves", "format": "org.matrix.custom.html",
        "formatted_body": "<b>waves</b> at <a href=\"https://matrix.to/#/@wa_7:hs.example\">Ann</a>"}))
    .content;
    assert_eq!(c.text, "/me *waves* at Ann");
    assert_eq!(c.html, "/me <b>waves</b> at <a href=\"interop:user/7@native\">Ann</a>");
    assert_eq!(mentioned(&c), [("7@native", "Ann")]);
}

#[test]
fn formatting_becomes_subset_html_and_markup_text() {
    let c = html("<strong>bold</strong> and <em>it</em>, <del>gone</del> <code>x&lt;y</code>");
    assert_eq!(
        c.html,
        "<strong>bold</strong> and <em>it</em>, <del>gone</del> <code>x&lt;y</code>"
    );
    assert_eq!(c.text, "*bold* and _it_, ~gone~ `x<y`");
    let c = html(
        "<h2>Title</h2><ul><li>one</li><li>two</li></ul><pre><code class=\"language-rs\">let x;</code></pre>",
    );
    assert_eq!(
        c.html,
        "<p><strong>Title</strong></p><ul><li>one</li><li>two</li></ul><pre><code>let x;</code></pre>"
    );
    assert_eq!(c.text, "*Title*\n- one\n- two\n```\nlet x;\n```");
    // Formatting-free HTML adds nothing to the text.
    let c = html("just &amp; text");
    assert_eq!((c.text.as_str(), c.html.as_str()), ("just & text", ""));
}

#[test]
fn hostile_html_is_reduced_to_text() {
    let c = html(
        "<script>alert(1)</script><style>b{}</style><iframe src=\"https://x\">f</iframe>\
         <b onclick=\"steal()\" style=\"x\">hi</b> <a href=\"javascript:alert(1)\">click</a> \
         <img src=\"x\" onerror=\"alert(1)\"><a href=\"https://ok.example\" onmouseover=\"x\">ok</a>",
    );
    assert_eq!(c.html, "<b>hi</b> click <a href=\"https://ok.example\">ok</a>");
    assert_eq!(c.text, "*hi* click ok (https://ok.example)");
    for bad in ["script", "alert", "onclick", "style", "iframe", "javascript", "onerror"] {
        assert!(!c.html.contains(bad) && !c.text.contains(bad), "{bad}");
    }
    let deep = "<blockquote>".repeat(20_000) + "deep";
    let c = html(&deep);
    // Nothing showable is left of the HTML, so the plain body is sent.
    assert_eq!((c.text.as_str(), c.html.as_str()), ("fallback body", ""));
    let huge = "<p><b>word</b> <i>word</i></p>".repeat(3_000);
    let c = html(&huge);
    assert!(c.text.len() > 30_000 && c.text.len() <= MAX_TEXT && c.validate().is_ok());
}

#[test]
fn reply_fallbacks_are_stripped() {
    let ctx = OutgoingContext { reply_to: Some(msg_ref("m1")), ..ctx() };
    let out = convert_with(
        json!({"msgtype": "m.text",
            "body": "> <@wa_491:hs.example> original\n> second line\n\nmy *reply*",
            "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote><a href=\"https://matrix.to/#/!r:hs.example/$e\">In reply to</a> <a href=\"https://matrix.to/#/@wa_491:hs.example\">@wa_491:hs.example</a><br>original</blockquote></mx-reply>my <b>reply</b>",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}),
        &ctx,
    );
    assert_eq!(
        (out.content.text.as_str(), out.content.html.as_str()),
        ("my *reply*", "my <b>reply</b>")
    );
    assert!(out.content.mentions.is_empty());
    assert_eq!(out.content.in_reply_to, Some(msg_ref("m1")));

    let plain = convert_with(
        json!({"msgtype": "m.text", "body": "> <@a:hs.example> old\n\nnew text",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}),
        &ctx,
    );
    assert_eq!(plain.content.text, "new text");
    // A reply whose target is unknown still loses its fallback, and sends no in_reply_to.
    let unknown = convert(json!({"msgtype": "m.text", "body": "> <@a:hs.example> old\n\nnew",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}}));
    assert_eq!((unknown.content.text.as_str(), unknown.content.in_reply_to), ("new", None));
    // Not a reply: a leading quote is the user's own.
    let quote = convert(json!({"msgtype": "m.text", "body": "> <@a:hs.example> said\n\nso true"}));
    assert_eq!(quote.content.text, "> <@a:hs.example> said\n\nso true");
}

#[test]
fn pills_of_ghosts_become_mentions_with_byte_offsets() {
    let c = html(
        "Grüße <a href=\"https://matrix.to/#/@wa_491:hs.example\">Jörg 🎉</a>, \
         <a href=\"https://matrix.to/#/@alice:hs.example\">Alice</a> and \
         <b><a href=\"https://matrix.to/#/%40wa_492%3Ahs.example?via=hs.example\">Zoë</a></b> \
         <a href=\"matrix:u/wa_493:hs.example\">Ünal</a>",
    );
    assert_eq!(c.text, "Grüße Jörg 🎉, Alice and *Zoë* Ünal");
    assert_eq!(
        mentioned(&c),
        [("491@native", "Jörg 🎉"), ("492@native", "Zoë"), ("493@native", "Ünal")]
    );
    assert_eq!(c.mentions[0].offset, "Grüße ".len() as u32);
    assert!(c.html.contains("<a href=\"interop:user/491@native\">Jörg 🎉</a>"));
    assert!(c.html.contains("<b><a href=\"interop:user/492@native\">Zoë</a></b>"));
    // A Matrix user who is not a ghost stays plain text.
    assert!(c.html.contains(", Alice and") && !c.html.contains("alice"));
    assert_eq!(c.validate().ok(), Some(ContentKind::Text));
}

#[test]
fn forged_and_odd_mention_links() {
    let c = html(
        "<a href=\"interop:user/9@native\">fake</a> <a href=\"https://matrix.to/#/@wa_1:hs.example\"></a>",
    );
    assert_eq!(c.text, "fake @wa_1:hs.example");
    assert_eq!(mentioned(&c), [("1@native", "@wa_1:hs.example")]);
    // Placeholder characters in the input cannot forge mentions.
    let c = html("a\u{FDD0}0\u{FDD1} <a href=\"https://matrix.to/#/@wa_1:hs.example\">x</a>");
    assert_eq!((c.text.as_str(), mentioned(&c)), ("a0 x", vec![("1@native", "x")]));
    // A room permalink is an ordinary link.
    let c = html("see <a href=\"https://matrix.to/#/!room:hs.example/$ev\">this</a>");
    assert_eq!(c.html, "see <a href=\"https://matrix.to/#/!room:hs.example/$ev\">this</a>");
}

#[test]
fn plain_body_mentions_come_from_m_mentions() {
    let c = convert(json!({"msgtype": "m.text",
        "body": "ça va @wa_491:hs.example? @bob:hs.example @wa_491:hs.example",
        "m.mentions": {"user_ids": ["@wa_491:hs.example", "@bob:hs.example", "@wa_5:hs.example"]}}))
    .content;
    assert_eq!(
        mentioned(&c),
        [("491@native", "@wa_491:hs.example"), ("491@native", "@wa_491:hs.example")]
    );
    assert_eq!(c.mentions[0].offset, "ça va ".len() as u32);
    assert!(c.validate().is_ok());
}

#[test]
fn image_with_caption_and_info() {
    let out =
        convert(json!({"msgtype": "m.image", "body": "look at *this*", "filename": "cat.jpg",
        "url": "mxc://hs.example/cat",
        "info": {"mimetype": "image/jpeg", "size": 2048, "w": 640, "h": 480}}));
    let m = out.media.expect("media");
    assert!(matches!(&m.source, MediaSource::Plain(u) if u.as_str() == "mxc://hs.example/cat"));
    assert_eq!(
        (m.kind, m.mime.as_str(), m.filename.as_str()),
        (MediaKind::Image, "image/jpeg", "cat.jpg")
    );
    assert_eq!((m.claimed_size, m.width, m.height, m.duration_ms), (2048, 640, 480, 0));
    assert_eq!(out.content.text, "look at *this*");
    assert!(out.content.media.is_none(), "the I/O layer fills the MediaRef");
    let formatted = convert(json!({"msgtype": "m.image", "body": "look", "filename": "cat.jpg",
        "format": "org.matrix.custom.html", "formatted_body": "<i>look</i>", "url": "mxc://hs.example/cat"}));
    assert_eq!(
        (formatted.content.text.as_str(), formatted.content.html.as_str()),
        ("_look_", "<i>look</i>")
    );
}

#[test]
fn media_without_caption_and_encrypted_source() {
    let out = convert(json!({"msgtype": "m.file", "body": "../report.pdf",
        "file": {"url": "mxc://hs.example/enc", "v": "v2",
            "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"], "alg": "A256CTR",
                "k": "qcHVMSgYg-71CauWBezXI5qkaRb0LuIy-Wx5kIaHMIA", "ext": true},
            "iv": "X85+XgHN+HEAAAAAAAAAAA", "hashes": {"sha256": "5qG4fFnbbVdlAB1Q72JDKwCagV6Dbkx9uds4rSak37c"}}}));
    assert!(out.content.text.is_empty() && out.content.html.is_empty());
    let m = out.media.expect("media");
    assert!(
        matches!(&m.source, MediaSource::Encrypted(f) if f.url.as_str() == "mxc://hs.example/enc")
    );
    assert_eq!(
        (m.kind, m.mime.as_str(), m.filename.as_str()),
        (MediaKind::File, "application/octet-stream", "report.pdf")
    );
    assert_eq!(m.claimed_size, 0);
}

#[test]
fn video_audio_and_voice() {
    let video =
        convert(json!({"msgtype": "m.video", "body": "clip.mp4", "url": "mxc://hs.example/v",
        "info": {"mimetype": "video/mp4", "duration": 12_345, "w": 1920, "h": 1080}}));
    let v = video.media.expect("media");
    assert_eq!((v.kind, v.duration_ms, v.width, v.height), (MediaKind::Video, 12_345, 1920, 1080));

    let audio = json!({"msgtype": "m.audio", "body": "song.mp3", "url": "mxc://hs.example/a",
        "info": {"mimetype": "audio/mpeg", "duration": 180_000}});
    let a = convert(audio.clone()).media.expect("media");
    assert_eq!((a.kind, a.duration_ms, a.mime.as_str()), (MediaKind::Audio, 180_000, "audio/mpeg"));
    let hinted = OutgoingContext { voice: true, ..ctx() };
    assert_eq!(convert_with(audio, &hinted).media.map(|m| m.kind), Some(MediaKind::Voice));

    // As Element sends voice notes: the duration may only be in the MSC1767 audio block.
    let voice =
        convert(json!({"msgtype": "m.audio", "body": "Voice message", "url": "mxc://hs.example/o",
        "info": {"mimetype": "audio/ogg"},
        "org.matrix.msc1767.audio": {"duration": 4_200, "waveform": [0, 512, 1024]},
        "org.matrix.msc3245.voice": {}}));
    let o = voice.media.expect("media");
    assert_eq!(
        (o.kind, o.duration_ms, o.filename.as_str()),
        (MediaKind::Voice, 4_200, "Voice message")
    );
    assert!(voice.content.text.is_empty());
}

#[test]
fn voice_markers_in_raw_content() {
    let raw = |v: Value| {
        Raw::<RoomMessageEventContent>::from_json(
            serde_json::value::to_raw_value(&v).expect("json"),
        )
    };
    assert!(content_marks_voice(&raw(json!({"msgtype": "m.audio", "m.voice": {}}))));
    assert!(content_marks_voice(&raw(
        json!({"msgtype": "m.audio", "org.matrix.msc3245.voice": {}})
    )));
    assert!(!content_marks_voice(&raw(json!({"msgtype": "m.audio", "body": "m.voice"}))));
}

#[test]
fn edits_send_the_new_content() {
    let edit = json!({"msgtype": "m.text", "body": "* fixed", "m.new_content":
        {"msgtype": "m.text", "body": "fixed <b>", "format": "org.matrix.custom.html", "formatted_body": "<b>fixed</b>"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}});
    let with_target =
        OutgoingContext { replaces: Some(msg_ref("m1")), reply_to: Some(msg_ref("m0")), ..ctx() };
    let c = convert_with(edit.clone(), &with_target).content;
    assert_eq!((c.text.as_str(), c.html.as_str()), ("*fixed*", "<b>fixed</b>"));
    assert_eq!((c.replaces.clone(), c.in_reply_to.clone()), (Some(msg_ref("m1")), None));
    assert_eq!(c.validate().ok(), Some(ContentKind::Edit));
    assert_eq!(
        message_to_remote(&event(edit), &ctx()).err(),
        Some(Unbridgeable::UnknownEditTarget)
    );

    let caption = json!({"msgtype": "m.image", "body": "* new caption", "url": "mxc://hs.example/c",
        "m.new_content": {"msgtype": "m.image", "body": "new caption", "filename": "c.png", "url": "mxc://hs.example/c"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}});
    let out = convert_with(caption, &with_target);
    assert!(out.media.is_none() && out.content.media.is_none());
    assert_eq!(out.content.text, "new caption");
    assert_eq!(out.content.validate().ok(), Some(ContentKind::Edit));

    let uncaptioned = json!({"msgtype": "m.image", "body": "* c.png", "url": "mxc://hs.example/c",
        "m.new_content": {"msgtype": "m.image", "body": "c.png", "url": "mxc://hs.example/c"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}});
    assert_eq!(
        message_to_remote(&event(uncaptioned), &with_target).err(),
        Some(Unbridgeable::Empty)
    );
}

#[test]
fn reactions_and_redactions() {
    let thumbs = ReactionEventContent::new(Annotation::new(owned_event_id!("$m"), "👍🏽".into()));
    let c = reaction_to_remote(&thumbs, msg_ref("m1")).expect("emoji");
    let r = c.reaction.clone().expect("reaction");
    assert_eq!((r.target, r.emoji.as_str(), r.revoke), (Some(msg_ref("m1")), "👍🏽", false));
    assert_eq!(c.validate().ok(), Some(ContentKind::Reaction));
    let text = ReactionEventContent::new(Annotation::new(owned_event_id!("$m"), "+1".into()));
    assert_eq!(
        reaction_to_remote(&text, msg_ref("m1")),
        Err(Unbridgeable::NotAnEmoji("+1".into()))
    );

    let delete = redaction_to_remote(RedactedEvent::Message(msg_ref("m2")));
    assert_eq!(
        (delete.delete.clone(), delete.validate().ok()),
        (Some(msg_ref("m2")), Some(ContentKind::Delete))
    );
    let revoke = redaction_to_remote(RedactedEvent::Reaction { target: msg_ref("m3") });
    let r = revoke.reaction.clone().expect("reaction");
    assert_eq!((r.target, r.emoji.as_str(), r.revoke), (Some(msg_ref("m3")), "", true));
    assert_eq!(revoke.validate().ok(), Some(ContentKind::Reaction));
}

#[test]
fn what_cannot_be_bridged() {
    let location = json!({"msgtype": "m.location", "body": "here", "geo_uri": "geo:1,2"});
    assert_eq!(
        message_to_remote(&event(location), &ctx()).err(),
        Some(Unbridgeable::Unsupported("m.location".into()))
    );
    let custom = json!({"msgtype": "org.example.poll", "body": "vote"});
    assert_eq!(
        message_to_remote(&event(custom), &ctx()).err(),
        Some(Unbridgeable::Unsupported("org.example.poll".into()))
    );
    let empty = json!({"msgtype": "m.text", "body": ""});
    assert_eq!(message_to_remote(&event(empty), &ctx()).err(), Some(Unbridgeable::Empty));
    let only_fallback = json!({"msgtype": "m.text", "body": "> <@a:hs.example> x\n\n",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}});
    assert_eq!(message_to_remote(&event(only_fallback), &ctx()).err(), Some(Unbridgeable::Empty));
    let long = json!({"msgtype": "m.text", "body": "x".repeat(MAX_TEXT + 1)});
    assert_eq!(
        message_to_remote(&event(long), &ctx()).err(),
        Some(Unbridgeable::TooLong(MAX_TEXT + 1))
    );
}
