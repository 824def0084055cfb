//! Degradation of any content (decoded from arbitrary protobuf bytes) to any capability set: no
//! panic, a message that is dropped comes with a notice, and valid content (all the converters
//! make) stays valid and needs no capability that is missing.
//!
//! Input: byte 0 is the capability set, the rest the content.
#![no_main]

use interop_bridge::convert::{self, OutgoingMessage};
use interop_bridge_fuzz::capabilities;
use interop_proto::{Capability::*, content::Content};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&caps, bytes)) = data.split_first() else { return };
    let Ok(content) = <Content as prost::Message>::decode(bytes) else { return };
    let was_valid = content.validate().is_ok();
    let caps = capabilities(caps);
    let degraded = convert::degrade(&caps, OutgoingMessage::from(content.clone()), "Messenger");
    let Some(sent) = degraded.send else {
        assert!(degraded.notice.is_some(), "dropped without a notice: {content:?}");
        return;
    };
    // The converters only ever make valid content; anything else has no promises to keep.
    if !was_valid {
        return;
    }
    let c = &sent.content;
    let has = |cap| caps.contains(&cap);
    assert!(has(Media) || c.media.is_none(), "media without the media capability");
    assert!(has(Edits) || c.replaces.is_none(), "an edit without the edits capability");
    assert!(has(Replies) || c.in_reply_to.is_none(), "a reply without the replies capability");
    assert!(has(Reactions) || c.reaction.is_none(), "a reaction without the capability");
    assert!(has(Deletes) || c.delete.is_none(), "a delete without the capability");
    if let Err(error) = c.validate() {
        panic!("valid content became invalid ({error}): {content:?} -> {c:?}");
    }
});
