//! Who may reach whom: opt-in and blocklists (spec §10.1, §10.2).
//!
//! Native users receive third-party chats only after opting in for the
//! sender's partner; a native user who has not opted in also cannot start
//! third-party chats. A blocked sender is refused with 403.

use interop_proto::ErrorCode;

use crate::error::Refusal;
use crate::state::Shared;
use crate::store::{UserKind, UserRow};

pub async fn check_reach(
    shared: &Shared,
    sender: &UserRow,
    recipient: &UserRow,
) -> Result<(), Refusal> {
    if shared.store.is_blocked(&recipient.id, &sender.id).await? {
        return Err(Refusal::new(ErrorCode::Blocked, "blocked: the recipient has blocked you"));
    }
    match (sender.kind, recipient.kind) {
        (UserKind::Partner, UserKind::Native) => {
            let partner = sender.partner.as_deref().unwrap_or_default();
            if shared.store.opt_in(&recipient.id, partner).await?.is_none() {
                return Err(Refusal::new(
                    ErrorCode::NotOptedIn,
                    format!("not_opted_in: the recipient has not opted in to chats from {partner}"),
                ));
            }
        }
        (UserKind::Native, UserKind::Partner) => {
            let partner = recipient.partner.as_deref().unwrap_or_default();
            if shared.store.opt_in(&sender.id, partner).await?.is_none() {
                return Err(Refusal::new(
                    ErrorCode::NotOptedIn,
                    format!("not_opted_in: you have not opted in to chats with {partner}"),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// Looks a user up, refusing with 404 if unknown.
pub async fn existing(shared: &Shared, id: &str) -> Result<UserRow, Refusal> {
    shared
        .store
        .user(id)
        .await?
        .ok_or_else(|| Refusal::new(ErrorCode::NotFound, format!("not_found: no user {id}")))
}
