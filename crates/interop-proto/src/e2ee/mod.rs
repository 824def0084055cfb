//! End-to-end encryption: the [`E2ee`] trait and its vodozemac implementation.
//!
//! The gatekeeper routes ciphertext only. Each endpoint (a partner user, a
//! native user) owns one account: a Curve25519 identity key, an Ed25519
//! signing key, a signed prekey and one-time keys. Pairwise sessions are Olm
//! (3DH + Double Ratchet); groups use Megolm sender keys handed out over the
//! pairwise sessions. The trait keeps the rest of the code independent of
//! vodozemac, so a libsignal-compatible implementation can replace it.

mod bundle;
mod group;
mod olm;
mod pickle;

pub use bundle::{IdentityKeys, signed_prekey_message, verify_bundle};
pub use olm::{OlmEndpoint, PickleChanges};

use zeroize::Zeroizing;

use crate::content::SenderKeyDistribution;
use crate::stanza::{Enc, KeyBundle, OneTimeKey, RetryInfo, SignedPrekey};

/// `scheme` value of this implementation: vodozemac Olm v1 + Megolm v1.
pub const SCHEME_OLM_V1: u32 = 1;

/// Most one-time keys an account keeps (vodozemac's limit); upload at most this many.
pub const MAX_ONE_TIME_KEYS: usize = 50;

/// Why an E2EE operation failed. A receiver answers decryption failures
/// ([`E2eeError::is_retryable`]) with a retry receipt.
#[derive(Debug, thiserror::Error)]
pub enum E2eeError {
    #[error("unsupported E2EE scheme {0}")]
    UnsupportedScheme(u32),
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    #[error("the signed prekey's signature does not verify")]
    BadSignature,
    #[error("no session with {0}")]
    NoSession(String),
    #[error("could not create a session: {0}")]
    SessionCreation(String),
    #[error("could not encrypt: {0}")]
    Encrypt(String),
    #[error("could not decrypt: {0}")]
    Decrypt(String),
    #[error("malformed ciphertext: {0}")]
    Malformed(String),
    #[error("no sender key for group {group} from {sender}")]
    UnknownSenderKey { group: String, sender: String },
    #[error("no outbound sender key for group {0}")]
    NoOutboundSenderKey(String),
    #[error("pickle could not be read: {0}")]
    Pickle(String),
}

impl E2eeError {
    /// Failures a retry receipt can repair (new session / resent sender key).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::NoSession(_)
                | Self::Decrypt(_)
                | Self::UnknownSenderKey { .. }
                | Self::SessionCreation(_)
        )
    }

    /// Short reason for `RetryInfo.reason`.
    pub fn retry_reason(&self) -> &'static str {
        match self {
            Self::NoSession(_) => "no_session",
            Self::Decrypt(_) => "bad_mac",
            Self::UnknownSenderKey { .. } => "no_sender_key",
            Self::SessionCreation(_) => "session_creation",
            _ => "other",
        }
    }
}

/// Builds the `retry` part of a retry receipt after `err`: a fresh bundle
/// (one new one-time key) so the sender can start a new session.
pub fn retry_info(
    e2ee: &mut dyn E2ee,
    err: &E2eeError,
    count: u32,
    message_timestamp: u64,
) -> RetryInfo {
    RetryInfo {
        count,
        message_timestamp,
        bundle: Some(e2ee.fresh_bundle()),
        reason: err.retry_reason().to_owned(),
    }
}

/// The key that encrypts pickles; supplied by the caller (e.g. from config).
/// Wiped on drop, never printed.
pub struct PickleKey(Zeroizing<[u8; 32]>);

impl PickleKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for PickleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PickleKey(<redacted>)")
    }
}

/// What a new bundle or pre-key message tells us about the peer's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityStatus {
    /// First contact: identity recorded (trust on first use).
    New,
    /// Same identity as before.
    Known,
    /// A different identity than before: old sessions were dropped; tell the user.
    Changed,
}

/// A decrypted pairwise message.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub identity: IdentityStatus,
}

/// One endpoint's end-to-end encryption. Peers and groups are gatekeeper ids.
pub trait E2ee: Send {
    /// The `scheme` this implementation speaks (`KeyBundle.scheme`, `Enc.scheme`).
    fn scheme(&self) -> u32;
    /// Public identity keys (for enlistment and change detection).
    fn identity_keys(&self) -> IdentityKeys;
    /// The current signed prekey (public part and signature).
    fn signed_prekey(&self) -> SignedPrekey;
    /// Replaces the signed prekey; the previous one keeps working for late pre-key messages.
    fn rotate_signed_prekey(&mut self) -> SignedPrekey;
    /// Creates `count` (at most [`MAX_ONE_TIME_KEYS`]) one-time keys to upload.
    fn generate_one_time_keys(&mut self, count: usize) -> Vec<OneTimeKey>;
    /// One-time keys still held locally (unused).
    fn one_time_key_count(&self) -> usize;
    /// Own bundle with one fresh one-time key: for retry receipts.
    fn fresh_bundle(&mut self) -> KeyBundle;
    /// Opens an outbound session from a peer's bundle (verifies its signature).
    fn start_session(
        &mut self,
        peer: &str,
        bundle: &KeyBundle,
    ) -> Result<IdentityStatus, E2eeError>;
    fn has_session(&self, peer: &str) -> bool;
    /// Drops all sessions with a peer (keeps its known identity).
    fn forget_sessions(&mut self, peer: &str);
    /// Encrypts for a peer on the newest session.
    fn encrypt(&mut self, peer: &str, plaintext: &[u8]) -> Result<Enc, E2eeError>;
    /// Decrypts a `pkmsg` or `msg` part from a peer.
    fn decrypt(&mut self, peer: &str, enc: &Enc) -> Result<Decrypted, E2eeError>;
    /// This endpoint's current sender key for a group (created on first use).
    fn sender_key(&mut self, group: &str) -> SenderKeyDistribution;
    /// Starts a new sender key for a group (after a member left).
    fn rotate_sender_key(&mut self, group: &str) -> SenderKeyDistribution;
    /// Encrypts once for the whole group (`skmsg`).
    fn encrypt_group(&mut self, group: &str, plaintext: &[u8]) -> Result<Enc, E2eeError>;
    /// Stores a member's sender key received over a pairwise session.
    fn add_sender_key(
        &mut self,
        sender: &str,
        skd: &SenderKeyDistribution,
    ) -> Result<(), E2eeError>;
    /// Decrypts a member's `skmsg`.
    fn decrypt_group(&mut self, group: &str, sender: &str, enc: &Enc)
    -> Result<Vec<u8>, E2eeError>;
    /// Serialises all state, encrypted under `key`.
    fn pickle(&self, key: &PickleKey) -> Result<String, E2eeError>;
}

#[cfg(test)]
mod tests;
