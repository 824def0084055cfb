//! Routing what clients send: messages, receipts, typing and acks.
//!
//! The relay checks each stanza (shape, rate limit, opt-in, blocks,
//! capabilities), stamps the server-set fields, writes it to the
//! recipient's mailbox and answers the sender with an `ack`. It never
//! looks inside `enc`.

use std::sync::Arc;

use interop_proto::stanza::{
    Ack, AckClass, ChatState, EncType, MessageKind, MessageStanza, Receipt, ReceiptType, Stanza,
};
use interop_proto::{Capability, ErrorCode, UserId};

use crate::error::Refusal;
use crate::groups;
use crate::mailbox;
use crate::policy::{check_reach, existing};
use crate::state::Shared;
use crate::store::{MailboxClass, UserRow};

const MAX_ID_LEN: usize = 64;

fn ack(id: &str, class: AckClass, peer: &str, timestamp: u64, error: Option<Refusal>) -> Stanza {
    Stanza::Ack(Ack {
        id: id.to_owned(),
        class: class as i32,
        peer: peer.to_owned(),
        timestamp,
        error: error.map(|r| r.0),
    })
}

fn check_id(id: &str) -> Result<(), Refusal> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Refusal::new(
            ErrorCode::BadRequest,
            "bad_request: message id must be 1 to 64 bytes",
        ));
    }
    Ok(())
}

/// Handles a client's `message`; returns the `ack` to send back.
pub async fn on_message(shared: &Arc<Shared>, sender: &UserRow, m: MessageStanza) -> Stanza {
    let (id, to) = (m.id.clone(), m.to.clone());
    match route_message(shared, sender, m).await {
        Ok(ts) => ack(&id, AckClass::Message, &to, ts, None),
        Err(r) => {
            tracing::debug!(from = %sender.id, %to, code = r.0.code, "message refused");
            ack(&id, AckClass::Message, &to, 0, Some(r))
        }
    }
}

async fn route_message(
    shared: &Arc<Shared>,
    sender: &UserRow,
    mut m: MessageStanza,
) -> Result<u64, Refusal> {
    check_id(&m.id)?;
    UserId::parse(&m.to)
        .map_err(|e| Refusal::new(ErrorCode::BadRequest, format!("bad_request: to: {e}")))?;
    if m.enc.is_empty() {
        return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: message without enc parts"));
    }
    shared.message_limit.check(&sender.id).map_err(Refusal::rate_limited)?;
    let kind = MessageKind::try_from(m.kind).unwrap_or(MessageKind::Unspecified);
    if kind == MessageKind::Group || m.to.ends_with("@group") {
        return groups::route_group_message(shared, sender, m).await;
    }
    if m.to == sender.id {
        return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: cannot message yourself"));
    }
    if m.enc.iter().any(|e| {
        e.r#type == EncType::Skmsg as i32 || (!e.recipient.is_empty() && e.recipient != m.to)
    }) {
        return Err(Refusal::new(
            ErrorCode::BadRequest,
            "bad_request: chat parts must be for the recipient",
        ));
    }
    let recipient = existing(shared, &m.to).await?;
    check_reach(shared, sender, &recipient).await?;
    let now = interop_proto::now_ms();
    m.from = sender.id.clone();
    m.timestamp = now;
    m.participant.clear();
    m.offline = false;
    m.kind = MessageKind::Chat as i32;
    let copies = vec![(recipient.id.clone(), Stanza::Message(m.clone()))];
    if let Some(first_to) = mailbox::accept_message(shared, &sender.id, &m, copies).await? {
        if first_to != m.to {
            return Err(Refusal::new(ErrorCode::Conflict, "conflict: message id already used"));
        }
        return Ok(now); // a duplicate: acknowledged again, not delivered again
    }
    shared.note_contact(&sender.id, &recipient.id).await;
    Ok(now)
}

