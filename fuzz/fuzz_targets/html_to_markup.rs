//! Matrix HTML from any client, converted to gatekeeper markup.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(html) = std::str::from_utf8(data) {
        let markup = interop_bridge::convert::html_to_markup(html);
        // The result is text for the gatekeeper: it must be bounded by its input.
        assert!(markup.len() <= html.len() * 4 + 16);
    }
});
