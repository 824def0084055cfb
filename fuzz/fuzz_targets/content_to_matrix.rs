//! Any decrypted content a gatekeeper user can send, as the protobuf bytes the bridge stores,
//! converted to what the bridge does in Matrix: no panic, and every message is one ruma
//! serialises, whose HTML is in the Matrix subset we write (no script, no unknown tags).
//!
//! Input: byte 0 picks what the bridge found in its store (reply target, edited message,
//! reacted-to message, uploaded media); the rest is the content, decoded as the portal worker
//! decodes it (`PortalWork::decode_content`, without validation).
#![no_main]

use base64::{Engine as _, engine::general_purpose::STANDARD};
use interop_bridge::{
    bridge::work::PortalWork,
    convert::{self, IncomingContext, MatrixAction, ReplyTarget},
};
use interop_bridge_fuzz::{assert_subset_html, ghost_of};
use libfuzzer_sys::fuzz_target;
use ruma::{OwnedEventId, owned_event_id, owned_mxc_uri, owned_user_id};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let Ok(content) = PortalWork::decode_content(&STANDARD.encode(bytes)) else { return };
    let event = |on: bool| -> Option<OwnedEventId> { on.then(|| owned_event_id!("$known")) };
    let ctx = IncomingContext {
        reply_to: event(flags & 1 != 0)
            .map(|event_id| ReplyTarget { event_id, sender: owned_user_id!("@alice:example.org") }),
        replaces: event(flags & 2 != 0),
        reaction_target: event(flags & 4 != 0),
        media_url: (flags & 8 != 0).then(|| owned_mxc_uri!("mxc://example.org/media")),
        ghost: &ghost_of,
    };
    let Ok(action) = convert::content_to_matrix(&content, &ctx) else { return };
    match action {
        MatrixAction::Message(message) => {
            let json = serde_json::to_value(&*message).expect("ruma serialises its content");
            let html = json.get("formatted_body").and_then(|v| v.as_str()).unwrap_or_default();
            assert_subset_html(html);
            if let Some(new) = json.get("m.new_content") {
                assert_subset_html(
                    new.get("formatted_body").and_then(|v| v.as_str()).unwrap_or_default(),
                );
            }
            let back: ruma::events::room::message::RoomMessageEventContent =
                serde_json::from_value(json.clone()).expect("what we send, we can read");
            let _ = back;
        }
        MatrixAction::React(reaction) => {
            serde_json::to_value(&reaction).expect("ruma serialises its content");
        }
        MatrixAction::RevokeReaction { .. } | MatrixAction::Redact { .. } => {}
    }
});
