//! Graceful degradation: what to send when the gatekeeper lacks a capability.
//!
//! Gatekeepers differ and change (WhatsApp's first offer had no edits or deletes), and content
//! features are end to end, so a stanza needing a capability that is not offered would be refused
//! (protocol §11). The partner must instead send an equivalent the recipient can read (§8.2) and
//! tell its user what happened. Call [`degrade`] on every outgoing content, with the current
//! capability set, before hosting any media; and ask [`allows_typing`] /
//! [`allows_read_receipts`] before sending those stanzas.
//!
//! | content | without | becomes |
//! |---|---|---|
//! | edit | `edits` | new message `* corrected text`, replying to the original if `replies`; notice |
//! | delete | `deletes` | nothing; notice |
//! | reaction | `reactions` | nothing; notice |
//! | reaction revoke | `reaction_revoke` (or `reactions`) | nothing; notice |
//! | media | `media` | its caption and `[kind: file name]` as text; notice |
//! | reply | `replies` | the message without `in_reply_to`, silently |
//!
//! A message the additions would take past the 64 KiB text limit is not sent (with a notice);
//! HTML that would pass it is dropped, as the text says the same.

use interop_proto::content::MediaKind;
use interop_proto::{Capability, CapabilitySet};

use super::html_subset::escape_text;
use super::matrix_to_remote::{MAX_TEXT, OutgoingMessage};
use super::media::kind_label;
use super::prefix;

/// What to actually send, and what to tell the Matrix user.
#[derive(Debug, Clone)]
pub struct Degraded {
    /// `None`: send nothing.
    pub send: Option<OutgoingMessage>,
    /// One line for the Matrix user, when their message did not arrive as sent.
    pub notice: Option<String>,
}

impl Degraded {
    fn unchanged(message: OutgoingMessage) -> Self {
        Self { send: Some(message), notice: None }
    }

    fn dropped(notice: String) -> Self {
        Self { send: None, notice: Some(notice) }
    }
}

/// Adapts `message` to what the gatekeeper offers. `network` names it in notices ("WhatsApp").
pub fn degrade(caps: &CapabilitySet, message: OutgoingMessage, network: &str) -> Degraded {
    let has = |c: Capability| caps.contains(&c);
    let mut message = message;
    let content = &mut message.content;
    if !has(Capability::Replies) {
        // Quoting would need the original's text; the message stands well enough alone.
        content.in_reply_to = None;
    }

    if let Some(reaction) = &content.reaction {
        if reaction.revoke && !(has(Capability::Reactions) && has(Capability::ReactionRevoke)) {
            return Degraded::dropped(format!(
                "{network} does not support removing reactions; your reaction is still shown there"
            ));
        }
        if !has(Capability::Reactions) {
            return Degraded::dropped(format!(
                "{network} does not support reactions; your reaction was not sent"
            ));
        }
        return Degraded::unchanged(message);
    }
    if content.delete.is_some() {
        if !has(Capability::Deletes) {
            return Degraded::dropped(format!(
                "{network} does not support deleting messages; your message was not deleted there"
            ));
        }
        return Degraded::unchanged(message);
    }

    let mut notice = None;
    if content.replaces.is_some() && !has(Capability::Edits) {
        // The correction becomes a new message, pointing at the original when replies exist.
        let original = content.replaces.take();
        content.in_reply_to = original.filter(|_| has(Capability::Replies));
        prefix::prepend(content, "* ");
        notice = Some(format!(
            "{network} does not support edits; your correction was sent as a new message"
        ));
    }

    let media_kind = message.media.as_ref().map(|m| (m.kind, m.filename.clone())).or_else(|| {
        let m = message.content.media.as_ref()?;
        Some((MediaKind::try_from(m.kind).unwrap_or(MediaKind::Unspecified), m.filename.clone()))
    });
    if let Some((kind, filename)) = media_kind.filter(|_| !has(Capability::Media)) {
        let content = &mut message.content;
        content.media = None;
        message.media = None;
        let label = kind_label(kind);
        let line = if filename.is_empty() {
            format!("[{label}]")
        } else {
            format!("[{label}: {filename}]")
        };
        // After the caption, so mention offsets stay as they are.
        if !content.text.is_empty() {
            content.text.push('\n');
            if !content.html.is_empty() {
                content.html.push_str("<br>");
            }
        }
        content.text.push_str(&line);
        if !content.html.is_empty() {
            content.html.push_str(&escape_text(&line));
        }
        notice = Some(format!(
            "{network} does not support media; your {label} was sent as text (its name and caption)"
        ));
    }

    // What was added above may take a message at the limit over it (§8.2).
    let content = &mut message.content;
    if content.html.len() > MAX_TEXT {
        content.html.clear(); // the text says the same
    }
    if content.text.len() > MAX_TEXT {
        return Degraded::dropped(format!(
            "Your message was not sent: in the form {network} can take, it would be longer than \
             64 KiB"
        ));
    }
    Degraded { send: Some(message), notice }
}

/// Whether typing notifications may be sent (`chatstate` needs `typing`).
pub fn allows_typing(caps: &CapabilitySet) -> bool {
    caps.contains(&Capability::Typing)
}

/// Whether read receipts may be sent (`READ` receipts need `read_receipts`).
pub fn allows_read_receipts(caps: &CapabilitySet) -> bool {
    caps.contains(&Capability::ReadReceipts)
}

#[cfg(test)]
mod tests;
