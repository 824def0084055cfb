//! Answers to `iq` requests: key directory, blocklist, reachability,
//! profile and groups.

use std::sync::Arc;

use interop_proto::ErrorCode;
use interop_proto::e2ee::verify_bundle;
use interop_proto::stanza::{
    BlockAction, Blocklist, Done, Inbox, Iq, IqAnswer, IqQuery, IqResult, KeyBundles,
    KeyCountResult, LowKeys, NotificationBody, OneTimeKey, Profile, ReachabilityResult,
    UserKeyBundle,
};

use crate::error::Refusal;
use crate::state::Shared;
use crate::store::{UserKind, UserRow};
use crate::{groups, mailbox, policy};

/// Fewer one-time keys than this triggers a `low_keys` notification.
pub const LOW_WATERMARK: u32 = 10;
const MAX_UPLOAD: usize = 100;
const MAX_FETCH: usize = 64;

pub async fn handle(shared: &Arc<Shared>, user: &UserRow, iq: Iq) -> IqResult {
    let answer = match answer(shared, user, iq.query).await {
        Ok(a) => a,
        Err(r) => IqAnswer::Error(r.0),
    };
    IqResult { id: iq.id, answer: Some(answer) }
}

async fn answer(
    shared: &Arc<Shared>,
    user: &UserRow,
    query: Option<IqQuery>,
) -> Result<IqAnswer, Refusal> {
    let store = &shared.store;
    let Some(query) = query else {
        return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: unknown iq query"));
    };
    Ok(match query {
        IqQuery::KeyUpload(q) => {
            if q.one_time_keys.len() > MAX_UPLOAD
                || q.one_time_keys.iter().any(|k| k.key.len() != 32)
            {
                return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: one-time keys"));
            }
            if let Some(spk) = q.signed_prekey {
                let mut bundle = user.bundle.clone();
                bundle.signed_prekey = Some(spk.clone());
                verify_bundle(&bundle).map_err(|_| {
                    Refusal::new(
                        ErrorCode::BadRequest,
                        "bad_request: signed prekey does not verify",
                    )
                })?;
                store.set_signed_prekey(&user.id, &spk).await?;
            }
            let keys: Vec<Vec<u8>> = q.one_time_keys.into_iter().map(|k| k.key).collect();
            store.add_one_time_keys(&user.id, &keys).await?;
            IqAnswer::KeyCount(KeyCountResult {
                count: store.count_one_time_keys(&user.id).await?,
                low_watermark: LOW_WATERMARK,
            })
        }
        IqQuery::KeyCount(_) => IqAnswer::KeyCount(KeyCountResult {
            count: store.count_one_time_keys(&user.id).await?,
            low_watermark: LOW_WATERMARK,
        }),
        IqQuery::KeyFetch(q) => {
            if q.users.len() > MAX_FETCH {
                return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: too many users"));
            }
            let mut bundles = Vec::new();
            for u in q.users {
                bundles.push(fetch_one(shared, user, &u).await);
            }
            IqAnswer::KeyBundles(KeyBundles { bundles })
        }
        IqQuery::BlocklistGet(_) => {
            IqAnswer::Blocklist(Blocklist { users: store.blocklist(&user.id).await? })
        }
        IqQuery::BlocklistSet(q) => {
            interop_proto::UserId::parse(&q.user)
                .map_err(|e| Refusal::new(ErrorCode::BadRequest, format!("bad_request: {e}")))?;
            let block = match BlockAction::try_from(q.action) {
                Ok(BlockAction::Block) => true,
                Ok(BlockAction::Unblock) => false,
                _ => return Err(Refusal::new(ErrorCode::BadRequest, "bad_request: block action")),
            };
            store.set_block(&user.id, &q.user, block).await?;
            IqAnswer::Done(Done {})
        }
        IqQuery::Reachability(q) => {
            let target = if !q.phone.is_empty() {
                store.user_by_phone(&q.phone).await?
            } else {
                store.user(&q.user).await?
            };
            let mut r = ReachabilityResult::default();
            if let Some(t) = target {
                r.user = t.id.clone();
                let inbox = match (user.kind, t.kind) {
                    (UserKind::Partner, UserKind::Native) => {
                        store.opt_in(&t.id, user.partner.as_deref().unwrap_or_default()).await?
                    }
                    _ => Some(Inbox::Combined),
                };
                r.opted_in = inbox.is_some();
                r.inbox = inbox.unwrap_or(Inbox::Unspecified) as i32;
                r.reachable = policy::check_reach(shared, user, &t).await.is_ok();
            }
            IqAnswer::Reachability(r)
        }
        IqQuery::ProfileGet(q) => {
            let t = policy::existing(shared, &q.user).await?;
            let avatar_url = if t.has_avatar {
                shared.public(&format!("v1/avatar/{}", t.id))
            } else {
                String::new()
            };
            IqAnswer::Profile(Profile {
                user: t.id,
                display_name: t.display_name,
                avatar_url,
                about: String::new(),
            })
        }
        IqQuery::GroupCreate(q) => IqAnswer::Group(groups::create(shared, user, q).await?),
        IqQuery::GroupGet(q) => IqAnswer::Group(groups::get(shared, user, &q.group).await?),
        IqQuery::GroupUpdate(q) => IqAnswer::Group(groups::update(shared, user, q).await?),
    })
}

/// One user's bundle with one one-time key (deleted on hand-out).
async fn fetch_one(shared: &Arc<Shared>, me: &UserRow, id: &str) -> UserKeyBundle {
    let mut out = UserKeyBundle { user: id.to_owned(), ..Default::default() };
    let result: Result<_, Refusal> = async {
        let target = policy::existing(shared, id).await?;
        policy::check_reach(shared, me, &target).await?;
        let mut bundle = target.bundle.clone();
        bundle.one_time_key =
            shared.store.take_one_time_key(id).await?.map(|key| OneTimeKey { key });
        let left = shared.store.count_one_time_keys(id).await?;
        if left < LOW_WATERMARK
            && (left == LOW_WATERMARK - 1 || left == 0)
            && bundle.one_time_key.is_some()
        {
            let body = NotificationBody::LowKeys(LowKeys {
                remaining: left,
                low_watermark: LOW_WATERMARK,
            });
            mailbox::notify(shared, id, body).await?;
        }
        Ok(bundle)
    }
    .await;
    match result {
        Ok(b) => out.bundle = Some(b),
        Err(r) => out.error = Some(r.0),
    }
    out
}
