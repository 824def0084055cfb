//! Interop → Matrix: what a gatekeeper user sent, as what the bridge does in the Matrix room.
//!
//! Incoming content is hostile: its HTML is reduced to the protocol subset again (whatever the
//! sender claims to have done), and only what ruma can serialise comes out. The bridge core
//! resolves what needs the store (the Matrix events a reply, edit or reaction points at, the
//! uploaded media, who a gatekeeper user's ghost is) and passes it in.
//!
//! - Text: `body` is the text, with each mention's range replaced by the ghost's display name.
//!   `formatted_body` comes from the sender's `html` when present, else from the WhatsApp markup
//!   in the text (`markup_to_html`); `interop:user/<id>` mention links become pills of the ghost
//!   and every mentioned ghost is listed in `m.mentions` (always set, so legacy body-matching push
//!   rules never fire).
//! - Media: metadata only, around the MXC URI the caller uploaded; the caption is the `body`
//!   (with `filename` set), as Matrix media captions are.
//! - Replies set `m.relates_to.m.in_reply_to` and mention the replied-to sender, with no reply
//!   fallback: Matrix v1.13 removed fallbacks (clients render replies from the relation, and
//!   fallbacks leaked quoted text and went stale on edits).
//! - Edits become `m.replace` with `m.new_content` and a `* `-prefixed fallback body; reactions
//!   and deletes become reaction and redaction instructions.

use std::collections::BTreeSet;
use std::ops::Range;
use std::time::Duration;

use interop_proto::content::{Content, ContentError, ContentKind, MediaKind, MediaRef, MessageRef};
use ruma::events::Mentions;
use ruma::events::reaction::ReactionEventContent;
use ruma::events::relation::{Annotation, InReplyTo, Reply};
use ruma::events::room::ImageInfo;
use ruma::events::room::message::{
    AudioInfo, AudioMessageEventContent, FileInfo, FileMessageEventContent, FormattedBody,
    ImageMessageEventContent, MessageType, NoticeMessageEventContent, Relation,
    ReplacementMetadata, RoomMessageEventContent, TextMessageEventContent,
    UnstableAudioDetailsContentBlock, UnstableVoiceContentBlock, VideoInfo,
    VideoMessageEventContent,
};
use ruma::{OwnedEventId, OwnedMxcUri, OwnedUserId, UInt, UserId};

use super::html_subset::{LinkAction, escape_attr, escape_text, plain_link, to_subset};
use super::media::{clean_filename, clean_mime};
use super::{markup_to_html, placeholder};

/// Shown for content this build cannot read (protocol §8.2: "unsupported message").
pub const UNSUPPORTED: &str = "Unsupported message";

/// The Matrix event an incoming reply points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTarget {
    pub event_id: OwnedEventId,
    /// Its sender, who is mentioned so they are notified of the reply.
    pub sender: OwnedUserId,
}

/// What the caller resolved about an incoming content before converting it.
pub struct IncomingContext<'a> {
    /// The Matrix event `in_reply_to` refers to, if it is known.
    pub reply_to: Option<ReplyTarget>,
    /// For an edit: the Matrix event of the message it corrects, if known.
    pub replaces: Option<OwnedEventId>,
    /// For a reaction: the Matrix event reacted to, if known.
    pub reaction_target: Option<OwnedEventId>,
    /// For media: where the I/O layer uploaded the decrypted blob.
    pub media_url: Option<OwnedMxcUri>,
    /// A gatekeeper user's ghost and its display name.
    pub ghost: &'a dyn Fn(&str) -> Option<(OwnedUserId, String)>,
}

/// What to do in the Matrix room, as the sender's ghost.
#[derive(Debug, Clone)]
pub enum MatrixAction {
    /// Send this `m.room.message`.
    Message(Box<RoomMessageEventContent>),
    /// Send this `m.reaction`, after redacting the ghost's earlier reaction on the same event
    /// (one reaction per sender and message).
    React(ReactionEventContent),
    /// Redact the ghost's reaction on this message.
    RevokeReaction { target: MessageRef },
    /// Redact the Matrix event(s) of this message (delete for everyone).
    Redact { target: MessageRef },
}

/// Why incoming content cannot be shown (the caller logs and drops it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncomingError {
    #[error("the reacted-to message is not known")]
    UnknownReactionTarget,
    #[error("media without an uploaded file")]
    MediaNotUploaded,
}

