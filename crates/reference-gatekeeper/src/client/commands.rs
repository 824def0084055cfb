//! The `gk` commands that need the channel, as data: run directly on a new
//! session, or sent to a running `gk listen` over its socket.

use interop_proto::content::{Content, MediaKind, MediaLocation, MessageRef, Reaction};
use interop_proto::stanza::{
    BlockAction, BlocklistSet, GroupCreate, GroupInfo, GroupUpdate, IqAnswer, IqQuery, KeyCount,
    ProfileGet, ReceiptType,
};
use interop_proto::{Capability, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ClientError;
use super::session::{Sent, Session};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Send { to: String, text: String },
    Reply { to: String, msg_id: String, text: String },
    React { to: String, msg_id: String, emoji: String },
    Unreact { to: String, msg_id: String },
    Edit { to: String, msg_id: String, text: String },
    Delete { to: String, msg_id: String },
    SendFile { to: String, path: String, caption: String },
    Typing { to: String, on: bool },
    Read { to: String, msg_ids: Vec<String> },
    Block { user: String },
    Unblock { user: String },
    Blocklist,
    Profile { user: String },
    Lookup { phone: String },
    KeyCount,
    GroupCreate { subject: String, members: Vec<String> },
    GroupAdd { group: String, members: Vec<String> },
    GroupRemove { group: String, members: Vec<String> },
    GroupInfo { group: String },
}

fn sent_json(s: Sent) -> Value {
    json!({ "id": s.id, "to": s.to, "timestamp": s.timestamp })
}

fn group_json(g: GroupInfo) -> Value {
    json!({ "group": g.group, "subject": g.subject, "creator": g.creator, "participants": g.participants, "admins": g.admins })
}

fn require(session: &Session, cap: Capability) -> Result<(), ClientError> {
    if session.capabilities().contains(&cap) {
        Ok(())
    } else {
        Err(ClientError::Refused(interop_proto::stanza::StanzaError::new(
            ErrorCode::Unsupported,
            format!("unsupported: this gatekeeper does not offer {cap}"),
        )))
    }
}

async fn resolve_all(session: &mut Session, users: &[String]) -> Result<Vec<String>, ClientError> {
    let mut out = Vec::new();
    for u in users {
        out.push(session.resolve(u).await?);
    }
    Ok(out)
}

fn target(session: &Session, to: &str, msg_id: &str) -> MessageRef {
    // Group messages: the sender is whoever wrote it; 1:1: ours or the peer's.
    let sender = session.sender_of(msg_id).unwrap_or(to).to_owned();
    MessageRef { id: msg_id.to_owned(), sender }
}

fn mime_for(path: &str) -> (&'static str, MediaKind) {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or_default();
    match ext {
        "jpg" | "jpeg" => ("image/jpeg", MediaKind::Image),
        "png" => ("image/png", MediaKind::Image),
        "gif" => ("image/gif", MediaKind::Image),
        "mp4" => ("video/mp4", MediaKind::Video),
        "ogg" | "opus" => ("audio/ogg", MediaKind::Voice),
        "mp3" => ("audio/mpeg", MediaKind::Audio),
        "txt" => ("text/plain", MediaKind::File),
        "pdf" => ("application/pdf", MediaKind::File),
        _ => ("application/octet-stream", MediaKind::File),
    }
}

