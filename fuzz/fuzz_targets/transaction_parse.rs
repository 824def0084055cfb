//! A homeserver transaction body, as the appservice route and then the worker read it: what the
//! route accepts (and so stores) the worker can read, and each event goes through what the
//! worker does with it (deserialised, queued as `PortalWork` JSON and read back unchanged)
//! without a panic.
#![no_main]

use interop_bridge::{bridge::transaction::TransactionBody, bridge::work::PortalWork, convert};
use libfuzzer_sys::fuzz_target;
use ruma::{
    api::{IncomingRequest, appservice::event::push_events},
    events::room::message::RoomMessageEventContent,
    serde::Raw,
};

fuzz_target!(|data: &[u8]| {
    let request = http::Request::builder()
        .method("PUT")
        .uri("/_matrix/app/v1/transactions/1")
        .body(data)
        .expect("static request parts are valid");
    if push_events::v1::Request::try_from_http_request(request, &["1"]).is_err() {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The route refuses what the worker could not read, so nothing stored is skipped.
    let Ok(body) = TransactionBody::parse(text) else { return };
    for raw in &body.events {
        let Ok(event) = raw.deserialize() else { continue };
        let _ = (event.room_id(), event.sender(), event.event_type(), event.event_id());
        let queued = serde_json::to_string(&PortalWork::Matrix { event: raw.clone() })
            .expect("a queued event serialises");
        let PortalWork::Matrix { event: stored } =
            serde_json::from_str(&queued).expect("a queued event parses again")
        else {
            panic!("queued work changed its kind: {queued}");
        };
        assert_eq!(stored.json().get(), raw.json().get(), "the queue changed the event");
        assert!(stored.deserialize().is_ok(), "a queued event no longer parses");
        if let Ok(Some(content)) = stored.get_field::<Raw<RoomMessageEventContent>>("content") {
            let _ = convert::content_marks_voice(&content);
        }
    }
    for raw in body.ephemeral() {
        let _ = raw.deserialize();
    }
});
