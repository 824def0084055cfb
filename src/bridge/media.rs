//! Moving attachments between the homeserver's media repository and the gatekeeper.
//!
//! Outgoing: the blob is downloaded through authenticated media (`/_matrix/client/v1/media`),
//! encrypted under a fresh key (protocol §9.1) and hosted by the bridge for the gatekeeper to
//! fetch (§9.2). Incoming: the blob is fetched from the gatekeeper's media host, checked
//! against its size and hash, decrypted, and uploaded to the homeserver as the ghost.

use interop_proto::content::{MediaLocation, MediaRef};
use ruma::{
    OwnedMxcUri, UserId,
    api::client::{authenticated_media::get_content, media::create_content},
    events::room::MediaSource,
};

use super::Bridge;
use crate::{convert::OutgoingMedia, gatekeeper::GatekeeperLogin};

/// Largest attachment bridged either way (the protocol's limit).
pub const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than 100 MiB")]
    TooLarge,
    #[error("files from encrypted rooms cannot be bridged yet")]
    EncryptedSource,
    #[error("not a valid media URI: {0}")]
    BadUri(String),
    #[error("the homeserver: {0}")]
    Matrix(#[from] crate::matrix::MatrixError),
    #[error("the gatekeeper: {0}")]
    Gatekeeper(#[from] crate::gatekeeper::GatekeeperError),
    #[error("the file failed its integrity check: {0}")]
    Integrity(#[from] interop_proto::media_crypto::MediaError),
    #[error("encrypting or decrypting the file stopped: {0}")]
    Crypto(#[from] tokio::task::JoinError),
}

/// Fetches, encrypts and hosts an outgoing attachment; returns its reference for the message.
pub async fn host_outgoing(
    bridge: &Bridge,
    login: &dyn GatekeeperLogin,
    media: &OutgoingMedia,
) -> Result<MediaRef, MediaError> {
    if media.claimed_size > MAX_MEDIA_BYTES {
        return Err(MediaError::TooLarge);
    }
    let uri = match &media.source {
        MediaSource::Plain(uri) => uri,
        MediaSource::Encrypted(_) => return Err(MediaError::EncryptedSource),
    };
    let request =
        get_content::v1::Request::from_uri(uri).map_err(|e| MediaError::BadUri(e.to_string()))?;
    let file = bridge.bot.send(request).await?.file;
    if file.len() as u64 > MAX_MEDIA_BYTES {
        return Err(MediaError::TooLarge);
    }
    // Up to 100 MiB of AES and SHA-256: off the runtime's threads, which the bridge keeps few.
    let encrypted =
        tokio::task::spawn_blocking(move || interop_proto::media_crypto::encrypt(&file)).await?;
    let reference = login.host_media(encrypted.ciphertext.clone()).await?;
    let mut media_ref =
        encrypted.to_media_ref(media.kind, &media.mime, MediaLocation::StorageReference(reference));
    media_ref.filename = media.filename.clone();
    media_ref.width = media.width;
    media_ref.height = media.height;
    media_ref.duration_ms = media.duration_ms;
    Ok(media_ref)
}

/// Fetches, checks and decrypts an incoming attachment and uploads it as `ghost`.
pub async fn mirror_incoming(
    bridge: &Bridge,
    login: &dyn GatekeeperLogin,
    ghost: &UserId,
    media: &MediaRef,
) -> Result<OwnedMxcUri, MediaError> {
    if media.size > MAX_MEDIA_BYTES {
        return Err(MediaError::TooLarge);
    }
    let blob = login.fetch_media(media).await?;
    let checked = media.clone();
    let plain = tokio::task::spawn_blocking(move || {
        interop_proto::media_crypto::decrypt_ref(&checked, &blob)
    })
    .await??;
    let mut request = create_content::v3::Request::new(plain);
    if !media.mime.is_empty() {
        request.content_type = Some(media.mime.clone());
    }
    if !media.filename.is_empty() {
        request.filename = Some(media.filename.clone());
    }
    Ok(bridge.bot.as_user(ghost).send(request).await?.content_uri)
}
