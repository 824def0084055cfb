//! Enlistment over HTTPS (spec §3.1): registering a Matrix user with the gatekeeper, with a
//! fresh Noise transport key and Olm identity, and removing it again.
//!
//! The gatekeeper checks our partner-signed token against our JWKS, so most refusals mean a
//! configuration problem on one side or the other; the errors say which setting to look at.

use std::time::Duration;

use interop_proto::auth::Scope;
use interop_proto::e2ee::{E2ee, MAX_ONE_TIME_KEYS, OlmEndpoint, SCHEME_OLM_V1};
use interop_proto::enlist::{
    ENLIST_PATH, EnlistFailure, EnlistRequest, EnlistResponse, KEY_TYPE_CURVE25519, UNENLIST_PATH,
    UnenlistRequest, WireSignedPrekey,
};
use interop_proto::transport::NoiseKeypair;
use serde::Serialize;

use super::{Context, keys, store_error};
use crate::gatekeeper::GatekeeperError;

/// Enlists `user` with new keys and stores them; returns the gatekeeper-internal id.
pub(super) async fn enlist(ctx: &Context, user: &str) -> Result<String, GatekeeperError> {
    let noise = NoiseKeypair::generate();
    let mut e2ee = OlmEndpoint::new();
    let ids = e2ee.identity_keys();
    let prekey = e2ee.signed_prekey();
    let one_time_keys = e2ee.generate_one_time_keys(MAX_ONE_TIME_KEYS);
    let request = EnlistRequest {
        partner: ctx.partner_id.clone(),
        user: user.to_owned(),
        authkey: noise.public().to_vec(),
        key_type: KEY_TYPE_CURVE25519,
        scheme: SCHEME_OLM_V1,
        identity_key: ids.curve25519.to_vec(),
        signing_key: ids.ed25519.to_vec(),
        signed_prekey: WireSignedPrekey {
            id: prekey.id,
            key: prekey.key,
            signature: prekey.signature,
        },
        one_time_keys: one_time_keys.into_iter().map(|k| k.key).collect(),
        token: ctx.token(user, Scope::Enlist, Some(&noise.public()))?,
    };
    let remote_id = match post(ctx, ENLIST_PATH, &request).await? {
        EnlistResponse::Ok { login } => login,
        EnlistResponse::Fail { reason, detail } => return Err(failure(ctx, &reason, &detail)),
    };
    interop_proto::UserId::parse(&remote_id).map_err(|e| {
        GatekeeperError::Other(format!("the gatekeeper answered an invalid id {remote_id:?}: {e}"))
    })?;
    keys::store_new(&ctx.store, &ctx.storage, user, &remote_id, noise, e2ee)
        .await
        .map_err(store_error)?;
    tracing::info!(%user, remote_id = %remote_id, "enlisted with the gatekeeper");
    Ok(remote_id)
}

/// Asks the gatekeeper to forget `user`. A user it does not know counts as done.
pub(super) async fn unenlist(ctx: &Context, user: &str) -> Result<(), GatekeeperError> {
    let request = UnenlistRequest {
        partner: ctx.partner_id.clone(),
        user: user.to_owned(),
        token: ctx.token(user, Scope::Enlist, None)?,
    };
    match post(ctx, UNENLIST_PATH, &request).await? {
        EnlistResponse::Ok { .. }
        | EnlistResponse::Fail { reason: EnlistFailure::NotEnlisted, .. } => Ok(()),
        EnlistResponse::Fail { reason, detail } => Err(failure(ctx, &reason, &detail)),
    }
}

async fn post<T: Serialize>(
    ctx: &Context,
    path: &str,
    body: &T,
) -> Result<EnlistResponse, GatekeeperError> {
    let url = interop_proto::auth::join(&ctx.address, path)
        .map_err(|e| GatekeeperError::Other(format!("bad gatekeeper address: {e}")))?;
    let response =
        ctx.http.post(url).json(body).timeout(Duration::from_secs(30)).send().await.map_err(
            |e| {
                GatekeeperError::Disconnected(format!(
                    "cannot reach the gatekeeper at {}: {e}",
                    ctx.address
                ))
            },
        )?;
    let status = response.status();
    if status.as_u16() == 429 {
        let seconds = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1);
        return Err(GatekeeperError::RateLimited { retry_after_ms: seconds.saturating_mul(1000) });
    }
    response.json::<EnlistResponse>().await.map_err(|e| {
        GatekeeperError::Other(format!(
            "the gatekeeper answered {status} with an unreadable body: {e}"
        ))
    })
}

/// A refusal in words that point at the fix.
fn failure(ctx: &Context, reason: &EnlistFailure, detail: &str) -> GatekeeperError {
    let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
    GatekeeperError::Other(match reason {
        EnlistFailure::BadIntegrator => format!(
            "the gatekeeper does not accept {:?} as a partner{detail}: check gatekeeper.partner_id \
             and ask the gatekeeper's operator to allow it",
            ctx.partner_id
        ),
        EnlistFailure::BadToken => format!(
            "the gatekeeper refused our token{detail}: check that it can fetch our JWKS at \
             gatekeeper.partner_base and that gatekeeper.gatekeeper_id and partner_id match its \
             settings"
        ),
        EnlistFailure::ExpiredToken => {
            format!("the gatekeeper says our token has expired{detail}: check this machine's clock")
        }
        EnlistFailure::BadKeys => format!("the gatekeeper refused the new keys{detail}"),
        EnlistFailure::RateLimited => format!("too many log-ins at once{detail}; try again soon"),
        EnlistFailure::NotEnlisted => format!("the gatekeeper does not know this user{detail}"),
        EnlistFailure::Unknown => format!("the gatekeeper refused{detail}"),
    })
}
