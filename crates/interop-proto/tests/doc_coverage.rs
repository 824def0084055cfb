//! The spec must document every stanza type, error code and capability the
//! code defines; this test reads the lists from the code.

use interop_proto::stanza::StanzaKind;
use interop_proto::{Capability, ErrorCode};

fn spec() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/interop-protocol.md");
    std::fs::read_to_string(path).expect("docs/interop-protocol.md exists")
}

#[test]
fn every_stanza_type_is_specified() {
    let doc = spec();
    for kind in StanzaKind::ALL {
        let heading = format!("### `{}`", kind.name());
        assert!(doc.contains(&heading), "missing section {heading}");
        let tag = format!("| {} | `{}`", kind.tag(), kind.name());
        assert!(doc.contains(&tag), "missing frame tag row {tag}");
    }
}

#[test]
fn every_error_code_is_specified() {
    let doc = spec();
    for code in ErrorCode::ALL {
        let row = format!("| {} |", code.as_u32());
        assert!(doc.contains(&row), "missing error code row {row}");
    }
}

#[test]
fn every_capability_is_specified() {
    let doc = spec();
    for cap in Capability::KNOWN {
        let name = format!("`{}`", cap.as_str());
        assert!(doc.contains(&name), "missing capability {name}");
    }
}
