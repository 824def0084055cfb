//! Frame/stanza decoder on arbitrary bytes: must never panic, and whatever
//! decodes must re-encode to the same stanza.
#![no_main]

use interop_proto::frame::{self, DEFAULT_MAX_FRAME_SIZE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(stanza) = frame::decode(data, DEFAULT_MAX_FRAME_SIZE) {
        let again = frame::encode(&stanza);
        assert_eq!(frame::decode(&again, DEFAULT_MAX_FRAME_SIZE).ok(), Some(stanza));
    }
});
