use proptest::prelude::*;

use super::*;
use crate::media_crypto;

fn msg_ref(id: &str) -> Option<MessageRef> {
    Some(MessageRef { id: id.into(), sender: "4915112345678@native".into() })
}

fn round_trip(c: &Content) -> ContentKind {
    let kind = c.validate().unwrap();
    let back = Content::decode(&c.encode()).unwrap();
    assert_eq!(&back, c);
    let env = Envelope { content: Some(c.clone()), ..Default::default() };
    let bytes = env.encode_padded();
    assert_eq!(bytes.len() % 64, 0, "padded to 64: {}", bytes.len());
    assert_eq!(Envelope::decode(&bytes).unwrap().content.as_ref(), Some(c));
    kind
}

#[test]
fn every_kind_round_trips() {
    let mut text = Content::text("hello @bob, *look*");
    text.html = "hello <a href=\"interop:user/2@native\">@bob</a>, <b>look</b>".into();
    text.mentions.push(Mention { user: "2@native".into(), offset: 6, length: 4 });
    text.in_reply_to = msg_ref("m0");
    assert_eq!(round_trip(&text), ContentKind::Text);

    let enc = media_crypto::encrypt(b"jpeg bytes");
    let mut media = enc.to_media_ref(
        MediaKind::Image,
        "image/jpeg",
        MediaLocation::StorageReference("r/1".into()),
    );
    media.filename = "cat.jpg".into();
    media.width = 640;
    media.height = 480;
    let photo = Content { media: Some(media.clone()), ..Content::text("a cat") };
    assert_eq!(photo.caption(), Some("a cat"));
    assert_eq!(round_trip(&photo), ContentKind::Media);
    assert!(!format!("{photo:?}").contains(&format!("{:?}", media.key)));

    let mut voice = enc.to_media_ref(
        MediaKind::Voice,
        "audio/ogg",
        MediaLocation::Url("https://media.gk/v/1".into()),
    );
    voice.duration_ms = 3200;
    assert_eq!(
        round_trip(&Content { version: 1, media: Some(voice), ..Default::default() }),
        ContentKind::Media
    );

    let react = Content {
        version: 1,
        reaction: Some(Reaction { target: msg_ref("m1"), emoji: "👍".into(), revoke: false }),
        ..Default::default()
    };
    assert_eq!(round_trip(&react), ContentKind::Reaction);
    let revoke = Content {
        version: 1,
        reaction: Some(Reaction { target: msg_ref("m1"), emoji: String::new(), revoke: true }),
        ..Default::default()
    };
    assert_eq!(round_trip(&revoke), ContentKind::Reaction);
    let edit = Content { replaces: msg_ref("m1"), ..Content::text("fixed typo") };
    assert_eq!(round_trip(&edit), ContentKind::Edit);
    let delete = Content { version: 1, delete: msg_ref("m1"), ..Default::default() };
    assert_eq!(round_trip(&delete), ContentKind::Delete);
}

#[test]
fn invalid_combinations_are_refused() {
    let bad = [
        Content { version: 1, ..Default::default() },
        Content { version: 2, ..Content::text("x") },
        Content { delete: msg_ref("m"), ..Content::text("x") },
        Content { replaces: msg_ref("m"), delete: msg_ref("m"), ..Default::default() },
        Content {
            mentions: vec![Mention { user: "u@x".into(), offset: 1, length: 1 }],
            ..Content::text("é")
        },
        Content {
            version: 1,
            reaction: Some(Reaction { target: None, emoji: "x".into(), revoke: false }),
            ..Default::default()
        },
        Content {
            version: 1,
            media: Some(MediaRef { key: vec![1], ..Default::default() }),
            ..Default::default()
        },
    ];
    for c in bad {
        assert!(Content::decode(&c.encode()).is_err(), "{c:?}");
    }
    assert!(matches!(Content::decode(&[0xff; 3]), Err(ContentError::Malformed(_))));
    assert!(matches!(
        Content::decode(&vec![0; MAX_CONTENT_SIZE + 1]),
        Err(ContentError::TooLarge(_))
    ));
}

fn arb_ref() -> impl Strategy<Value = Option<MessageRef>> {
    proptest::option::of(
        ("[a-z0-9]{1,16}", "[0-9]{1,12}@native").prop_map(|(id, sender)| MessageRef { id, sender }),
    )
}

fn arb_text_content() -> impl Strategy<Value = Content> {
    ("\\PC{1,200}", "\\PC{0,50}", arb_ref(), arb_ref()).prop_map(|(text, html, reply, replaces)| {
        Content { version: 1, text, html, in_reply_to: reply, replaces, ..Default::default() }
    })
}

proptest! {
    #[test]
    fn text_content_round_trips(c in arb_text_content()) {
        let back = Content::decode(&c.encode()).unwrap();
        prop_assert_eq!(back, c);
    }

    #[test]
    fn media_round_trips(kind in 1i32..=5, size in 0u64..u64::MAX, w in any::<u32>(), name in "\\PC{0,40}", url in any::<bool>()) {
        let location = if url { MediaLocation::Url(format!("https://m/{w}")) } else { MediaLocation::StorageReference(name.clone()) };
        let m = MediaRef { kind, mime: "application/octet-stream".into(), size, sha256: vec![1; 32], key: vec![2; 32], iv: vec![3; 16], filename: name, width: w, scheme: 1, location: Some(location), ..Default::default() };
        let c = Content { version: 1, media: Some(m), ..Default::default() };
        prop_assert_eq!(Content::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn padding_is_a_multiple_of_64(text in "\\PC{1,300}") {
        let env = Envelope { content: Some(Content::text(text)), ..Default::default() };
        let bytes = env.encode_padded();
        prop_assert_eq!(bytes.len() % 64, 0);
        prop_assert_eq!(Envelope::decode(&bytes).unwrap().content, env.content);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(c) = Content::decode(&bytes) {
            // whatever decodes re-encodes to something that decodes the same
            prop_assert_eq!(Content::decode(&c.encode()).unwrap(), c);
        }
        let _ = Envelope::decode(&bytes);
    }
}
