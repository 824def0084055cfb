use interop_proto::content::{Mention, Reaction};
use ruma::{owned_event_id, owned_mxc_uri, owned_user_id};
use serde_json::{Value, json};

use super::*;

/// `<n>@native` is the ghost `@wa_<n>:hs.example`; `491@native` is called Jörg.
fn ghost(id: &str) -> Option<(OwnedUserId, String)> {
    let n = id.strip_suffix("@native")?;
    let user = UserId::parse(format!("@wa_{n}:hs.example")).ok()?;
    Some((user, if n == "491" { "Jörg".into() } else { format!("User {n}") }))
}

fn ctx() -> IncomingContext<'static> {
    IncomingContext {
        reply_to: None,
        replaces: None,
        reaction_target: None,
        media_url: None,
        ghost: &ghost,
    }
}

fn msg_ref(id: &str) -> MessageRef {
    MessageRef { id: id.into(), sender: "491@native".into() }
}

/// Converts, expects a message, and returns it serialised (checking it deserialises again).
fn sent(content: &Content, ctx: &IncomingContext<'_>) -> Value {
    let Ok(MatrixAction::Message(message)) = content_to_matrix(content, ctx) else {
        panic!("expected a message for {content:?}");
    };
    let json = serde_json::to_value(&message).expect("serialises");
    let back: RoomMessageEventContent = serde_json::from_value(json.clone()).expect("deserialises");
    assert_eq!(back.msgtype(), json["msgtype"]);
    json
}

fn mention(user: &str, text: &str, part: &str) -> Mention {
    let offset = text.find(part).expect("part of text");
    Mention { user: user.into(), offset: offset as u32, length: part.len() as u32 }
}

#[test]
fn plain_text_sets_empty_mentions() {
    let json = sent(&Content::text("hello there"), &ctx());
    assert_eq!(json, json!({"msgtype": "m.text", "body": "hello there", "m.mentions": {}}));
}

#[test]
fn markup_becomes_html() {
    let json = sent(&Content::text("*bold* _it_ ~gone~ `x<y`"), &ctx());
    assert_eq!(json["body"], "*bold* _it_ ~gone~ `x<y`");
    assert_eq!(json["format"], "org.matrix.custom.html");
    assert_eq!(
        json["formatted_body"],
        "<strong>bold</strong> <em>it</em> <del>gone</del> <code>x&lt;y</code>"
    );
}

#[test]
fn hostile_html_is_sanitised_again() {
    let mut c = Content::text("x j ok");
    c.html = "<b onclick=\"steal()\">x</b><script>alert(1)</script><img src=x onerror=alert(1)>\
              <iframe src=\"https://evil\"></iframe><style>*{}</style> <a href=\"javascript:alert(1)\">j</a> \
              <a href=\"https://ok.example\" style=\"x\">ok</a><mx-reply>fake</mx-reply>"
        .into();
    let json = sent(&c, &ctx());
    assert_eq!(json["formatted_body"], "<b>x</b> j <a href=\"https://ok.example\">ok</a>");
    let deep = "<div>".repeat(20_000) + "deep";
    let c = Content { html: deep, ..Content::text("deep") };
    let json = sent(&c, &ctx());
    assert!(!json["formatted_body"].as_str().unwrap_or_default().contains("deep"));
    let huge = Content { html: "<b>w</b> ".repeat(7_000), ..Content::text("w ".repeat(7_000)) };
    assert!(sent(&huge, &ctx())["formatted_body"].as_str().is_some_and(|h| h.len() > 50_000));
}

#[test]
fn mention_links_become_pills() {
    let text = "hi @491 and @99 and @5 😀";
    let mut c = Content::text(text);
    c.html = "hi <a href=\"interop:user/491@native\">@491</a> and <a href=\"interop:user/99@other\">@99</a> and <b><a href=\"interop:user/5@native\">@5</a></b> 😀".into();
    c.mentions = vec![
        mention("491@native", text, "@491"),
        mention("99@other", text, "@99"),
        mention("5@native", text, "@5"),
    ];
    let json = sent(&c, &ctx());
    assert_eq!(json["body"], "hi Jörg and @99 and User 5 😀");
    assert_eq!(
        json["formatted_body"],
        "hi <a href=\"https://matrix.to/#/@wa_491:hs.example\">Jörg</a> and @99 and \
         <b><a href=\"https://matrix.to/#/@wa_5:hs.example\">User 5</a></b> 😀"
    );
    assert_eq!(json["m.mentions"], json!({"user_ids": ["@wa_491:hs.example", "@wa_5:hs.example"]}));
}

