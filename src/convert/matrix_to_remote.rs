//! Matrix → interop: what a Matrix user sends, as the interop [`Content`] the gatekeeper relays.
//!
//! The bridge core resolves everything that needs the store (which interop message a reply or
//! edit points at, which Matrix users are ghosts) and passes it in; this module only translates.
//!
//! - Text, notices and emotes: `text` is plain text for clients without HTML. A formatted body
//!   becomes `html` in the protocol's subset, and `text` is then derived from that same HTML as
//!   WhatsApp-style markup (`*bold*`), so both say the same and a plain-text recipient still sees
//!   the styling. Emotes get the `/me ` prefix, as mautrix-whatsapp sends them: it needs no
//!   display name and reads naturally to WhatsApp users.
//! - Reply fallbacks (`<mx-reply>` in HTML; leading `> <@user> …` lines in a reply's body) are
//!   stripped: the reply itself travels as `in_reply_to`.
//! - Mentions: a pill (`https://matrix.to/#/@user:server` or `matrix:u/user:server`) of a ghost
//!   becomes a [`Mention`] over its text and an `interop:user/<id>` link; pills of other Matrix
//!   users stay plain text. Without HTML, a ghost listed in `m.mentions` is a mention where its
//!   user ID appears literally in the body.
//! - Media: the caption (Matrix media captions: `body` when `filename` is set and differs) is the
//!   `text`, and an [`OutgoingMedia`] says what the I/O layer must fetch, encrypt and host.
//! - Edits (`m.replace`) send the converted `m.new_content` with `replaces`; reactions and
//!   redactions become reaction, revoke and delete contents.

use interop_proto::content::{CONTENT_VERSION, Content, MediaKind, Mention, MessageRef, Reaction};
use ruma::events::Mentions;
use ruma::events::reaction::ReactionEventContent;
use ruma::events::room::MediaSource;
use ruma::events::room::message::sanitize::remove_plain_reply_fallback;
use ruma::events::room::message::{
    FormattedBody, MessageFormat, MessageType, Relation, RoomMessageEventContent,
};
use ruma::serde::Raw;
use ruma::{MatrixToUri, MatrixUri, OwnedUserId, UInt, UserId, matrix_uri::MatrixId};

use super::emoji::is_single_emoji;
use super::html_subset::{LinkAction, escape_attr, escape_text, plain_link, to_subset};
use super::media::{OutgoingMedia, clean_filename, clean_mime, kind_label};
use super::{html_to_markup, placeholder, prefix};

/// Longest `text` or `html` the protocol accepts (§8.2).
pub const MAX_TEXT: usize = 64 * 1024;

/// What the caller resolved about a Matrix message before converting it.
pub struct OutgoingContext<'a> {
    /// The interop message this one replies to (from `m.in_reply_to`, or a thread's latest
    /// message if the bridge maps threads to replies); `None` if not a reply or not known.
    pub reply_to: Option<MessageRef>,
    /// For an edit (`rel_type: m.replace`): the interop message it corrects.
    pub replaces: Option<MessageRef>,
    /// The raw content marks a voice note in a way ruma does not read (see
    /// [`content_marks_voice`]); `org.matrix.msc3245.voice` is read from the typed content anyway.
    pub voice: bool,
    /// A ghost's interop user id; `None` for Matrix users who are not ghosts.
    pub ghost_id: &'a dyn Fn(&UserId) -> Option<String>,
}

/// An outgoing message: the content, plus the attachment still to be fetched and hosted.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// For media, `media` is `None` until the I/O layer sets it (see `media_ref`).
    pub content: Content,
    pub media: Option<OutgoingMedia>,
}

impl From<Content> for OutgoingMessage {
    /// A content without an attachment (a reaction, a delete), e.g. to pass to `degrade`.
    fn from(content: Content) -> Self {
        Self { content, media: None }
    }
}

/// What a Matrix redaction removed, as the caller found it in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedactedEvent {
    /// A bridged message: delete it for everyone.
    Message(MessageRef),
    /// A bridged reaction on `target`: revoke it.
    Reaction { target: MessageRef },
}

/// Why a Matrix event cannot be sent to the gatekeeper (shown to the Matrix user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unbridgeable {
    #[error("{0} messages cannot be sent to this chat")]
    Unsupported(String),
    #[error("the message is empty")]
    Empty,
    #[error("the message is {0} bytes long; at most 64 KiB can be sent")]
    TooLong(usize),
    #[error("the edited message was never bridged, so the edit cannot be")]
    UnknownEditTarget,
    #[error("only a single emoji can be sent as a reaction, not {0:?}")]
    NotAnEmoji(String),
}

