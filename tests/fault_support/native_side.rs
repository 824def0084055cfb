//! The native end of one portal: a gatekeeper user on `gk`'s client sends numbered texts,
//! replies and reactions to the Matrix user and reads theirs, on one channel from one task.
//!
//! When the channel drops (the gatekeeper restarts) the device reconnects and sends the message
//! it was sending again with the same id, as the native app does; the gatekeeper recognises the
//! id and delivers it once. What arrives is recorded from the session's events, which already
//! drop a repeated `(from, id)`; the verdict then counts texts, so the same text under two ids
//! shows up as a duplicate too.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use interop_proto::content::{Content, MessageRef, Reaction};
use rand::{SeedableRng, rngs::StdRng};
use reference_gatekeeper::client::{ClientError, Event, new_message_id};
use tokio::time::{Instant, sleep, sleep_until};

use super::{
    Kind, Params, PeerMessages, kind_of,
    ledger::{Seen, Sent, Stream},
    number_in, text,
};
use crate::support::gatekeeper::Contact;

/// How long the device keeps trying to reconnect before the test gives up.
const RECONNECT_DEADLINE: Duration = Duration::from_secs(120);

/// One native user's chat with one Matrix user.
pub struct NativeChat {
    pub contact: Contact,
    /// The Matrix user's gatekeeper id.
    pub peer: String,
    /// The Matrix user's label in texts (`u2`).
    pub label: String,
}

/// The device's books: its own message ids by number, and the Matrix user's messages.
#[derive(Default)]
struct Books {
    own: HashMap<String, u32>,
    peer: PeerMessages<String>,
}

/// Sends this side's items (paced by `params`) and reads the other side's until `stop` is set
/// and everything is sent. Returns the chat, still connected.
pub async fn run(
    mut chat: NativeChat,
    params: Params,
    outgoing: Arc<Stream>,
    incoming: Arc<Stream>,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> anyhow::Result<NativeChat> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut books = Books::default();
    let mut n = 1;
    let mut due = Instant::now() + params.gap(&mut rng);
    loop {
        let sending = n <= params.per_stream();
        if !sending && stop.load(Ordering::Acquire) {
            return Ok(chat);
        }
        if sending && Instant::now() >= due {
            let (content, item) = next_item(&mut books, &chat, n);
            let id = new_message_id();
            send_until_accepted(&mut chat, content, &id).await?;
            books.own.insert(id, n);
            outgoing.record_sent(item);
            n += 1;
            due += params.gap(&mut rng);
            continue;
        }
        let until = if sending { due } else { Instant::now() + Duration::from_millis(200) };
        tokio::select! {
            received = chat.contact.session.recv_stanza() => {
                let handled = match received {
                    Ok(stanza) => chat.contact.session.handle(stanza).await,
                    Err(error) => Err(error),
                };
                match handled {
                    Ok(events) => record(&events, &chat, &mut books, &incoming),
                    Err(error) => {
                        eprintln!("fault injection: {}'s contact reconnects: {error}", chat.label);
                        reconnect(&mut chat).await?
                    }
                }
            }
            _ = sleep_until(until) => {}
        }
    }
}

/// Item `n`: its content and how the books record it.
fn next_item(books: &mut Books, chat: &NativeChat, n: u32) -> (Content, Sent) {
    let body = text("gk", &chat.label, n);
    let at = |id: String| MessageRef { id, sender: chat.peer.clone() };
    match kind_of(n) {
        Kind::Reaction => {
            if let Some((target, id)) = books.peer.take_reaction_target() {
                let reaction =
                    Reaction { target: Some(at(id)), emoji: "👍".into(), revoke: false };
                let content =
                    Content { version: 1, reaction: Some(reaction), ..Default::default() };
                return (content, Sent::Reaction { n, target });
            }
        }
        Kind::Reply => {
            if let Some((target, id)) = books.peer.newest() {
                let content = Content { in_reply_to: Some(at(id)), ..Content::text(body) };
                return (content, Sent::Text { n, reply_to: Some(target) });
            }
        }
        Kind::Text => {}
    }
    (Content::text(body), Sent::Text { n, reply_to: None })
}

/// Sends until the gatekeeper acknowledges, reconnecting and resending with the same id when
/// the channel fails.
async fn send_until_accepted(
    chat: &mut NativeChat,
    content: Content,
    id: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + RECONNECT_DEADLINE;
    loop {
        let session = &mut chat.contact.session;
        let sent = session.send_content_with_id(&chat.peer, content.clone(), id.to_owned()).await;
        match sent {
            // What came while waiting for the ack stays in the session's backlog, which the
            // next read takes first, one stanza at a time.
            Ok(_) => return Ok(()),
            Err(ClientError::Refused(refusal)) if !is_transient(&refusal) => {
                anyhow::bail!("the gatekeeper refused {id}: {refusal:?}");
            }
            Err(error) if Instant::now() > deadline => {
                anyhow::bail!("could not send {id} for {RECONNECT_DEADLINE:?}: {error}");
            }
            Err(ClientError::Refused(_)) => sleep(Duration::from_millis(500)).await,
            // The channel is gone (or silent): a new one, then the same message again.
            Err(error) => {
                eprintln!("fault injection: {}'s contact resends {id}: {error}", chat.label);
                reconnect(chat).await?
            }
        }
    }
}

fn is_transient(refusal: &interop_proto::stanza::StanzaError) -> bool {
    refusal.error_code() == interop_proto::ErrorCode::RateLimited
}

/// A new channel for the device, retried while the gatekeeper is down. Stanzas that were read
/// but not handled on the old one are not confirmed, so the gatekeeper sends them again.
async fn reconnect(chat: &mut NativeChat) -> anyhow::Result<()> {
    let deadline = Instant::now() + RECONNECT_DEADLINE;
    loop {
        match chat.contact.reconnect().await {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() > deadline => {
                anyhow::bail!("{} could not reconnect: {error:#}", chat.label)
            }
            Err(_) => sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Records the Matrix user's items among the session's events.
fn record(events: &[Event], chat: &NativeChat, books: &mut Books, incoming: &Stream) {
    for event in events {
        match event {
            Event::Message { id, text, reply_to, .. } => match number_in(text, &chat.label, "gk") {
                // The warm-up message, before the books were opened.
                Some(0) => {}
                Some(n) => {
                    let reply_to = reply_to.as_ref().and_then(|r| books.own.get(r).copied());
                    incoming.record_seen(Seen::Text { n, reply_to });
                    books.peer.push(n, id.clone());
                }
                None => incoming.record_seen(Seen::Unexpected(format!("message {text:?}"))),
            },
            Event::Reaction { target, revoke: false, emoji, .. } => match books.own.get(target) {
                Some(target) => incoming.record_seen(Seen::Reaction { target: *target }),
                None => incoming.record_seen(Seen::Unexpected(format!("reaction {emoji}"))),
            },
            Event::Undecryptable { id, reason, .. } => {
                incoming.record_seen(Seen::Unexpected(format!("undecryptable {id}: {reason}")))
            }
            Event::Edit { .. } | Event::Delete { .. } | Event::Reaction { .. } => {
                incoming.record_seen(Seen::Unexpected(format!("{event:?}")))
            }
            _ => {}
        }
    }
}