/// Converts incoming content to the action the bridge takes in Matrix.
pub fn content_to_matrix(
    content: &Content,
    ctx: &IncomingContext<'_>,
) -> Result<MatrixAction, IncomingError> {
    let kind = match content.validate() {
        Ok(kind) => kind,
        // Newer formats fall back to their text; anything malformed is said to be so.
        Err(ContentError::UnsupportedVersion(_)) if !content.text.is_empty() => {
            let text = TextMessageEventContent::plain(placeholder::strip(&content.text));
            return Ok(send(message(MessageType::Text(text), Mentions::new())));
        }
        Err(_) => {
            let notice = NoticeMessageEventContent::plain(UNSUPPORTED);
            return Ok(send(message(MessageType::Notice(notice), Mentions::new())));
        }
    };
    let (mut event, mut mentions) = match kind {
        ContentKind::Reaction => return reaction(content, ctx),
        ContentKind::Delete => {
            let target = content.delete.clone().unwrap_or_default();
            return Ok(MatrixAction::Redact { target });
        }
        ContentKind::Text | ContentKind::Edit => {
            let rich = rich_text(content, ctx.ghost);
            let text = match rich.html {
                Some(html) => TextMessageEventContent::html(rich.body, html),
                None => TextMessageEventContent::plain(rich.body),
            };
            (MessageType::Text(text), rich.mentions)
        }
        ContentKind::Media => {
            let (Some(media), Some(url)) = (&content.media, &ctx.media_url) else {
                return Err(IncomingError::MediaNotUploaded);
            };
            let rich = (!content.text.is_empty()).then(|| rich_text(content, ctx.ghost));
            let mentions = rich.as_ref().map(|r| r.mentions.clone()).unwrap_or_default();
            (media_message(media, url.clone(), rich), mentions)
        }
    };
    if kind == ContentKind::Edit {
        let mentions = Mentions::with_user_ids(mentions);
        let Some(original) = ctx.replaces.clone() else {
            // The original was never bridged: show the correction as a new message.
            prefix_body(&mut event, "* ");
            return Ok(send(message(event, mentions)));
        };
        let replacement = RoomMessageEventContent::new(event)
            .add_mentions(mentions)
            .make_replacement(ReplacementMetadata::new(original, None));
        return Ok(send(replacement));
    }
    let reply = ctx.reply_to.as_ref().filter(|_| content.in_reply_to.is_some());
    if let Some(reply) = reply {
        mentions.insert(reply.sender.clone());
    }
    let mut out = message(event, Mentions::with_user_ids(mentions));
    if let Some(reply) = reply {
        // No reply fallback in body or HTML: removed from the spec in v1.13.
        out.relates_to = Some(Relation::Reply(Reply::new(InReplyTo::new(reply.event_id.clone()))));
    }
    Ok(send(out))
}

fn send(content: RoomMessageEventContent) -> MatrixAction {
    MatrixAction::Message(Box::new(content))
}

fn message(msgtype: MessageType, mentions: Mentions) -> RoomMessageEventContent {
    let mut content = RoomMessageEventContent::new(msgtype);
    content.mentions = Some(mentions);
    content
}

fn reaction(content: &Content, ctx: &IncomingContext<'_>) -> Result<MatrixAction, IncomingError> {
    let reaction = content.reaction.clone().unwrap_or_default();
    let target = reaction.target.unwrap_or_default();
    if reaction.revoke {
        return Ok(MatrixAction::RevokeReaction { target });
    }
    let event = ctx.reaction_target.clone().ok_or(IncomingError::UnknownReactionTarget)?;
    let key = placeholder::strip(&reaction.emoji).into_owned();
    Ok(MatrixAction::React(ReactionEventContent::new(Annotation::new(event, key))))
}

/// Puts a marker before the body (and formatted body) of a text message.
fn prefix_body(msgtype: &mut MessageType, marker: &str) {
    if let MessageType::Text(text) = msgtype {
        text.body.insert_str(0, marker);
        if let Some(formatted) = &mut text.formatted {
            formatted.body.insert_str(0, &escape_text(marker));
        }
    }
}

/// A text body, its Matrix HTML, and the ghosts it mentions.
struct RichText {
    body: String,
    html: Option<String>,
    mentions: BTreeSet<OwnedUserId>,
}

