//! Content and envelope decoders on arbitrary bytes: must never panic, and
//! valid content must round-trip.
#![no_main]

use interop_proto::content::{Content, Envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(content) = Content::decode(data) {
        assert_eq!(Content::decode(&content.encode()).ok(), Some(content));
    }
    if let Ok(env) = Envelope::decode(data) {
        let _ = Envelope::decode(&env.encode_padded());
    }
});
