//! A stored portal queue item (`PortalWork` JSON), as the portal worker reads it after a
//! restart: no panic, whatever parses survives a JSON round trip unchanged, and stored remote
//! content decodes or is refused cleanly.
#![no_main]

use interop_bridge::bridge::work::PortalWork;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(work) = serde_json::from_slice::<PortalWork>(data) else { return };
    let json = serde_json::to_string(&work).expect("stored work serialises");
    let again: PortalWork = serde_json::from_str(&json).expect("serialised work parses again");
    assert_eq!(serde_json::to_string(&again).expect("serialises"), json);
    match &work {
        PortalWork::Matrix { event } => {
            let _ = event.deserialize();
        }
        PortalWork::RemoteMessage { content, .. } => {
            let _ = PortalWork::decode_content(content);
        }
        _ => {}
    }
});
