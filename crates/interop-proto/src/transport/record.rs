//! Splitting frames into Noise transport messages and joining them again.
//!
//! A Noise message holds at most 65535 bytes, a frame up to the frame limit.
//! Each WebSocket binary message carries one Noise message whose plaintext is
//! a flag byte (0 = last piece, 1 = more follows) and a piece of the frame.

use snow::TransportState;

use super::TransportError;

/// Noise's maximum message size.
const NOISE_MAX: usize = 65535;
/// ChaChaPoly tag.
const TAG: usize = 16;
/// Largest frame piece per record.
pub(crate) const MAX_PIECE: usize = NOISE_MAX - TAG - 1;

/// Encrypts one frame into one or more records.
pub(crate) fn seal(
    noise: &mut TransportState,
    frame: &[u8],
) -> Result<Vec<Vec<u8>>, TransportError> {
    let mut out = Vec::with_capacity(frame.len() / MAX_PIECE + 1);
    let mut pieces = frame.chunks(MAX_PIECE).peekable();
    if frame.is_empty() {
        out.push(seal_piece(noise, &[], false)?);
    }
    while let Some(piece) = pieces.next() {
        out.push(seal_piece(noise, piece, pieces.peek().is_some())?);
    }
    Ok(out)
}

fn seal_piece(
    noise: &mut TransportState,
    piece: &[u8],
    more: bool,
) -> Result<Vec<u8>, TransportError> {
    let mut plain = Vec::with_capacity(piece.len() + 1);
    plain.push(u8::from(more));
    plain.extend_from_slice(piece);
    let mut buf = vec![0u8; plain.len() + TAG];
    let n = noise.write_message(&plain, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Joins records back into frames.
pub(crate) struct Assembler {
    buf: Vec<u8>,
    max_frame: usize,
    scratch: Vec<u8>,
}

impl Assembler {
    pub fn new(max_frame: usize) -> Self {
        Self { buf: Vec::new(), max_frame, scratch: vec![0u8; NOISE_MAX] }
    }

    /// Decrypts a record; returns a complete frame when the last piece arrives.
    pub fn open(
        &mut self,
        noise: &mut TransportState,
        record: &[u8],
    ) -> Result<Option<Vec<u8>>, TransportError> {
        if record.len() > NOISE_MAX {
            return Err(TransportError::RecordTooLarge);
        }
        let n = noise.read_message(record, &mut self.scratch)?;
        let (flag, piece) =
            self.scratch[..n].split_first().ok_or(TransportError::Handshake("empty record"))?;
        if self.buf.len() + piece.len() > self.max_frame {
            return Err(TransportError::RecordTooLarge);
        }
        self.buf.extend_from_slice(piece);
        match flag {
            0 => Ok(Some(std::mem::take(&mut self.buf))),
            1 => Ok(None),
            _ => Err(TransportError::Handshake("bad record flag")),
        }
    }
}
