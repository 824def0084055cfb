//! Groups: creation and membership (`iq`), announcements
//! (`notification group_change`) and sender-key fan-out of group messages.
//!
//! A group message carries one `skmsg` for everyone plus pairwise parts that
//! hand out sender keys; each member receives the `skmsg` and only its own
//! pairwise parts, with `from` = the group and `participant` = the sender.

use std::sync::Arc;

use interop_proto::stanza::{
    EncType, GroupChange, GroupCreate, GroupInfo, GroupUpdate, MessageKind, MessageStanza,
    NotificationBody, Stanza,
};
use interop_proto::{Capability, ErrorCode};

use crate::error::Refusal;
use crate::mailbox;
use crate::policy::existing;
use crate::state::Shared;
use crate::store::UserRow;

const MAX_MEMBERS: usize = 256;

fn require_groups(shared: &Shared) -> Result<(), Refusal> {
    if shared.capabilities.contains(&Capability::Groups) {
        Ok(())
    } else {
        Err(Refusal::new(ErrorCode::Unsupported, "unsupported: this gatekeeper offers no groups"))
    }
}

async fn load(shared: &Shared, group: &str) -> Result<GroupInfo, Refusal> {
    shared
        .store
        .group(group)
        .await?
        .map(|g| g.info)
        .ok_or_else(|| Refusal::new(ErrorCode::NotFound, format!("not_found: no group {group}")))
}

/// Tells every member (and those just removed) about the group's new state.
async fn announce(
    shared: &Arc<Shared>,
    info: &GroupInfo,
    actor: &str,
    extra: &[String],
) -> Result<(), Refusal> {
    for member in info.participants.iter().chain(extra) {
        let body = NotificationBody::GroupChange(GroupChange {
            group: Some(info.clone()),
            actor: actor.to_owned(),
        });
        mailbox::notify(shared, member, body).await?;
    }
    Ok(())
}

pub async fn create(
    shared: &Arc<Shared>,
    creator: &UserRow,
    q: GroupCreate,
) -> Result<GroupInfo, Refusal> {
    require_groups(shared)?;
    let mut members = vec![creator.id.clone()];
    for p in q.participants {
        existing(shared, &p).await?;
        if !members.contains(&p) {
            members.push(p);
        }
    }
    if members.len() > MAX_MEMBERS {
        return Err(Refusal::new(ErrorCode::TooLarge, "too_large: too many members"));
    }
    let n = shared.store.next_counter("group").await?;
    let id = format!("g-{n}@group");
    shared.store.create_group(&id, &q.subject, &creator.id, &members).await?;
    let info = load(shared, &id).await?;
    announce(shared, &info, &creator.id, &[]).await?;
    tracing::info!(group = %id, members = members.len(), "group created");
    Ok(info)
}

pub async fn get(shared: &Shared, user: &UserRow, group: &str) -> Result<GroupInfo, Refusal> {
    require_groups(shared)?;
    let info = load(shared, group).await?;
    if !info.participants.contains(&user.id) {
        return Err(Refusal::new(ErrorCode::Blocked, "forbidden: you are not a member"));
    }
    Ok(info)
}

pub async fn update(
    shared: &Arc<Shared>,
    user: &UserRow,
    q: GroupUpdate,
) -> Result<GroupInfo, Refusal> {
    require_groups(shared)?;
    let before = load(shared, &q.group).await?;
    let leaving_self = q.add.is_empty() && q.remove == [user.id.clone()] && q.subject.is_empty();
    if !before.admins.contains(&user.id) && !leaving_self {
        return Err(Refusal::new(ErrorCode::Blocked, "forbidden: only admins change the group"));
    }
    for a in &q.add {
        existing(shared, a).await?;
    }
    shared.store.update_group(&q.group, &q.add, &q.remove, &q.subject).await?;
    let info = load(shared, &q.group).await?;
    let removed: Vec<String> =
        q.remove.iter().filter(|r| before.participants.contains(r)).cloned().collect();
    announce(shared, &info, &user.id, &removed).await?;
    Ok(info)
}

/// Fans a group message out to every other member.
pub async fn route_group_message(
    shared: &Arc<Shared>,
    sender: &UserRow,
    m: MessageStanza,
) -> Result<u64, Refusal> {
    require_groups(shared)?;
    let info = load(shared, &m.to).await?;
    if !info.participants.contains(&sender.id) {
        return Err(Refusal::new(
            ErrorCode::Blocked,
            "forbidden: you are not a member of this group",
        ));
    }
    let now = interop_proto::now_ms();
    let skmsg: Vec<_> =
        m.enc.iter().filter(|e| e.r#type == EncType::Skmsg as i32).cloned().collect();
    let mut copies = Vec::new();
    for member in info.participants.iter().filter(|p| **p != sender.id) {
        if shared.store.is_blocked(member, &sender.id).await? {
            continue;
        }
        let mut enc = skmsg.clone();
        enc.extend(m.enc.iter().filter(|e| &e.recipient == member).cloned());
        let out = MessageStanza {
            id: m.id.clone(),
            from: info.group.clone(),
            to: member.clone(),
            participant: sender.id.clone(),
            timestamp: now,
            kind: MessageKind::Group as i32,
            enc,
            offline: false,
            retry_count: m.retry_count,
        };
        copies.push((member.clone(), Stanza::Message(out)));
    }
    let accepted = MessageStanza { from: info.group.clone(), timestamp: now, enc: Vec::new(), ..m };
    mailbox::accept_message(shared, &sender.id, &accepted, copies).await?;
    Ok(now)
}
