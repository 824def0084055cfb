//! The other parsers of outside input: handshake hellos (protobuf), the
//! enlistment and push JSON bodies, and JWT verification of arbitrary tokens.
#![no_main]

use std::sync::OnceLock;

use interop_proto::auth::{Expected, JwkSet, JwtSigner, Scope, verify};
use interop_proto::enlist::{EnlistRequest, EnlistResponse};
use interop_proto::push::PushRequest;
use interop_proto::transport::{ClientHello, ServerHello};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fn jwks() -> &'static JwkSet {
    static JWKS: OnceLock<JwkSet> = OnceLock::new();
    JWKS.get_or_init(|| JwtSigner::from_seed("k1", [7; 32]).jwks())
}

fuzz_target!(|data: &[u8]| {
    let _ = ClientHello::decode(data);
    let _ = ServerHello::decode(data);
    if let Ok(req) = serde_json::from_slice::<EnlistRequest>(data) {
        let _ = req.validate();
        let _ = req.key_bundle();
    }
    let _ = serde_json::from_slice::<EnlistResponse>(data);
    let _ = serde_json::from_slice::<PushRequest>(data);
    if let Ok(token) = std::str::from_utf8(data) {
        let expected = Expected {
            issuer: "example.org",
            audience: "gk",
            scope: Scope::Chat,
            authkey: Some(&[1; 32]),
        };
        let _ = verify(token, jwks(), &expected);
    }
});
