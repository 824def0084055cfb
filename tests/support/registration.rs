//! Creates test users through Synapse's shared-secret registration admin API.
//!
//! Public registration is off on the test server (as on a real one), so users are made the way
//! an admin would: `/_synapse/admin/v1/register` with a nonce and an HMAC-SHA1 over
//! `nonce \0 user \0 password \0 admin|notadmin`, keyed with the `registration_shared_secret`.
//! This endpoint is Synapse's own, not in the Matrix spec, hence no ruma type for it.

use anyhow::Context;
use hmac::{Hmac, Mac};
use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};
use sha1::Sha1;

use super::{Synapse, TestUser};

#[derive(Deserialize)]
struct Nonce {
    nonce: String,
}

#[derive(Serialize)]
struct RegisterBody<'a> {
    nonce: &'a str,
    username: &'a str,
    password: &'a str,
    admin: bool,
    mac: String,
}

#[derive(Deserialize)]
struct Registered {
    user_id: OwnedUserId,
    access_token: String,
}

impl Synapse {
    /// Registers `localpart` (with a random password) and returns a client logged in as it.
    pub async fn register_user(&self, localpart: &str) -> anyhow::Result<TestUser> {
        self.register(localpart, false).await
    }

    /// Like [`Synapse::register_user`], for a server admin.
    pub async fn register_admin(&self, localpart: &str) -> anyhow::Result<TestUser> {
        self.register(localpart, true).await
    }

    async fn register(&self, localpart: &str, admin: bool) -> anyhow::Result<TestUser> {
        let secret = std::fs::read_to_string(self.data_dir().join("shared_secret"))
            .context("reading the registration shared secret")?;
        let url = format!("{}/_synapse/admin/v1/register", self.url());
        let Nonce { nonce } = self.http.get(&url).send().await?.error_for_status()?.json().await?;
        let password = format!("pw-{}", rand::random::<u64>());
        let body = RegisterBody {
            nonce: &nonce,
            username: localpart,
            password: &password,
            admin,
            mac: registration_mac(secret.trim(), &nonce, localpart, &password, admin),
        };
        let response = self.http.post(&url).json(&body).send().await?;
        let status = response.status();
        if !status.is_success() {
            // The error body holds only errcode and error, never the secret or a token.
            let error = response.text().await.unwrap_or_default();
            anyhow::bail!("registering {localpart} failed: {status} {error}");
        }
        let registered: Registered = response.json().await?;
        Ok(TestUser::new(&self.http, &self.url(), registered.user_id, &registered.access_token))
    }
}

/// The hex HMAC-SHA1 that Synapse checks, as its `register_new_matrix_user` computes it.
fn registration_mac(secret: &str, nonce: &str, user: &str, password: &str, admin: bool) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    let admin_flag = if admin { "admin" } else { "notadmin" };
    for (index, part) in [nonce, user, password, admin_flag].into_iter().enumerate() {
        if index > 0 {
            mac.update(b"\0");
        }
        mac.update(part.as_bytes());
    }
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn mac_matches_a_known_value() {
    // Computed independently with Python's hmac module.
    assert_eq!(
        registration_mac("secret", "nonce", "alice", "pw", false),
        "f9b5e1dbfecb7b1d1b89cbd7a2fd60853cf609f4"
    );
}