/// Builds body, HTML and mentions from an incoming content's text, html and mentions.
fn rich_text(content: &Content, ghost: &dyn Fn(&str) -> Option<(OwnedUserId, String)>) -> RichText {
    let text = content.text.as_str();
    // The mentions we can show: on the text, in order, not overlapping, of known ghosts.
    let mut resolved: Vec<(Range<usize>, OwnedUserId, String)> = Vec::new();
    let mut ranges: Vec<_> = content.mentions.iter().collect();
    ranges.sort_by_key(|m| m.offset);
    for m in ranges {
        let range = m.offset as usize..(m.offset as usize).saturating_add(m.length as usize);
        let fits = text.get(range.clone()).is_some() && !range.is_empty();
        let overlaps = resolved.last().is_some_and(|(r, _, _)| r.end > range.start);
        if let (true, false, Some((user, name))) = (fits, overlaps, ghost(&m.user)) {
            resolved.push((range, user, name));
        }
    }
    let mut mentions: BTreeSet<OwnedUserId> = resolved.iter().map(|(_, u, _)| u.clone()).collect();

    // The body and a placeholder version of the text, with each mention's range replaced.
    let mut body = String::with_capacity(text.len());
    let mut marked = String::with_capacity(text.len());
    let mut at = 0;
    for (i, (range, _, name)) in resolved.iter().enumerate() {
        let before = placeholder::strip(&text[at..range.start]);
        body.push_str(&before);
        body.push_str(name);
        marked.push_str(&before);
        marked.push_str(&placeholder::placeholder(i));
        at = range.end;
    }
    let rest = placeholder::strip(&text[at..]);
    body.push_str(&rest);
    marked.push_str(&rest);

    let html = if !content.html.is_empty() {
        Some(to_subset(
            &content.html,
            &mut |href, shown| match href.strip_prefix("interop:user/") {
                Some(id) => match ghost(id) {
                    Some((user, name)) => {
                        let pill = pill(&user, &name);
                        mentions.insert(user);
                        LinkAction::Replace(pill)
                    }
                    None => LinkAction::Text,
                },
                None if href.starts_with("interop:") => LinkAction::Text,
                None => plain_link(href, shown),
            },
        ))
    } else {
        let html = markup_to_html(&marked).or_else(|| {
            // No markup: HTML just for the pills (`marked` holds no outside reserved characters,
            // so only the placeholders need to survive escaping).
            (!resolved.is_empty()).then(|| {
                let escaped = marked.replace('&', "&amp;").replace('<', "&lt;");
                escaped.replace('>', "&gt;").replace('\n', "<br>")
            })
        });
        html.map(|h| placeholder::fill(&h, |i| resolved.get(i).map(|(_, u, n)| pill(u, n))).0)
    };
    RichText { body, html: html.filter(|h| !h.is_empty()), mentions }
}

/// A Matrix pill: a `matrix.to` link to the user, showing `name`.
fn pill(user: &UserId, name: &str) -> String {
    let href = escape_attr(&user.matrix_to_uri().to_string());
    format!("<a href=\"{href}\">{}</a>", escape_text(name))
}

/// An image, video, audio (or voice) or file message around an uploaded blob.
fn media_message(media: &MediaRef, url: OwnedMxcUri, caption: Option<RichText>) -> MessageType {
    let kind = MediaKind::try_from(media.kind).unwrap_or(MediaKind::Unspecified);
    let mime = clean_mime(&media.mime);
    let filename = clean_filename(&media.filename, &default_filename(kind, mime.as_deref()));
    let size = UInt::new(media.size);
    let pixels = |v: u32| (v > 0).then(|| UInt::from(v));
    let duration = (media.duration_ms > 0).then(|| Duration::from_millis(media.duration_ms.into()));
    let (body, formatted) = match caption {
        Some(c) => (c.body, c.html.map(FormattedBody::html)),
        None => (filename.clone(), None),
    };
    let filename = Some(filename);
    match kind {
        MediaKind::Image => {
            let mut info = ImageInfo::new();
            (info.mimetype, info.size, info.width, info.height) =
                (mime, size, pixels(media.width), pixels(media.height));
            let mut m = ImageMessageEventContent::plain(body, url).info(Box::new(info));
            (m.formatted, m.filename) = (formatted, filename);
            MessageType::Image(m)
        }
        MediaKind::Video => {
            let mut info = VideoInfo::new();
            (info.mimetype, info.size, info.width, info.height, info.duration) =
                (mime, size, pixels(media.width), pixels(media.height), duration);
            let mut m = VideoMessageEventContent::plain(body, url).info(Box::new(info));
            (m.formatted, m.filename) = (formatted, filename);
            MessageType::Video(m)
        }
        MediaKind::Audio | MediaKind::Voice => {
            let mut info = AudioInfo::new();
            (info.mimetype, info.size, info.duration) = (mime, size, duration);
            let mut m = AudioMessageEventContent::plain(body, url).info(Box::new(info));
            (m.formatted, m.filename) = (formatted, filename);
            if kind == MediaKind::Voice {
                // MSC3245 as Element sends and shows it: the voice marker plus the audio block.
                m.voice = Some(UnstableVoiceContentBlock::new());
                m.audio = Some(UnstableAudioDetailsContentBlock::new(
                    duration.unwrap_or_default(),
                    Vec::new(),
                ));
            }
            MessageType::Audio(m)
        }
        MediaKind::File | MediaKind::Unspecified => {
            let mut info = FileInfo::new();
            (info.mimetype, info.size) = (mime, size);
            let mut m = FileMessageEventContent::plain(body, url).info(Box::new(info));
            (m.formatted, m.filename) = (formatted, filename);
            MessageType::File(m)
        }
    }
}

/// A name for an attachment sent without one, e.g. `image.jpg`.
fn default_filename(kind: MediaKind, mime: Option<&str>) -> String {
    let stem = match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Voice => "voice-message",
        MediaKind::File | MediaKind::Unspecified => "file",
    };
    let essence = mime.and_then(|m| m.split(';').next()).unwrap_or_default().trim();
    let ext = match essence {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "application/pdf" => "pdf",
        _ => return stem.to_owned(),
    };
    format!("{stem}.{ext}")
}

#[cfg(test)]
mod tests;