/// Converts an `m.room.message` (text, notice, emote, image, video, audio, voice, file, or an
/// edit of one) into interop content.
pub fn message_to_remote(
    content: &RoomMessageEventContent,
    ctx: &OutgoingContext<'_>,
) -> Result<OutgoingMessage, Unbridgeable> {
    let mut message = if let Some(Relation::Replacement(replacement)) = &content.relates_to {
        let target = ctx.replaces.clone().ok_or(Unbridgeable::UnknownEditTarget)?;
        let new = &replacement.new_content;
        // An edit carries new text only; a media edit changes its caption.
        let (mut body, _) = convert(&new.msgtype, new.mentions.as_ref(), false, ctx)?;
        body.replaces = Some(target);
        OutgoingMessage { content: body, media: None }
    } else {
        let is_reply = ctx.reply_to.is_some()
            || matches!(&content.relates_to, Some(Relation::Reply(_)) | Some(Relation::Thread(_)));
        let (mut body, media) =
            convert(&content.msgtype, content.mentions.as_ref(), is_reply, ctx)?;
        body.in_reply_to = ctx.reply_to.clone();
        OutgoingMessage { content: body, media }
    };
    let c = &mut message.content;
    if c.text.len() > MAX_TEXT {
        return Err(Unbridgeable::TooLong(c.text.len()));
    }
    if c.html.len() > MAX_TEXT {
        // The text alone says the same.
        c.html.clear();
    }
    if c.text.is_empty() && message.media.is_none() {
        return Err(Unbridgeable::Empty);
    }
    Ok(message)
}

/// Converts an `m.reaction` on the interop message `target`.
pub fn reaction_to_remote(
    reaction: &ReactionEventContent,
    target: MessageRef,
) -> Result<Content, Unbridgeable> {
    let key = &reaction.relates_to.key;
    if !is_single_emoji(key) {
        return Err(Unbridgeable::NotAnEmoji(key.chars().take(32).collect()));
    }
    let reaction = Reaction { target: Some(target), emoji: key.clone(), revoke: false };
    Ok(Content { version: CONTENT_VERSION, reaction: Some(reaction), ..Default::default() })
}

/// Converts a redaction: a message is deleted, a reaction revoked.
pub fn redaction_to_remote(redacted: RedactedEvent) -> Content {
    let mut content = Content { version: CONTENT_VERSION, ..Default::default() };
    match redacted {
        RedactedEvent::Message(target) => content.delete = Some(target),
        RedactedEvent::Reaction { target } => {
            content.reaction =
                Some(Reaction { target: Some(target), emoji: String::new(), revoke: true });
        }
    }
    content
}

/// Whether raw `m.room.message` content marks a voice note, by the MSC3245 key or its stable
/// name `m.voice` (which ruma does not model); feeds [`OutgoingContext::voice`].
pub fn content_marks_voice(raw: &Raw<RoomMessageEventContent>) -> bool {
    ["m.voice", "org.matrix.msc3245.voice"]
        .iter()
        .any(|key| matches!(raw.get_field::<serde::de::IgnoredAny>(key), Ok(Some(_))))
}

/// The content (without relations) and attachment for one msgtype.
fn convert(
    msgtype: &MessageType,
    mentions: Option<&Mentions>,
    is_reply: bool,
    ctx: &OutgoingContext<'_>,
) -> Result<(Content, Option<OutgoingMedia>), Unbridgeable> {
    let text = |body: &str, formatted: Option<&FormattedBody>| {
        body_to_content(body, formatted, mentions, is_reply, ctx.ghost_id)
    };
    let caption = |caption: Option<&str>, formatted: Option<&FormattedBody>| match caption {
        Some(body) => text(body, formatted),
        None => Content { version: CONTENT_VERSION, ..Default::default() },
    };
    Ok(match msgtype {
        MessageType::Text(m) => (text(&m.body, m.formatted.as_ref()), None),
        MessageType::Notice(m) => (text(&m.body, m.formatted.as_ref()), None),
        MessageType::Emote(m) => {
            let mut content = text(&m.body, m.formatted.as_ref());
            prefix::prepend(&mut content, "/me ");
            (content, None)
        }
        MessageType::Image(m) => {
            let info = m.info.as_deref();
            let mut media = describe(
                MediaKind::Image,
                &m.source,
                m.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
            );
            media.width = pixels(info.and_then(|i| i.width));
            media.height = pixels(info.and_then(|i| i.height));
            (caption(m.caption(), m.formatted_caption()), Some(media))
        }
        MessageType::Video(m) => {
            let info = m.info.as_deref();
            let mut media = describe(
                MediaKind::Video,
                &m.source,
                m.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
            );
            media.width = pixels(info.and_then(|i| i.width));
            media.height = pixels(info.and_then(|i| i.height));
            media.duration_ms = millis(info.and_then(|i| i.duration));
            (caption(m.caption(), m.formatted_caption()), Some(media))
        }
        MessageType::Audio(m) => {
            let info = m.info.as_deref();
            let kind =
                if m.voice.is_some() || ctx.voice { MediaKind::Voice } else { MediaKind::Audio };
            let mut media = describe(
                kind,
                &m.source,
                m.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
            );
            let duration = info.and_then(|i| i.duration).or(m.audio.as_ref().map(|a| a.duration));
            media.duration_ms = millis(duration);
            (caption(m.caption(), m.formatted_caption()), Some(media))
        }
        MessageType::File(m) => {
            let info = m.info.as_deref();
            let media = describe(
                MediaKind::File,
                &m.source,
                m.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
            );
            (caption(m.caption(), m.formatted_caption()), Some(media))
        }
        other => return Err(Unbridgeable::Unsupported(other.msgtype().to_owned())),
    })
}

