//! The plaintext inside an encrypted `enc` part: what the user said.
//!
//! Modelled on IETF MIMI content (`inReplyTo`, `replaces`, reactions,
//! external encrypted parts) but encoded as protobuf like the stanzas.
//! A message is exactly one of: a post (text and/or media), a reaction,
//! an edit or a delete; [`Content::validate`] enforces that.

mod media;

pub use media::{MediaKind, MediaLocation, MediaRef};

use prost::Message as _;

/// Version of the content format; a receiver treats higher versions as
/// "unsupported content" and shows a fallback (the `text` field if any).
pub const CONTENT_VERSION: u32 = 1;

/// Largest content accepted, in bytes (text is limited to 64 KiB).
pub const MAX_CONTENT_SIZE: usize = 256 * 1024;

/// Points at an earlier message: the stanza message id plus its sender.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct MessageRef {
    #[prost(string, tag = "1")]
    pub id: String,
    /// Internal id of the original sender.
    #[prost(string, tag = "2")]
    pub sender: String,
}

/// A user mention covering a byte range of `text`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Mention {
    /// Internal id of the mentioned user.
    #[prost(string, tag = "1")]
    pub user: String,
    /// Byte offset into `text` (UTF-8), on a char boundary.
    #[prost(uint32, tag = "2")]
    pub offset: u32,
    /// Length in bytes.
    #[prost(uint32, tag = "3")]
    pub length: u32,
}

/// A reaction to a message, or its revocation.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Reaction {
    #[prost(message, optional, tag = "1")]
    pub target: Option<MessageRef>,
    /// One emoji grapheme; empty only when revoking.
    #[prost(string, tag = "2")]
    pub emoji: String,
    /// Remove this sender's reaction from `target`.
    #[prost(bool, tag = "3")]
    pub revoke: bool,
}

/// The structured message (the encrypted payload).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Content {
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Plain text body; for media, the caption. Always a usable fallback.
    #[prost(string, tag = "2")]
    pub text: String,
    /// Optional formatted body in the HTML subset of the spec; `text` must
    /// say the same in plain form.
    #[prost(string, tag = "3")]
    pub html: String,
    #[prost(message, repeated, tag = "4")]
    pub mentions: Vec<Mention>,
    #[prost(message, optional, tag = "5")]
    pub media: Option<MediaRef>,
    #[prost(message, optional, tag = "6")]
    pub in_reply_to: Option<MessageRef>,
    /// Edit: this content replaces the referenced message's body.
    #[prost(message, optional, tag = "7")]
    pub replaces: Option<MessageRef>,
    #[prost(message, optional, tag = "8")]
    pub reaction: Option<Reaction>,
    /// Delete the referenced message for everyone.
    #[prost(message, optional, tag = "9")]
    pub delete: Option<MessageRef>,
}

/// What a content is, once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    Text,
    Media,
    Reaction,
    Edit,
    Delete,
}