#[test]
fn mentions_without_html_use_the_text() {
    let text = "Grüße @491, *wichtig* 🎉 <b>";
    let c = Content { mentions: vec![mention("491@native", text, "@491")], ..Content::text(text) };
    let json = sent(&c, &ctx());
    assert_eq!(json["body"], "Grüße Jörg, *wichtig* 🎉 <b>");
    assert_eq!(
        json["formatted_body"],
        "Grüße <a href=\"https://matrix.to/#/@wa_491:hs.example\">Jörg</a>, <strong>wichtig</strong> 🎉 &lt;b&gt;"
    );
    // No markup at all: the HTML exists for the pill alone.
    let text = "ça va @491?\nyes";
    let c = Content { mentions: vec![mention("491@native", text, "@491")], ..Content::text(text) };
    let json = sent(&c, &ctx());
    assert_eq!(
        json["formatted_body"],
        "ça va <a href=\"https://matrix.to/#/@wa_491:hs.example\">Jörg</a>?<br>yes"
    );
    assert_eq!(json["m.mentions"], json!({"user_ids": ["@wa_491:hs.example"]}));
}

#[test]
fn odd_mentions_are_skipped() {
    let text = "@491 @491";
    let mut c = Content::text(text);
    c.mentions = vec![
        Mention { user: "491@native".into(), offset: 0, length: 4 },
        Mention { user: "5@native".into(), offset: 2, length: 4 }, // overlaps the first
        Mention { user: "5@native".into(), offset: 5, length: 0 }, // empty
        Mention { user: "nobody".into(), offset: 5, length: 4 },   // not a ghost
    ];
    let json = sent(&c, &ctx());
    assert_eq!(json["body"], "Jörg @491");
    assert_eq!(json["m.mentions"], json!({"user_ids": ["@wa_491:hs.example"]}));
    // Placeholder characters from outside cannot forge pills.
    let c = Content::text("a\u{FDD0}0\u{FDD1}b *c*");
    assert_eq!(sent(&c, &ctx())["formatted_body"], "a0b <strong>c</strong>");
}

#[test]
fn replies_relate_without_fallback() {
    let reply = ReplyTarget {
        event_id: owned_event_id!("$orig"),
        sender: owned_user_id!("@alice:hs.example"),
    };
    let ctx = IncomingContext { reply_to: Some(reply), ..ctx() };
    let c = Content { in_reply_to: Some(msg_ref("m0")), ..Content::text("answer") };
    let json = sent(&c, &ctx);
    assert_eq!(json["m.relates_to"], json!({"m.in_reply_to": {"event_id": "$orig"}}));
    assert_eq!(json["body"], "answer");
    assert!(json.get("formatted_body").is_none(), "no <mx-reply> fallback");
    assert_eq!(json["m.mentions"], json!({"user_ids": ["@alice:hs.example"]}));
    // A reply to a message the bridge never saw is shown as a plain message.
    let plain = sent(&c, &super::tests::ctx());
    assert!(plain.get("m.relates_to").is_none());
}

#[test]
fn edits_replace_with_fallback_body() {
    let ctx = IncomingContext { replaces: Some(owned_event_id!("$orig")), ..ctx() };
    let c = Content { replaces: Some(msg_ref("m0")), ..Content::text("fixed *typo*") };
    let json = sent(&c, &ctx);
    assert_eq!(json["body"], "* fixed *typo*");
    assert_eq!(json["formatted_body"], "* fixed <strong>typo</strong>");
    assert_eq!(json["m.relates_to"], json!({"rel_type": "m.replace", "event_id": "$orig"}));
    assert_eq!(json["m.new_content"]["body"], "fixed *typo*");
    assert_eq!(json["m.new_content"]["formatted_body"], "fixed <strong>typo</strong>");
    // The original is unknown: a new message that still reads as a correction.
    let json = sent(&c, &super::tests::ctx());
    assert_eq!((json["body"].as_str(), json.get("m.relates_to")), (Some("* fixed *typo*"), None));
}

fn media(kind: MediaKind, mime: &str, filename: &str) -> MediaRef {
    MediaRef {
        kind: kind as i32,
        mime: mime.into(),
        size: 4096,
        sha256: vec![1; 32],
        key: vec![2; 32],
        iv: vec![3; 16],
        filename: filename.into(),
        width: 0,
        height: 0,
        duration_ms: 0,
        scheme: 1,
        location: Some(interop_proto::content::MediaLocation::Url("https://media.gk/1".into())),
    }
}

fn media_ctx() -> IncomingContext<'static> {
    IncomingContext { media_url: Some(owned_mxc_uri!("mxc://hs.example/up")), ..ctx() }
}

