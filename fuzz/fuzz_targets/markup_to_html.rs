//! Gatekeeper markup from any native user, converted to Matrix HTML.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(html) = interop_bridge::convert::markup_to_html(text)
    {
        // Whatever the input, the output must not carry markup the input did not ask for.
        assert!(!html.contains("<script"));
    }
});