/// Runs one command; the JSON is what `gk` prints.
pub async fn execute(session: &mut Session, cmd: Command) -> Result<Value, ClientError> {
    let out = match cmd {
        Command::Send { to, text } => {
            let to = session.resolve(&to).await?;
            sent_json(session.send_content(&to, Content::text(text)).await?)
        }
        Command::Reply { to, msg_id, text } => {
            let to = session.resolve(&to).await?;
            let c =
                Content { in_reply_to: Some(target(session, &to, &msg_id)), ..Content::text(text) };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::React { to, msg_id, emoji } => {
            require(session, Capability::Reactions)?;
            let to = session.resolve(&to).await?;
            let r = Reaction { target: Some(target(session, &to, &msg_id)), emoji, revoke: false };
            let c = Content { reaction: Some(r), ..Content::text("") };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::Unreact { to, msg_id } => {
            require(session, Capability::ReactionRevoke)?;
            let to = session.resolve(&to).await?;
            let r = Reaction {
                target: Some(target(session, &to, &msg_id)),
                emoji: String::new(),
                revoke: true,
            };
            let c = Content { reaction: Some(r), ..Content::text("") };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::Edit { to, msg_id, text } => {
            require(session, Capability::Edits)?;
            let to = session.resolve(&to).await?;
            let me = session.user().to_owned();
            let c = Content {
                replaces: Some(MessageRef { id: msg_id, sender: me }),
                ..Content::text(text)
            };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::Delete { to, msg_id } => {
            require(session, Capability::Deletes)?;
            let to = session.resolve(&to).await?;
            let me = session.user().to_owned();
            let c = Content {
                delete: Some(MessageRef { id: msg_id, sender: me }),
                ..Content::text("")
            };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::SendFile { to, path, caption } => {
            require(session, Capability::Media)?;
            let to = session.resolve(&to).await?;
            let data = std::fs::read(&path)?;
            let access = session
                .media
                .clone()
                .ok_or_else(|| ClientError::Usage("this session cannot upload media".into()))?;
            let enc = interop_proto::media_crypto::encrypt(&data);
            let url = access.upload(enc.ciphertext.clone()).await?;
            let (mime, kind) = mime_for(&path);
            let mut media = enc.to_media_ref(kind, mime, MediaLocation::Url(url));
            media.filename = std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let c = Content { media: Some(media), ..Content::text(caption) };
            sent_json(session.send_content(&to, c).await?)
        }
        Command::Typing { to, on } => {
            let to = session.resolve(&to).await?;
            session.typing(&to, on).await?;
            json!({ "to": to, "typing": on })
        }
        Command::Read { to, msg_ids } => {
            require(session, Capability::ReadReceipts)?;
            let to = session.resolve(&to).await?;
            session.receipt(&to, &msg_ids, ReceiptType::Read).await?;
            json!({ "to": to, "read": msg_ids })
        }
        Command::Block { user } => block(session, &user, BlockAction::Block).await?,
        Command::Unblock { user } => block(session, &user, BlockAction::Unblock).await?,
        Command::Blocklist => {
            match session.request(IqQuery::BlocklistGet(Default::default())).await? {
                IqAnswer::Blocklist(b) => json!({ "blocked": b.users }),
                _ => return Err(ClientError::Corrupt("unexpected answer".into())),
            }
        }
        Command::Profile { user } => {
            let user = session.resolve(&user).await?;
            match session.request(IqQuery::ProfileGet(ProfileGet { user })).await? {
                IqAnswer::Profile(p) => {
                    json!({ "user": p.user, "name": p.display_name, "avatar_url": p.avatar_url })
                }
                _ => return Err(ClientError::Corrupt("unexpected answer".into())),
            }
        }
        Command::Lookup { phone } => {
            json!({ "phone": phone.clone(), "user": session.resolve(&phone).await? })
        }
        Command::KeyCount => match session.request(IqQuery::KeyCount(KeyCount {})).await? {
            IqAnswer::KeyCount(k) => json!({ "count": k.count, "low_watermark": k.low_watermark }),
            _ => return Err(ClientError::Corrupt("unexpected answer".into())),
        },
        Command::GroupCreate { subject, members } => {
            require(session, Capability::Groups)?;
            let participants = resolve_all(session, &members).await?;
            match session
                .request(IqQuery::GroupCreate(GroupCreate { subject, participants }))
                .await?
            {
                IqAnswer::Group(g) => group_json(g),
                _ => return Err(ClientError::Corrupt("unexpected answer".into())),
            }
        }
        Command::GroupAdd { group, members } | Command::GroupRemove { group, members }
            if members.is_empty() =>
        {
            return Err(ClientError::Usage(format!("no members given for {group}")));
        }
        Command::GroupAdd { group, members } => {
            let add = resolve_all(session, &members).await?;
            group_update(session, GroupUpdate { group, add, ..Default::default() }).await?
        }
        Command::GroupRemove { group, members } => {
            let remove = resolve_all(session, &members).await?;
            group_update(session, GroupUpdate { group, remove, ..Default::default() }).await?
        }
        Command::GroupInfo { group } => {
            match session
                .request(IqQuery::GroupGet(interop_proto::stanza::GroupGet { group }))
                .await?
            {
                IqAnswer::Group(g) => group_json(g),
                _ => return Err(ClientError::Corrupt("unexpected answer".into())),
            }
        }
    };
    session.save()?;
    Ok(out)
}

async fn block(
    session: &mut Session,
    user: &str,
    action: BlockAction,
) -> Result<Value, ClientError> {
    let user = session.resolve(user).await?;
    session
        .request(IqQuery::BlocklistSet(BlocklistSet { user: user.clone(), action: action as i32 }))
        .await?;
    Ok(json!({ "user": user, "blocked": action == BlockAction::Block }))
}

async fn group_update(session: &mut Session, q: GroupUpdate) -> Result<Value, ClientError> {
    match session.request(IqQuery::GroupUpdate(q)).await? {
        IqAnswer::Group(g) => Ok(group_json(g)),
        _ => Err(ClientError::Corrupt("unexpected answer".into())),
    }
}
