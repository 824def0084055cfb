//! Any `m.room.message` content a Matrix client can send, converted for the gatekeeper and then
//! degraded to a capability set, as the portal worker does: no panic, and whatever would be sent
//! is content the recipient accepts (`Content::validate`) in the HTML subset.
//!
//! Input: byte 0 picks the context (reply, edit target, voice), byte 1 the capabilities, the
//! rest is the content JSON.
#![no_main]

use interop_bridge::convert::{self, MAX_TEXT, OutgoingContext};
use interop_bridge_fuzz::{assert_subset_html, capabilities, ghost_id_of};
use interop_proto::content::MessageRef;
use libfuzzer_sys::fuzz_target;
use ruma::events::room::message::RoomMessageEventContent;

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, caps], json)) = data.split_first_chunk::<2>() else { return };
    let Ok(content) = serde_json::from_slice::<RoomMessageEventContent>(json) else { return };
    let target = |id: &str| MessageRef { id: id.into(), sender: "491701234567@native".into() };
    let ctx = OutgoingContext {
        reply_to: (flags & 1 != 0).then(|| target("REPLY")),
        replaces: (flags & 2 != 0).then(|| target("EDITED")),
        voice: flags & 4 != 0,
        ghost_id: &ghost_id_of,
    };
    let Ok(message) = convert::message_to_remote(&content, &ctx) else { return };
    assert!(message.content.text.len() <= MAX_TEXT && message.content.html.len() <= MAX_TEXT);
    assert_subset_html(&message.content.html);

    let caps = capabilities(caps);
    let degraded = convert::degrade(&caps, message, "WhatsApp");
    let Some(mut sent) = degraded.send else {
        assert!(degraded.notice.is_some(), "a message dropped without telling the user");
        return;
    };
    if let Some(media) = &sent.media {
        // What the I/O layer does once it hosted the blob.
        let reference = convert::media_ref(media, &[1; 32], &[2; 16], &[3; 32], 9, "ref".into());
        sent.content.media = Some(reference);
    }
    let c = &sent.content;
    if let Err(error) = c.validate() {
        panic!("the recipient would refuse this content ({error}): {c:?}");
    }
    assert_subset_html(&c.html);
    let has = |cap| caps.contains(&cap);
    use interop_proto::Capability::*;
    assert!(has(Media) || c.media.is_none(), "media without the media capability");
    assert!(has(Edits) || c.replaces.is_none(), "an edit without the edits capability");
    assert!(has(Replies) || c.in_reply_to.is_none(), "a reply without the replies capability");
});