#[test]
fn each_media_kind() {
    let mut image = media(MediaKind::Image, "image/jpeg", "cat.jpg");
    (image.width, image.height) = (640, 480);
    let c = Content { media: Some(image), ..Content::text("a *cat*") };
    let json = sent(&c, &media_ctx());
    assert_eq!(
        json,
        json!({"msgtype": "m.image", "body": "a *cat*", "format": "org.matrix.custom.html",
            "formatted_body": "a <strong>cat</strong>", "filename": "cat.jpg", "url": "mxc://hs.example/up",
            "info": {"mimetype": "image/jpeg", "size": 4096, "w": 640, "h": 480}, "m.mentions": {}})
    );

    let mut video = media(MediaKind::Video, "video/mp4", "");
    (video.width, video.height, video.duration_ms) = (1280, 720, 9_000);
    let json =
        sent(&Content { version: 1, media: Some(video), ..Default::default() }, &media_ctx());
    assert_eq!(
        (json["msgtype"].as_str(), json["body"].as_str()),
        (Some("m.video"), Some("video.mp4"))
    );
    assert_eq!(
        json["info"],
        json!({"mimetype": "video/mp4", "size": 4096, "w": 1280, "h": 720, "duration": 9000})
    );

    let mut audio = media(MediaKind::Audio, "audio/mpeg", "song.mp3");
    audio.duration_ms = 180_000;
    let json =
        sent(&Content { version: 1, media: Some(audio), ..Default::default() }, &media_ctx());
    assert_eq!(
        (json["msgtype"].as_str(), json["info"]["duration"].as_u64()),
        (Some("m.audio"), Some(180_000))
    );
    assert!(json.get("org.matrix.msc3245.voice").is_none());

    let mut voice = media(MediaKind::Voice, "audio/ogg; codecs=opus", "");
    voice.duration_ms = 4_200;
    let json =
        sent(&Content { version: 1, media: Some(voice), ..Default::default() }, &media_ctx());
    assert_eq!(
        (json["msgtype"].as_str(), json["body"].as_str()),
        (Some("m.audio"), Some("voice-message.ogg"))
    );
    assert_eq!(json["org.matrix.msc3245.voice"], json!({}));
    assert_eq!(json["org.matrix.msc1767.audio"], json!({"duration": 4200}));

    let file = media(MediaKind::File, "application/pdf", "../../etc/report.pdf");
    let json = sent(&Content { version: 1, media: Some(file), ..Default::default() }, &media_ctx());
    assert_eq!(
        json,
        json!({"msgtype": "m.file", "body": "report.pdf", "filename": "report.pdf", "url": "mxc://hs.example/up",
            "info": {"mimetype": "application/pdf", "size": 4096}, "m.mentions": {}})
    );

    let mut unknown = media(MediaKind::File, "not a mime\n", "");
    unknown.kind = 42;
    let json =
        sent(&Content { version: 1, media: Some(unknown), ..Default::default() }, &media_ctx());
    assert_eq!((json["msgtype"].as_str(), json["body"].as_str()), (Some("m.file"), Some("file")));
    assert_eq!(json["info"], json!({"size": 4096}));
}

#[test]
fn media_needs_an_upload() {
    let c = Content {
        version: 1,
        media: Some(media(MediaKind::Image, "image/png", "x.png")),
        ..Default::default()
    };
    assert_eq!(content_to_matrix(&c, &ctx()).err(), Some(IncomingError::MediaNotUploaded));
}

#[test]
fn reactions_and_deletes() {
    let react = |emoji: &str, revoke| Content {
        version: 1,
        reaction: Some(Reaction { target: Some(msg_ref("m1")), emoji: emoji.into(), revoke }),
        ..Default::default()
    };
    let ctx = IncomingContext { reaction_target: Some(owned_event_id!("$m1")), ..ctx() };
    let Ok(MatrixAction::React(r)) = content_to_matrix(&react("❤️", false), &ctx) else {
        panic!()
    };
    assert_eq!(
        serde_json::to_value(&r).expect("serialises"),
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m1", "key": "❤️"}})
    );
    assert!(matches!(content_to_matrix(&react("", true), &ctx),
        Ok(MatrixAction::RevokeReaction { target }) if target == msg_ref("m1")));
    assert_eq!(
        content_to_matrix(&react("👍", false), &super::tests::ctx()).err(),
        Some(IncomingError::UnknownReactionTarget)
    );
    let delete = Content { version: 1, delete: Some(msg_ref("m2")), ..Default::default() };
    assert!(matches!(content_to_matrix(&delete, &ctx),
        Ok(MatrixAction::Redact { target }) if target == msg_ref("m2")));
}

#[test]
fn unreadable_content_is_still_shown() {
    let newer = Content { version: 2, ..Content::text("from the future") };
    assert_eq!(sent(&newer, &ctx())["body"], "from the future");
    let invalid = Content { delete: Some(msg_ref("m")), ..Content::text("both") };
    let json = sent(&invalid, &ctx());
    assert_eq!(
        (json["msgtype"].as_str(), json["body"].as_str()),
        (Some("m.notice"), Some(UNSUPPORTED))
    );
    let empty = Content { version: 1, ..Default::default() };
    assert_eq!(sent(&empty, &ctx())["body"], UNSUPPORTED);
}
