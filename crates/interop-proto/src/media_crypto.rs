//! Encrypting media blobs before they leave the sender's side.
//!
//! Scheme 1: AES-256-CTR with a fresh random key per blob and a 16-byte IV
//! whose low 8 bytes are zero, then SHA-256 over the ciphertext. Key, IV and
//! hash travel inside the end-to-end encrypted [`MediaRef`]; the host only
//! ever sees ciphertext. Integrity comes from checking the hash *before*
//! decrypting. This is the same construction as Matrix encrypted
//! attachments, so a bridge can relay a blob without re-encrypting it.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::content::{MediaKind, MediaLocation, MediaRef};

/// The only scheme defined so far.
pub const MEDIA_SCHEME_AES_CTR_SHA256: u32 = 1;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("unknown media encryption scheme {0}")]
    UnknownScheme(u32),
    #[error("media key must be 32 bytes and IV 16 bytes")]
    BadKey,
    #[error("SHA-256 of the downloaded blob does not match the message")]
    HashMismatch,
    #[error("downloaded blob is {got} bytes, the message says {expected}")]
    SizeMismatch { got: u64, expected: u64 },
}

/// A blob key. `Debug` does not print it; it is wiped on drop.
#[derive(Clone)]
pub struct MediaKey {
    key: Zeroizing<[u8; 32]>,
    iv: [u8; 16],
}

impl std::fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKey(<redacted>)")
    }
}

impl MediaKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        rand::rngs::OsRng.fill_bytes(&mut iv[..8]);
        Self { key, iv }
    }

    pub fn from_parts(key: &[u8], iv: &[u8]) -> Result<Self, MediaError> {
        let key: [u8; 32] = key.try_into().map_err(|_| MediaError::BadKey)?;
        let iv: [u8; 16] = iv.try_into().map_err(|_| MediaError::BadKey)?;
        Ok(Self { key: Zeroizing::new(key), iv })
    }

    fn apply(&self, data: &mut [u8]) {
        let mut cipher = Aes256Ctr::new(self.key.as_ref().into(), (&self.iv).into());
        cipher.apply_keystream(data);
    }
}

/// The result of [`encrypt`]: upload `ciphertext`, send the rest in the message.
#[derive(Debug)]
pub struct EncryptedMedia {
    pub ciphertext: Vec<u8>,
    pub sha256: [u8; 32],
    pub key: MediaKey,
}

impl EncryptedMedia {
    /// Builds the content's media reference; fill in filename and dimensions after.
    pub fn to_media_ref(&self, kind: MediaKind, mime: &str, location: MediaLocation) -> MediaRef {
        MediaRef {
            kind: kind as i32,
            mime: mime.to_owned(),
            size: self.ciphertext.len() as u64,
            sha256: self.sha256.to_vec(),
            key: self.key.key.to_vec(),
            iv: self.key.iv.to_vec(),
            scheme: MEDIA_SCHEME_AES_CTR_SHA256,
            location: Some(location),
            ..Default::default()
        }
    }
}

/// Encrypts a blob under a fresh key.
pub fn encrypt(plaintext: &[u8]) -> EncryptedMedia {
    let key = MediaKey::generate();
    let mut ciphertext = plaintext.to_vec();
    key.apply(&mut ciphertext);
    let sha256 = Sha256::digest(&ciphertext).into();
    EncryptedMedia { ciphertext, sha256, key }
}

/// Verifies the hash, then decrypts.
pub fn decrypt(ciphertext: &[u8], key: &MediaKey, sha256: &[u8]) -> Result<Vec<u8>, MediaError> {
    if Sha256::digest(ciphertext).as_slice() != sha256 {
        return Err(MediaError::HashMismatch);
    }
    let mut plaintext = ciphertext.to_vec();
    key.apply(&mut plaintext);
    Ok(plaintext)
}

/// Checks scheme, size and hash against a received [`MediaRef`], then decrypts.
pub fn decrypt_ref(media: &MediaRef, ciphertext: &[u8]) -> Result<Vec<u8>, MediaError> {
    if media.scheme != MEDIA_SCHEME_AES_CTR_SHA256 {
        return Err(MediaError::UnknownScheme(media.scheme));
    }
    let got = ciphertext.len() as u64;
    if got != media.size {
        return Err(MediaError::SizeMismatch { got, expected: media.size });
    }
    let key = MediaKey::from_parts(&media.key, &media.iv)?;
    decrypt(ciphertext, &key, &media.sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let blob = b"a picture of a cat".repeat(100);
        let enc = encrypt(&blob);
        assert_ne!(enc.ciphertext, blob);
        let r = enc.to_media_ref(
            MediaKind::Image,
            "image/png",
            MediaLocation::StorageReference("abc".into()),
        );
        assert_eq!(decrypt_ref(&r, &enc.ciphertext).unwrap(), blob);
        let mut bad = enc.ciphertext.clone();
        bad[3] ^= 1;
        assert_eq!(decrypt_ref(&r, &bad), Err(MediaError::HashMismatch));
        assert!(matches!(decrypt_ref(&r, &bad[1..]), Err(MediaError::SizeMismatch { .. })));
        assert!(!format!("{:?} {:?}", enc.key, r).contains(&crate::hex(&r.key)));
    }
}
