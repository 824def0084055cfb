//! Pure conversions between Matrix content and interop content, kept apart from all I/O so
//! they are tested (and fuzzed) without a network.
//!
//! - [`message_to_remote`], [`reaction_to_remote`], [`redaction_to_remote`]: Matrix → interop;
//!   [`media_ref`] completes an attachment once the I/O layer has hosted it.
//! - [`degrade`]: what an outgoing content becomes when the gatekeeper lacks a capability.
//! - [`content_to_matrix`]: interop → what to do in the Matrix room.
//! - [`html_to_markup`], [`markup_to_html`]: Matrix HTML ⇄ WhatsApp-style markup.

mod bounded_html;
mod degrade;
mod emoji;
mod html_subset;
mod html_to_markup;
mod markup_to_html;
mod matrix_to_remote;
mod media;
mod placeholder;
mod prefix;
mod remote_to_matrix;

pub use degrade::{Degraded, allows_read_receipts, allows_typing, degrade};
pub use html_to_markup::html_to_markup;
pub use markup_to_html::markup_to_html;
pub use matrix_to_remote::{
    MAX_TEXT, OutgoingContext, OutgoingMessage, RedactedEvent, Unbridgeable, content_marks_voice,
    message_to_remote, reaction_to_remote, redaction_to_remote,
};
pub use media::{OutgoingMedia, media_ref};
pub use prefix::prepend;
pub use remote_to_matrix::{
    IncomingContext, IncomingError, MatrixAction, ReplyTarget, UNSUPPORTED, content_to_matrix,
};
