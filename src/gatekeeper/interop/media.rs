//! Media across the gatekeeper (spec §9): our users' encrypted blobs are hosted here, in the
//! store, until the gatekeeper fetches them; native users' blobs are downloaded from the
//! gatekeeper's media host.
//!
//! Blobs are ciphertext either way: the key and hash travel end to end inside the message, and
//! the caller checks size and hash before decrypting. A native user's message names its blob by
//! URL; only URLs on the gatekeeper's media host ([`MediaHosts`]) are fetched.

use std::sync::RwLock;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use interop_proto::content::{MediaLocation, MediaRef};
use rand::RngCore;
use url::{Origin, Url};

use super::Context;
use crate::gatekeeper::GatekeeperError;

/// Largest blob accepted either way (spec §9.3).
pub const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

/// Where native users' media and avatars may be downloaded from: the origin of the configured
/// gatekeeper address, and the media host the gatekeeper announces on its channel
/// (`ib server_info.media_host`, spec §9.3). Any other host a message names is refused before a
/// request is made.
#[derive(Debug)]
pub(crate) struct MediaHosts {
    api: Origin,
    announced: RwLock<Option<Origin>>,
}

impl MediaHosts {
    pub(crate) fn new(address: &Url) -> Self {
        Self { api: address.origin(), announced: RwLock::new(None) }
    }

    /// Records the media host the gatekeeper announced; one that is not an http(s) URL is
    /// ignored (the API origin stays allowed).
    pub(crate) fn announce(&self, media_host: &str) {
        let Some(url) = Url::parse(media_host).ok().filter(is_http) else {
            if !media_host.is_empty() {
                tracing::warn!(media_host, "the gatekeeper announced an unusable media host");
            }
            return;
        };
        *self.announced.write().unwrap_or_else(|p| p.into_inner()) = Some(url.origin());
    }

    /// Whether `url` is an http(s) URL on the gatekeeper's API origin or announced media host.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        if !is_http(url) {
            return false;
        }
        let origin = url.origin();
        origin == self.api
            || self.announced.read().unwrap_or_else(|p| p.into_inner()).as_ref() == Some(&origin)
    }
}

fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// A storage reference as we make them: URL-path-safe, at most 256 bytes. Anything else never
/// reaches the database.
pub fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= 256
        && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores `ciphertext` for `owner` and returns its unguessable storage reference.
pub(super) async fn host(
    ctx: &Context,
    owner: &str,
    ciphertext: &[u8],
) -> Result<String, GatekeeperError> {
    if ciphertext.len() as u64 > MAX_MEDIA_BYTES {
        return Err(GatekeeperError::TooLarge(format!(
            "{} bytes; at most {MAX_MEDIA_BYTES} bytes of media",
            ciphertext.len()
        )));
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let reference = URL_SAFE_NO_PAD.encode(raw);
    ctx.store
        .insert_partner_media(&reference, owner, ciphertext)
        .await
        .map_err(super::store_error)?;
    Ok(reference)
}

/// Downloads a native user's blob from the gatekeeper's media host.
pub(super) async fn fetch(ctx: &Context, media: &MediaRef) -> Result<Vec<u8>, GatekeeperError> {
    let url = match &media.location {
        Some(MediaLocation::Url(url)) => Url::parse(url).ok().filter(is_http).ok_or_else(|| {
            GatekeeperError::Other(format!("the media URL {url:?} is not usable"))
        })?,
        Some(MediaLocation::StorageReference(_)) => {
            return Err(GatekeeperError::Unsupported("media hosted by another partner"));
        }
        None => return Err(GatekeeperError::Other("the media has no location".into())),
    };
    let too_large = |size: u64| {
        GatekeeperError::TooLarge(format!("{size} bytes; at most {MAX_MEDIA_BYTES} bytes of media"))
    };
    if media.size > MAX_MEDIA_BYTES {
        return Err(too_large(media.size));
    }
    if !ctx.media_hosts.allows(&url) {
        tracing::warn!(host = %url.origin().ascii_serialization(), "refused to fetch media from a host that is not the gatekeeper's");
        return Err(GatekeeperError::NotMediaHost(url.origin().ascii_serialization()));
    }
    let mut response =
        ctx.http.get(url).send().await.and_then(|r| r.error_for_status()).map_err(|e| {
            GatekeeperError::Disconnected(format!("cannot download the media: {e}"))
        })?;
    if let Some(size) = response.content_length().filter(|n| *n > MAX_MEDIA_BYTES) {
        return Err(too_large(size));
    }
    let mut blob = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| GatekeeperError::Disconnected(format!("media download broke off: {e}")))?
    {
        if (blob.len() + chunk.len()) as u64 > MAX_MEDIA_BYTES {
            return Err(too_large((blob.len() + chunk.len()) as u64));
        }
        blob.extend_from_slice(&chunk);
    }
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_gatekeepers_hosts_are_media_hosts() {
        let url = |text: &str| Url::parse(text).unwrap();
        let hosts = MediaHosts::new(&url("http://127.0.0.1:8480/"));
        assert!(hosts.allows(&url("http://127.0.0.1:8480/v1/media/abc")));
        for other in [
            "http://127.0.0.1:8481/v1/media/abc",
            "https://127.0.0.1:8480/v1/media/abc",
            "http://localhost:8480/v1/media/abc",
            "http://127.0.0.1.nip.example:8480/",
            "file:///etc/passwd",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(!hosts.allows(&url(other)), "{other}");
        }
        hosts.announce("not a url");
        hosts.announce("ftp://media.example/");
        assert!(!hosts.allows(&url("https://media.example/x")));
        hosts.announce("https://media.example/base/");
        assert!(hosts.allows(&url("https://media.example:443/x/y")));
        assert!(hosts.allows(&url("http://127.0.0.1:8480/still")));
        assert!(!hosts.allows(&url("http://media.example/x")));
    }

    #[test]
    fn only_url_safe_references_are_valid() {
        assert!(valid_reference(&URL_SAFE_NO_PAD.encode([9u8; 32])));
        for bad in ["", "../etc/passwd", "a/b", "a%2Fb", "a.b", &"a".repeat(257)] {
            assert!(!valid_reference(bad), "{bad}");
        }
    }
}
