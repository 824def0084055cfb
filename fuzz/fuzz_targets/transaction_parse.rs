//! A homeserver transaction body, as the appservice route and then the worker read it.
#![no_main]

use interop_bridge::bridge::transaction::TransactionBody;
use libfuzzer_sys::fuzz_target;
use ruma::api::{IncomingRequest, appservice::event::push_events};

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
    if let Ok(body) = TransactionBody::parse(text) {
        for event in &body.events {
            let _ = event.deserialize();
        }
        for event in body.ephemeral() {
            let _ = event.deserialize();
        }
    }
});
