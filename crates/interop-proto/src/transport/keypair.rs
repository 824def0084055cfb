//! The static Curve25519 key of a channel endpoint.
//!
//! For a partner user this is the `authkey` registered at enlistment; the
//! gatekeeper checks that the Noise static key of the connecting client is
//! that key. Its private half is wiped on drop and never printed.

use vodozemac::{Curve25519PublicKey, Curve25519SecretKey};
use zeroize::Zeroizing;

#[derive(Clone)]
pub struct NoiseKeypair {
    private: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl NoiseKeypair {
    pub fn generate() -> Self {
        let secret = Curve25519SecretKey::new();
        let public = Curve25519PublicKey::from(&secret).to_bytes();
        Self { private: Zeroizing::new(*secret.to_bytes()), public }
    }

    /// Restores a stored key; the public half is derived.
    pub fn from_private(bytes: [u8; 32]) -> Self {
        let secret = Curve25519SecretKey::from_slice(&bytes);
        let public = Curve25519PublicKey::from(&secret).to_bytes();
        Self { private: Zeroizing::new(bytes), public }
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The private half, for storing it (encrypted). Handle with care.
    pub fn private_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.private.clone()
    }

    pub(crate) fn private(&self) -> &[u8] {
        self.private.as_ref()
    }
}

impl std::fmt::Debug for NoiseKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoiseKeypair {{ public: {}, private: <redacted> }}", crate::hex(&self.public))
    }
}