/// Handles a client's `receipt`; returns the `ack`.
pub async fn on_receipt(shared: &Arc<Shared>, sender: &UserRow, r: Receipt) -> Stanza {
    let (id, to) = (r.id.clone(), r.to.clone());
    match route_receipt(shared, sender, r).await {
        Ok(()) => ack(&id, AckClass::Receipt, &to, interop_proto::now_ms(), None),
        Err(e) => ack(&id, AckClass::Receipt, &to, 0, Some(e)),
    }
}

async fn route_receipt(
    shared: &Arc<Shared>,
    sender: &UserRow,
    mut r: Receipt,
) -> Result<(), Refusal> {
    check_id(&r.id)?;
    let ty = ReceiptType::try_from(r.r#type).unwrap_or(ReceiptType::Unspecified);
    if ty == ReceiptType::Unspecified {
        return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: receipt type"));
    }
    if ty == ReceiptType::Read && !shared.capabilities.contains(&Capability::ReadReceipts) {
        return Err(Refusal::new(ErrorCode::Unsupported, "unsupported: read receipts"));
    }
    // The recipient's acknowledgement: its copies leave the mailbox.
    if ty == ReceiptType::Delivered {
        let mut ids = vec![r.id.clone()];
        ids.extend(r.more_ids.iter().cloned());
        shared.store.remove_messages(&sender.id, &r.to, &ids).await?;
    }
    // Group receipts go to the member whose message it was.
    let (target, from, participant) = if r.to.ends_with("@group") {
        (r.participant.clone(), r.to.clone(), sender.id.clone())
    } else {
        (r.to.clone(), sender.id.clone(), String::new())
    };
    let Some(target_row) = shared.store.user(&target).await? else {
        return Err(Refusal::new(ErrorCode::NotFound, format!("not_found: no user {target}")));
    };
    if shared.store.is_blocked(&target_row.id, &sender.id).await?
        || shared.store.is_blocked(&sender.id, &target_row.id).await?
    {
        return Ok(()); // receipts of blocked users are dropped
    }
    r.from = from.clone();
    r.to = target.clone();
    r.participant = participant;
    mailbox::enqueue(
        shared,
        &target,
        MailboxClass::Receipt,
        &from,
        &r.id,
        &Stanza::Receipt(r.clone()),
    )
    .await?;
    Ok(())
}

/// Typing: sent live, never queued, dropped for blocked or offline peers.
pub async fn on_chatstate(shared: &Arc<Shared>, sender: &UserRow, mut c: ChatState) {
    if !shared.capabilities.contains(&Capability::Typing)
        || shared.message_limit.check(&sender.id).is_err()
    {
        return;
    }
    if c.to.ends_with("@group") {
        let Ok(Some(g)) = shared.store.group(&c.to).await else { return };
        if !g.info.participants.contains(&sender.id) {
            return;
        }
        c.from = c.to.clone();
        c.participant = sender.id.clone();
        for member in g.info.participants.iter().filter(|p| **p != sender.id) {
            shared.hub.send_live(member, &Stanza::ChatState(c.clone())).await;
        }
        return;
    }
    let Ok(Some(recipient)) = shared.store.user(&c.to).await else { return };
    if check_reach(shared, sender, &recipient).await.is_err() {
        return;
    }
    c.from = sender.id.clone();
    c.participant.clear();
    shared.hub.send_live(&recipient.id, &Stanza::ChatState(c)).await;
}

/// A client confirms it stored a receipt or notification.
pub async fn on_ack(shared: &Shared, user: &UserRow, a: Ack) {
    let class = match AckClass::try_from(a.class) {
        Ok(AckClass::Receipt) => MailboxClass::Receipt,
        Ok(AckClass::Notification) => MailboxClass::Notification,
        _ => return,
    };
    let peer = (class == MailboxClass::Receipt).then_some(a.peer.as_str());
    if let Err(e) = shared.store.remove_acked(&user.id, class, peer, &a.id).await {
        tracing::warn!(error = %e, "could not remove an acknowledged entry");
    }
}
