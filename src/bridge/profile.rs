//! Ghost profiles: the contact's display name and avatar, kept in sync with the gatekeeper.
//!
//! A profile is fetched when a portal opens and again when a message arrives after it has
//! gone stale. The avatar is uploaded to the homeserver only when its source changed, and is
//! downloaded only from the gatekeeper's media host (the connector's `is_media_url`).

use std::time::{Duration, Instant};

use ruma::{
    OwnedMxcUri, OwnedUserId, UserId,
    api::client::{media::create_content, profile::set_profile_field},
    profile::ProfileFieldValue,
};

use super::Bridge;
use crate::gatekeeper::Contact;

/// A profile older than this is fetched again when the contact writes.
const STALE_MS: i64 = 3600 * 1000;
/// Avatars larger than this are not mirrored.
const MAX_AVATAR_BYTES: usize = 5 * 1024 * 1024;

/// Ghosts whose stored profile is known to be fresh, until when: a message from them then
/// needs no read of the profile row to find that out.
#[derive(Default)]
pub struct FreshProfiles {
    until: std::sync::Mutex<std::collections::HashMap<OwnedUserId, Instant>>,
}

/// Entries kept before expired ones are swept out.
const FRESH_SWEEP_AT: usize = 4096;

impl FreshProfiles {
    fn is_fresh(&self, ghost: &UserId) -> bool {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.get(ghost).is_some_and(|until| *until > Instant::now())
    }

    fn fresh_for(&self, ghost: &UserId, ms: i64) {
        let Ok(ms) = u64::try_from(ms) else { return };
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.len() >= FRESH_SWEEP_AT {
            until.retain(|_, at| *at > now);
        }
        until.insert(ghost.to_owned(), now + Duration::from_millis(ms));
    }
}

/// Brings the ghost's profile up to date (best effort: failures are logged, never fatal).
pub async fn sync(bridge: &Bridge, owner: &UserId, remote_id: &str, ghost: &UserId, force: bool) {
    if !force && bridge.fresh_profiles.is_fresh(ghost) {
        return;
    }
    let stored = match bridge.store.ghost_profile(ghost.as_str()).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(%error, "cannot read a ghost profile");
            return;
        }
    };
    let age_ms = stored.synced_at.map(|at| crate::store::now_ms() - at);
    if let Some(age_ms) = age_ms.filter(|age| *age < STALE_MS) {
        bridge.fresh_profiles.fresh_for(ghost, STALE_MS - age_ms);
        if !force {
            return;
        }
    }
    let Some(login) = bridge.logins.connected(owner.as_str()) else { return };
    let contact = match login.profile(remote_id).await {
        Ok(contact) => contact,
        Err(error) => {
            tracing::info!(%error, remote_id, "cannot fetch a contact's profile");
            return;
        }
    };
    let displayname = display_name(bridge, &contact, remote_id);
    let client = bridge.bot.as_user(ghost);
    if stored.displayname.as_deref() != Some(displayname.as_str()) {
        let value = ProfileFieldValue::DisplayName(displayname.clone());
        if let Err(error) =
            client.send(set_profile_field::v3::Request::new(ghost.to_owned(), value)).await
        {
            tracing::warn!(%error, %ghost, "cannot set a ghost's display name");
        }
    }
    let mut avatar_mxc = None;
    if contact.avatar_url != stored.avatar_source
        && let Some(source) = &contact.avatar_url
    {
        match mirror_avatar(bridge, ghost, source).await {
            Ok(mxc) => {
                let value = ProfileFieldValue::AvatarUrl(mxc.clone());
                match client
                    .send(set_profile_field::v3::Request::new(ghost.to_owned(), value))
                    .await
                {
                    Ok(_) => avatar_mxc = Some(mxc),
                    Err(error) => tracing::warn!(%error, %ghost, "cannot set a ghost's avatar"),
                }
            }
            Err(error) => tracing::info!(%error, %ghost, "cannot mirror a contact's avatar"),
        }
    }
    let avatar_source = if avatar_mxc.is_some() {
        contact.avatar_url.as_deref()
    } else {
        stored.avatar_source.as_deref()
    };
    if let Err(error) = bridge
        .store
        .set_ghost_profile(
            ghost.as_str(),
            &displayname,
            avatar_source,
            avatar_mxc.as_ref().map(|m| m.as_str()),
        )
        .await
    {
        tracing::warn!(%error, "cannot store a ghost profile");
        return;
    }
    bridge.fresh_profiles.fresh_for(ghost, STALE_MS);
}

/// The name shown for a contact: theirs, else their phone number, else their id.
fn display_name(bridge: &Bridge, contact: &Contact, remote_id: &str) -> String {
    let name = contact.display_name.trim();
    let fallback = crate::matrix::ghost_id::phone_digits(remote_id)
        .map(|d| format!("+{d}"))
        .unwrap_or_else(|| remote_id.to_owned());
    let name = if name.is_empty() { fallback.as_str() } else { name };
    bridge.config.bridge.displayname_template.replace("{{.name}}", name)
}

#[derive(Debug, thiserror::Error)]
enum AvatarError {
    #[error("{0:?} is not a URL on the gatekeeper's media host; not downloaded")]
    NotMediaHost(String),
    #[error("download failed: {0}")]
    Download(#[from] reqwest::Error),
    #[error("avatar larger than {MAX_AVATAR_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Matrix(#[from] crate::matrix::MatrixError),
}

async fn mirror_avatar(
    bridge: &Bridge,
    ghost: &UserId,
    source: &str,
) -> Result<OwnedMxcUri, AvatarError> {
    let url = avatar_url(&*bridge.connector, source)?;
    let response = bridge.http.get(url).send().await?.error_for_status()?;
    if response.content_length().is_some_and(|len| len as usize > MAX_AVATAR_BYTES) {
        return Err(AvatarError::TooLarge);
    }
    let mime = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let bytes = response.bytes().await?;
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(AvatarError::TooLarge);
    }
    let request = ruma::assign!(create_content::v3::Request::new(bytes.to_vec()), {
        content_type: Some(mime),
    });
    Ok(bridge.bot.as_user(ghost).send(request).await?.content_uri)
}

/// The avatar's URL, if the gatekeeper's media host serves it.
fn avatar_url(
    connector: &dyn crate::gatekeeper::GatekeeperConnector,
    source: &str,
) -> Result<url::Url, AvatarError> {
    url::Url::parse(source)
        .ok()
        .filter(|url| connector.is_media_url(url))
        .ok_or_else(|| AvatarError::NotMediaHost(source.chars().take(200).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gatekeeper::unconfigured::Unconfigured;

    #[test]
    fn avatars_come_only_from_the_gatekeepers_media_host() {
        let none = Unconfigured { network_name: "WhatsApp".into() };
        for source in ["http://127.0.0.1:9/avatar", "file:///etc/passwd", "not a url", ""] {
            assert!(matches!(avatar_url(&none, source), Err(AvatarError::NotMediaHost(_))));
        }
    }
}
