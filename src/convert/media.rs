//! Attachment metadata: what pure code can say about an outgoing attachment, and the hygiene
//! both directions apply to file names and MIME types.
//!
//! Converting a Matrix media event cannot yield a complete `MediaRef`: the blob must first be
//! downloaded (and decrypted, in an encrypted room), encrypted under a fresh key and hosted for
//! the gatekeeper to fetch (protocol §9.2). [`OutgoingMedia`] tells the I/O layer what to fetch
//! and what the reference will say; [`media_ref`] assembles the reference once that is done.
//! File names and MIME types come from the other side's users, so they are cleaned on the way.

use std::fmt;

use interop_proto::content::{MediaKind, MediaLocation, MediaRef};
use interop_proto::media_crypto::MEDIA_SCHEME_AES_CTR_SHA256;
use ruma::events::room::MediaSource;

/// Longest file name passed on, in bytes (common file system limit).
const MAX_FILENAME: usize = 255;

/// An attachment the I/O layer must fetch from Matrix, encrypt and host.
#[derive(Clone)]
pub struct OutgoingMedia {
    /// Where the blob is: an `mxc://` URI, or a Matrix encrypted file with its key.
    pub source: MediaSource,
    pub kind: MediaKind,
    /// Plaintext MIME type (`info.mimetype`, else `application/octet-stream`).
    pub mime: String,
    /// A bare file name (no directories or control characters), never empty.
    pub filename: String,
    /// The size the sender claimed (`info.size`), 0 if none: a hint for limits before download.
    /// The reference carries the real size (see [`media_ref`]).
    pub claimed_size: u64,
    /// Pixels; 0 if unknown or not visual.
    pub width: u32,
    pub height: u32,
    /// Playing time; 0 if unknown or not audio/video.
    pub duration_ms: u32,
}

impl fmt::Debug for OutgoingMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An encrypted source holds the Matrix file key, a secret: show only its URI.
        let source = match &self.source {
            MediaSource::Plain(uri) => uri.to_string(),
            MediaSource::Encrypted(file) => format!("encrypted {}", file.url),
        };
        f.debug_struct("OutgoingMedia")
            .field("source", &source)
            .field("kind", &self.kind)
            .field("mime", &self.mime)
            .field("filename", &self.filename)
            .field("claimed_size", &self.claimed_size)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("duration_ms", &self.duration_ms)
            .finish()
    }
}

/// The reference for a blob the I/O layer has encrypted (scheme 1) and hosts at
/// `{partner_base}/{storage_reference}`. `size` is the byte count of the hosted blob, which
/// receivers check before decrypting, so it must be the real one, not the claimed one.
pub fn media_ref(
    desc: &OutgoingMedia,
    key: &[u8; 32],
    iv: &[u8; 16],
    sha256: &[u8; 32],
    size: u64,
    storage_reference: String,
) -> MediaRef {
    MediaRef {
        kind: desc.kind as i32,
        mime: desc.mime.clone(),
        size,
        sha256: sha256.to_vec(),
        key: key.to_vec(),
        iv: iv.to_vec(),
        filename: desc.filename.clone(),
        width: desc.width,
        height: desc.height,
        duration_ms: desc.duration_ms,
        scheme: MEDIA_SCHEME_AES_CTR_SHA256,
        location: Some(MediaLocation::StorageReference(storage_reference)),
    }
}

/// What a person calls this kind of attachment ("image", "voice message", …).
pub(crate) fn kind_label(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio file",
        MediaKind::Voice => "voice message",
        MediaKind::File | MediaKind::Unspecified => "file",
    }
}

/// A file name safe to pass on: the last path segment, without control characters, at most
/// 255 bytes, and `fallback` when nothing is left.
pub(crate) fn clean_filename(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let trimmed = clean.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return fallback.to_owned();
    }
    clean = trimmed.to_owned();
    if clean.len() > MAX_FILENAME {
        let mut end = MAX_FILENAME;
        while !clean.is_char_boundary(end) {
            end -= 1;
        }
        clean.truncate(end);
    }
    clean
}

/// The MIME type if it looks like one (`type/subtype`, printable ASCII, at most 255 bytes).
pub(crate) fn clean_mime(mime: &str) -> Option<String> {
    let ok = mime.len() <= 255
        && mime.split_once('/').is_some_and(|(t, s)| !t.trim().is_empty() && !s.trim().is_empty())
        && mime.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    ok.then(|| mime.to_owned())
}

#[cfg(test)]
mod tests {
    use interop_proto::content::Content;
    use ruma::events::room::{
        EncryptedFile, EncryptedFileHashes, EncryptedFileInfo, V2EncryptedFileInfo,
    };
    use ruma::owned_mxc_uri;

    use super::*;

    fn desc(source: MediaSource) -> OutgoingMedia {
        OutgoingMedia {
            source,
            kind: MediaKind::Image,
            mime: "image/png".into(),
            filename: "cat.png".into(),
            claimed_size: 10,
            width: 640,
            height: 480,
            duration_ms: 0,
        }
    }

    #[test]
    fn media_ref_is_valid_content() {
        let d = desc(MediaSource::Plain(owned_mxc_uri!("mxc://hs.example/abc")));
        let r = media_ref(&d, &[1; 32], &[2; 16], &[3; 32], 1234, "ref_1".into());
        assert_eq!((r.kind, r.size, r.width, r.height), (MediaKind::Image as i32, 1234, 640, 480));
        assert_eq!((r.mime.as_str(), r.filename.as_str()), ("image/png", "cat.png"));
        assert_eq!(r.location, Some(MediaLocation::StorageReference("ref_1".into())));
        let c = Content { version: 1, media: Some(r), ..Default::default() };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn debug_hides_the_matrix_key() {
        let info = EncryptedFileInfo::V2(V2EncryptedFileInfo::encode([7; 32], [8; 16]));
        let file = EncryptedFile::new(
            owned_mxc_uri!("mxc://hs.example/enc"),
            info,
            EncryptedFileHashes::with_sha256([9; 32]),
        );
        let shown = format!("{:?}", desc(MediaSource::Encrypted(Box::new(file))));
        assert!(shown.contains("encrypted mxc://hs.example/enc"), "{shown}");
        assert!(!shown.contains("BwcH"), "{shown}");
    }

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../../etc/passwd", "file"), "passwd");
        assert_eq!(clean_filename("C:\\x\\a b.txt", "file"), "a b.txt");
        assert_eq!(clean_filename("a\u{0}\nb", "file"), "ab");
        assert_eq!(clean_filename("  ", "image"), "image");
        assert_eq!(clean_filename("..", "file"), "file");
        let long = "é".repeat(200);
        let cut = clean_filename(&long, "file");
        assert!(cut.len() <= 255 && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn mime_types_are_checked() {
        assert_eq!(clean_mime("audio/ogg; codecs=opus").as_deref(), Some("audio/ogg; codecs=opus"));
        for bad in ["", "jpeg", "image/", "/x", "text/html\r\nX-Evil: 1", "image/pñg"] {
            assert_eq!(clean_mime(bad), None, "{bad:?}");
        }
        assert_eq!(clean_mime(&format!("a/{}", "b".repeat(300))), None);
    }
}
