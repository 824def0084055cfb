//! A whole installation for end-to-end tests: a real Synapse, the reference gatekeeper in
//! process and the bridge binary, wired together as an admin would; and the Matrix users who
//! use the bridge through their management room (`login`, `start-chat`, portals).
//!
//! `bridge_e2e` runs one user against it, `fault_injection` several while it kills parts of it.

use std::{
    ops::{Deref, DerefMut},
    time::Duration,
};

use reference_gatekeeper::config::Profile;
use ruma::{OwnedRoomId, UserId, events::AnySyncTimelineEvent};

use super::{Bridge, Synapse, TestUser, gatekeeper::Gatekeeper, message_body};

/// How long a step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);
/// The bridge bot, as `config.example.yaml` names it on server `localhost`.
pub const BOT: &str = "@interopbot:localhost";

/// Synapse, the gatekeeper and the bridge, running and connected.
pub struct World {
    /// Set when the test got to its end; otherwise the bridge log is printed on drop.
    pub passed: bool,
    pub synapse: Synapse,
    pub bridge: Bridge,
    pub gatekeeper: Gatekeeper,
}

/// Prints the bridge's log when a test fails, so the failure can be read from the CI output.
impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() || !self.passed {
            eprintln!("---- bridge log ----\n{}", self.bridge.log());
        }
    }
}

impl World {
    /// Starts everything: the gatekeeper (with `profile`) trusting the bridge's partner
    /// endpoints, Synapse with the bridge's registration, then the bridge.
    pub async fn start(profile: Profile) -> anyhow::Result<World> {
        let mut bridge = Bridge::configure()?;
        let gatekeeper = Gatekeeper::start(profile, "localhost", &bridge.partner_base()).await?;
        bridge.set_gatekeeper(&gatekeeper.http_url())?;
        let synapse =
            tokio::task::block_in_place(|| Synapse::start(&[&bridge.registration_path()]))?;
        bridge.set_homeserver(&synapse.url())?;
        tokio::task::block_in_place(|| bridge.start())?;
        Ok(World { passed: false, synapse, bridge, gatekeeper })
    }

    /// Registers a Matrix user and opens their management room with the bot.
    pub async fn user(&self, localpart: &str) -> anyhow::Result<BridgeUser> {
        let mut matrix = self.synapse.register_user(localpart).await?;
        let bot = UserId::parse(BOT)?;
        let control = matrix.create_room(&[&bot], true).await?;
        matrix.wait_for(&control, WAIT, from_bot("management room")).await?;
        Ok(BridgeUser { matrix, control, space: None })
    }

    /// Stops the bridge with SIGTERM and checks it stopped cleanly, leaking no secret.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.passed = true;
        let status = tokio::task::block_in_place(|| self.bridge.terminate())?;
        assert!(status.success(), "exit status after SIGTERM: {status}");
        super::secrets::assert_none_in_log(&self.bridge)
    }
}

/// A Matrix user of the bridge: their client and their management room.
pub struct BridgeUser {
    pub matrix: TestUser,
    /// The management room (a DM with the bot).
    pub control: OwnedRoomId,
    /// The inbox Space, once the user was invited to it.
    pub space: Option<OwnedRoomId>,
}

impl Deref for BridgeUser {
    type Target = TestUser;

    fn deref(&self) -> &TestUser {
        &self.matrix
    }
}

impl DerefMut for BridgeUser {
    fn deref_mut(&mut self) -> &mut TestUser {
        &mut self.matrix
    }
}

impl BridgeUser {
    /// Sends a command in the management room and waits for the answer containing `expect`.
    pub async fn command(&mut self, command: &str, expect: &str) -> anyhow::Result<String> {
        let control = self.control.clone();
        self.matrix.send_text(&control, command).await?;
        let answer = self.matrix.wait_for(&control, WAIT, from_bot(expect)).await?;
        Ok(message_body(&answer).unwrap_or_default().to_owned())
    }

    /// `login`, then `login confirm` after the data notice.
    pub async fn login(&mut self) -> anyhow::Result<()> {
        let notice = self.command("login", "login confirm").await?;
        assert!(notice.contains("end-to-end encrypted"), "{notice}");
        assert!(notice.contains("outside this server's control"), "{notice}");
        self.command("login confirm", "You are logged in").await?;
        Ok(())
    }

    /// Waits for the invitation to a portal (not the inbox Space) and joins it.
    pub async fn join_portal(&mut self) -> anyhow::Result<OwnedRoomId> {
        loop {
            let invite = self.matrix.wait_for_invite(WAIT).await?;
            let is_space = invite.state.iter().any(|s| {
                s.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.create")
                    && s.get_field::<serde_json::Value>("content")
                        .ok()
                        .flatten()
                        .is_some_and(|c| c["type"] == "m.space")
            });
            self.matrix.join(&invite.room_id).await?;
            if !is_space {
                return Ok(invite.room_id);
            }
            self.space = Some(invite.room_id);
        }
    }

    /// The user's gatekeeper id, from `whoami`.
    pub async fn remote_id(&mut self) -> anyhow::Result<String> {
        let answer = self.command("whoami", "You are logged in").await?;
        let id = answer
            .split(" as ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(id.contains('@'), "no gatekeeper id in {answer:?}");
        Ok(id)
    }
}

/// Matches a message from the bot containing `needle`.
pub fn from_bot(needle: &str) -> impl FnMut(&AnySyncTimelineEvent) -> bool + '_ {
    move |event| {
        event.sender().as_str() == BOT
            && message_body(event).is_some_and(|body| body.contains(needle))
    }
}
