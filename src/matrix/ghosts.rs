//! Ghost users: the Matrix accounts that stand for gatekeeper contacts.
//!
//! A ghost must be registered on the homeserver (as the appservice) before the bridge can act as
//! it with `?user_id=`. Registration is remembered in the store, and `M_USER_IN_USE` counts as
//! success, so a ghost registered in an earlier run (or by a lost response) is not an error.

use ruma::{
    OwnedUserId, UserId,
    api::{
        client::account::register::{self, LoginType},
        error::ErrorKind,
    },
};

use super::{MatrixClient, MatrixError, ghost_id};
use crate::{
    config::UsernameTemplate,
    store::{Store, StoreError},
};

#[derive(Debug, thiserror::Error)]
pub enum GhostError {
    #[error(transparent)]
    Matrix(#[from] MatrixError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct Ghosts {
    client: MatrixClient,
    store: Store,
    template: UsernameTemplate,
    domain: String,
}

impl Ghosts {
    pub fn new(
        client: MatrixClient,
        store: Store,
        template: UsernameTemplate,
        domain: String,
    ) -> Self {
        Self { client, store, template, domain }
    }

    /// The gatekeeper-internal id a ghost stands for, or `None` if `user_id` is not a ghost.
    pub fn gatekeeper_id_of(&self, user_id: &UserId) -> Option<String> {
        if user_id.server_name().as_str() != self.domain {
            return None;
        }
        ghost_id::remote_id_for(self.template.id_of(user_id.localpart())?)
    }

    /// The ghost's user id for a gatekeeper-internal id.
    pub fn user_id_for(&self, gatekeeper_id: &str) -> Option<OwnedUserId> {
        let id = ghost_id::ghost_id_for(gatekeeper_id)?;
        UserId::parse(format!("@{}:{}", self.template.localpart(&id), self.domain)).ok()
    }

    /// Registers the ghost on the homeserver unless that was done before.
    pub async fn ensure_registered(&self, user_id: &UserId) -> Result<(), GhostError> {
        if self.store.ghost_registered(user_id.as_str()).await? {
            return Ok(());
        }
        register_appservice_user(&self.client, user_id.localpart()).await?;
        self.store.insert_ghost(user_id.as_str()).await?;
        tracing::info!(%user_id, "registered ghost");
        Ok(())
    }
}

/// Registers a user in the appservice's namespace (or the bot); already registered is success.
pub async fn register_appservice_user(
    client: &MatrixClient,
    localpart: &str,
) -> Result<(), MatrixError> {
    let mut request = register::v3::Request::new();
    request.username = Some(localpart.to_owned());
    request.login_type = Some(LoginType::ApplicationService);
    request.inhibit_login = true;
    match client.send(request).await {
        Ok(_) => Ok(()),
        Err(error) if matches!(error.kind(), Some(ErrorKind::UserInUse)) => Ok(()),
        Err(error) => Err(error),
    }
}