/// Why content was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("content of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("malformed content: {0}")]
    Malformed(#[from] prost::DecodeError),
    #[error("content version {0} is newer than this build ({CONTENT_VERSION})")]
    UnsupportedVersion(u32),
    #[error("invalid content: {0}")]
    Invalid(&'static str),
}

impl Content {
    /// A plain text message.
    pub fn text(body: impl Into<String>) -> Self {
        Self { version: CONTENT_VERSION, text: body.into(), ..Default::default() }
    }

    /// The caption of a media message (its `text`).
    pub fn caption(&self) -> Option<&str> {
        (self.media.is_some() && !self.text.is_empty()).then_some(self.text.as_str())
    }

    /// Checks the combination rules and returns what this content is.
    pub fn validate(&self) -> Result<ContentKind, ContentError> {
        use ContentError::Invalid;
        if self.version > CONTENT_VERSION {
            return Err(ContentError::UnsupportedVersion(self.version));
        }
        if self.text.len() > 64 * 1024 || self.html.len() > 64 * 1024 {
            return Err(Invalid("text longer than 64 KiB"));
        }
        for m in &self.mentions {
            let end = m.offset as usize + m.length as usize;
            let ok = end <= self.text.len()
                && self.text.is_char_boundary(m.offset as usize)
                && self.text.is_char_boundary(end);
            if !ok || m.user.is_empty() {
                return Err(Invalid("mention outside text or not on char boundaries"));
            }
        }
        let has_body = !self.text.is_empty() || self.media.is_some();
        let specials = [self.reaction.is_some(), self.delete.is_some(), self.replaces.is_some()];
        if specials.iter().filter(|b| **b).count() > 1 {
            return Err(Invalid("at most one of reaction, delete, replaces"));
        }
        if let Some(r) = &self.reaction {
            if has_body || self.in_reply_to.is_some() {
                return Err(Invalid("a reaction has no body and no reply"));
            }
            if r.target.is_none() || (r.emoji.is_empty() && !r.revoke) {
                return Err(Invalid("a reaction needs a target and an emoji unless revoking"));
            }
            return Ok(ContentKind::Reaction);
        }
        if self.delete.is_some() {
            if has_body {
                return Err(Invalid("a delete has no body"));
            }
            return Ok(ContentKind::Delete);
        }
        if self.replaces.is_some() {
            if self.text.is_empty() || self.media.is_some() {
                return Err(Invalid("an edit carries new text and no media"));
            }
            return Ok(ContentKind::Edit);
        }
        if let Some(m) = &self.media {
            if m.key.len() != 32 || m.sha256.len() != 32 || m.iv.len() != 16 {
                return Err(Invalid("media key, iv or hash has the wrong length"));
            }
            if m.location.is_none() {
                return Err(Invalid("media without a location"));
            }
            return Ok(ContentKind::Media);
        }
        if self.text.is_empty() {
            return Err(Invalid("empty message"));
        }
        Ok(ContentKind::Text)
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Decodes and validates. Never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        if bytes.len() > MAX_CONTENT_SIZE {
            return Err(ContentError::TooLarge(bytes.len()));
        }
        let content = <Self as prost::Message>::decode(bytes)?;
        content.validate()?;
        Ok(content)
    }
}

/// A group's sender key, handed to each member over pairwise sessions.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct SenderKeyDistribution {
    #[prost(string, tag = "1")]
    pub group: String,
    /// The sender-key session id (as in `Enc.sender_key_id`).
    #[prost(string, tag = "2")]
    pub session_id: String,
    /// The Megolm session key export. Secret.
    #[prost(bytes = "vec", tag = "3")]
    pub session_key: Vec<u8>,
}

impl std::fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("group", &self.group)
            .field("session_id", &self.session_id)
            .field("session_key", &"<redacted>")
            .finish()
    }
}

/// What is actually encrypted: content and/or a sender key, plus padding so
/// ciphertext length says little about the text.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Envelope {
    #[prost(message, optional, tag = "1")]
    pub content: Option<Content>,
    #[prost(message, optional, tag = "2")]
    pub sender_key: Option<SenderKeyDistribution>,
    /// Random-length filler; ignored.
    #[prost(bytes = "vec", tag = "15")]
    pub padding: Vec<u8>,
}

impl Envelope {
    /// Encodes with padding so the length is a multiple of 64 bytes.
    pub fn encode_padded(&self) -> Vec<u8> {
        let mut e = self.clone();
        e.padding.clear();
        let len = e.encoded_len();
        if !len.is_multiple_of(64) {
            // The padding field costs 2 header bytes (tag 15, one-byte length)
            // and is omitted when empty, so 0 bytes of padding means 64.
            let pad = (64 - (len + 2) % 64) % 64;
            e.padding = vec![0u8; if pad == 0 { 64 } else { pad }];
        }
        e.encode_to_vec()
    }

    /// Decodes; the content inside, if any, is validated.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        if bytes.len() > MAX_CONTENT_SIZE {
            return Err(ContentError::TooLarge(bytes.len()));
        }
        let env = <Self as prost::Message>::decode(bytes)?;
        if let Some(c) = &env.content {
            c.validate()?;
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests;
