//! The media reference inside encrypted content: where the encrypted blob
//! lives and the key and hash to open and check it.
//!
//! Its key is a secret, so `Debug` redacts it.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MediaKind {
    Unspecified = 0,
    Image = 1,
    Video = 2,
    Audio = 3,
    /// A voice note (audio recorded in the chat, shown as such).
    Voice = 4,
    File = 5,
}

/// Where the encrypted blob can be fetched.
#[derive(Clone, PartialEq, Eq, prost::Oneof)]
pub enum MediaLocation {
    /// Native media: an absolute URL on the gatekeeper's media host.
    #[prost(string, tag = "20")]
    Url(String),
    /// Partner-hosted media: the partner serves it at
    /// `{partner_base}/{storage_reference}`; the gatekeeper fetches it there.
    #[prost(string, tag = "21")]
    StorageReference(String),
}

/// A reference to an encrypted blob (see `media_crypto`).
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct MediaRef {
    #[prost(enumeration = "MediaKind", tag = "1")]
    pub kind: i32,
    /// MIME type of the plaintext, e.g. `image/jpeg`.
    #[prost(string, tag = "2")]
    pub mime: String,
    /// Size of the encrypted blob in bytes (equal to the plaintext size: CTR mode).
    #[prost(uint64, tag = "3")]
    pub size: u64,
    /// SHA-256 of the encrypted blob, 32 bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub sha256: Vec<u8>,
    /// AES-256 key, 32 bytes. Secret.
    #[prost(bytes = "vec", tag = "5")]
    pub key: Vec<u8>,
    /// AES-CTR initial counter block, 16 bytes.
    #[prost(bytes = "vec", tag = "6")]
    pub iv: Vec<u8>,
    /// Suggested file name; may be empty.
    #[prost(string, tag = "7")]
    pub filename: String,
    /// Pixels; 0 if unknown or not visual.
    #[prost(uint32, tag = "8")]
    pub width: u32,
    #[prost(uint32, tag = "9")]
    pub height: u32,
    /// Playing time in ms; 0 if unknown or not audio/video.
    #[prost(uint32, tag = "10")]
    pub duration_ms: u32,
    /// Blob encryption scheme: 1 = AES-256-CTR + SHA-256 (the only one).
    #[prost(uint32, tag = "11")]
    pub scheme: u32,
    #[prost(oneof = "MediaLocation", tags = "20, 21")]
    pub location: Option<MediaLocation>,
}

impl fmt::Debug for MediaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaRef")
            .field("kind", &MediaKind::try_from(self.kind).unwrap_or(MediaKind::Unspecified))
            .field("mime", &self.mime)
            .field("size", &self.size)
            .field("sha256", &crate::hex(&self.sha256))
            .field("key", &"<redacted>")
            .field("filename", &self.filename)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("duration_ms", &self.duration_ms)
            .field("location", &self.location)
            .finish()
    }
}
