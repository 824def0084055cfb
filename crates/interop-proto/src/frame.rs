//! Turning a [`Stanza`] into bytes and back, with a size limit and a version
//! check.
//!
//! This is the only place outside bytes become stanzas, so it is the fuzz
//! target: every malformed input must end as a [`FrameError`], never a panic.

use prost::Message as _;

use crate::stanza::{Frame, Stanza};

/// The major protocol version this build speaks. Bumped only for changes an
/// older peer cannot skip; additions keep the version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default largest encoded frame, in bytes. Media travels out of band, so
/// 1 MiB leaves room for large groups' fan-out key parts.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1024 * 1024;

/// Why a frame could not be decoded (or encoded).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("malformed frame: {0}")]
    Malformed(#[from] prost::DecodeError),
    #[error("protocol version {0} is not supported (this build speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u32),
    /// A well-formed frame with a stanza type this build does not know.
    /// Receivers skip it (forward compatibility) rather than closing.
    #[error("unknown stanza type")]
    UnknownStanza,
}

/// Encodes one stanza as a frame of the current version.
pub fn encode(stanza: &Stanza) -> Vec<u8> {
    Frame { version: PROTOCOL_VERSION, stanza: Some(stanza.clone()) }.encode_to_vec()
}

/// Encodes, refusing frames over `max` bytes so the peer never has to.
pub fn encode_checked(stanza: &Stanza, max: usize) -> Result<Vec<u8>, FrameError> {
    let bytes = encode(stanza);
    if bytes.len() > max {
        return Err(FrameError::TooLarge { size: bytes.len(), max });
    }
    Ok(bytes)
}

/// Decodes one frame. Never panics on any input.
pub fn decode(bytes: &[u8], max: usize) -> Result<Stanza, FrameError> {
    if bytes.len() > max {
        return Err(FrameError::TooLarge { size: bytes.len(), max });
    }
    let frame = Frame::decode(bytes)?;
    if frame.version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(frame.version));
    }
    frame.stanza.ok_or(FrameError::UnknownStanza)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stanza::*;

    #[test]
    fn round_trip_and_errors() {
        let s = Stanza::Close(Close { code: CloseCode::Normal as i32, reason: "bye".into() });
        let bytes = encode(&s);
        assert_eq!(decode(&bytes, DEFAULT_MAX_FRAME_SIZE).unwrap(), s);
        assert!(matches!(decode(&bytes, 2), Err(FrameError::TooLarge { .. })));
        assert!(matches!(encode_checked(&s, 2), Err(FrameError::TooLarge { .. })));
        assert!(matches!(decode(&[0xff, 0xff], 64), Err(FrameError::Malformed(_))));
        // version 2 frame
        let v2 = Frame { version: 2, stanza: Some(s.clone()) }.encode_to_vec();
        assert!(matches!(decode(&v2, 64), Err(FrameError::UnsupportedVersion(2))));
        // a stanza type from the future: field 99, length-delimited, empty
        let mut future = Frame { version: 1, stanza: None }.encode_to_vec();
        future.extend_from_slice(&[0x9a, 0x06, 0x00]);
        assert!(matches!(decode(&future, 64), Err(FrameError::UnknownStanza)));
    }
}