fn describe(
    kind: MediaKind,
    source: &MediaSource,
    filename: &str,
    mime: Option<&str>,
    size: Option<UInt>,
) -> OutgoingMedia {
    OutgoingMedia {
        source: source.clone(),
        kind,
        mime: mime.and_then(clean_mime).unwrap_or_else(|| "application/octet-stream".into()),
        filename: clean_filename(filename, kind_label(kind)),
        claimed_size: size.map(u64::from).unwrap_or(0),
        width: 0,
        height: 0,
        duration_ms: 0,
    }
}

fn pixels(value: Option<UInt>) -> u32 {
    value.and_then(|v| u32::try_from(u64::from(v)).ok()).unwrap_or(0)
}

fn millis(duration: Option<std::time::Duration>) -> u32 {
    duration.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)).unwrap_or(0)
}

/// `text`, `html` and `mentions` for a body and its optional formatted body.
fn body_to_content(
    body: &str,
    formatted: Option<&FormattedBody>,
    mentions: Option<&Mentions>,
    is_reply: bool,
    ghost_id: &dyn Fn(&UserId) -> Option<String>,
) -> Content {
    let mut content = Content { version: CONTENT_VERSION, ..Default::default() };
    if let Some(formatted) = formatted.filter(|f| f.format == MessageFormat::Html) {
        html_to_content(&formatted.body, ghost_id, &mut content);
    }
    if content.text.is_empty() {
        // No HTML, or HTML with nothing showable left (then the plain body is all there is).
        let body = if is_reply { remove_plain_reply_fallback(body) } else { body };
        content = Content { version: CONTENT_VERSION, text: body.to_owned(), ..Default::default() };
        content.mentions = literal_mentions(&content.text, mentions, ghost_id);
    }
    content
}

/// Fills `content` from Matrix HTML: subset HTML with mention links, markup text, mentions.
fn html_to_content(
    html: &str,
    ghost_id: &dyn Fn(&UserId) -> Option<String>,
    content: &mut Content,
) {
    // Each ghost pill becomes a placeholder, so its position survives `html_to_markup`.
    let mut found: Vec<(String, String)> = Vec::new();
    let marked = to_subset(html, &mut |href, text| {
        if let Some(user) = linked_user(href) {
            let Some(remote) = ghost_id(&user) else { return LinkAction::Text };
            let shown = if text.is_empty() { user.to_string() } else { text.to_owned() };
            found.push((remote, shown));
            LinkAction::Replace(placeholder::placeholder(found.len() - 1))
        } else if href.starts_with("interop:") {
            // Only the bridge writes mention links; a Matrix user's is just text.
            LinkAction::Text
        } else {
            plain_link(href, text)
        }
    });
    let shown = |i: usize| found.get(i).map(|(_, name)| name.clone());
    let (text, spans) = placeholder::fill(&html_to_markup(&marked), shown);
    content.mentions = spans
        .into_iter()
        .filter_map(|(i, range)| {
            Some(Mention {
                user: found.get(i)?.0.clone(),
                offset: u32::try_from(range.start).ok()?,
                length: u32::try_from(range.len()).ok()?,
            })
        })
        .collect();
    content.text = text;
    let (html, _) = placeholder::fill(&marked, |i| {
        let (id, name) = found.get(i)?;
        let href = escape_attr(&format!("interop:user/{id}"));
        Some(format!("<a href=\"{href}\">{}</a>", escape_text(name)))
    });
    // HTML without a single tag adds nothing to the text.
    if html.contains('<') {
        content.html = html;
    }
}

/// The Matrix user a link points at (`https://matrix.to/#/@u:s` or `matrix:u/u:s`), if any.
fn linked_user(href: &str) -> Option<OwnedUserId> {
    let id = if href.starts_with("matrix:") {
        MatrixUri::parse(href).ok()?.id().clone()
    } else {
        MatrixToUri::parse(href).ok()?.id().clone()
    };
    match id {
        MatrixId::User(user) => Some(user),
        _ => None,
    }
}

/// Mentions in a plain body: each ghost of `m.mentions` wherever its user ID appears literally.
fn literal_mentions(
    text: &str,
    mentions: Option<&Mentions>,
    ghost_id: &dyn Fn(&UserId) -> Option<String>,
) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();
    for user in mentions.map(|m| m.user_ids.iter()).into_iter().flatten() {
        let Some(remote) = ghost_id(user) else { continue };
        for (offset, matched) in text.match_indices(user.as_str()) {
            let (Ok(offset), Ok(length)) = (u32::try_from(offset), u32::try_from(matched.len()))
            else {
                continue;
            };
            found.push(Mention { user: remote.clone(), offset, length });
        }
    }
    found.sort_by_key(|m| m.offset);
    found
}

#[cfg(test)]
mod tests;
