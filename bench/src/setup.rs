//! Everything wired together before a measurement: the stand-in homeserver, the reference
//! gatekeeper with its contacts, and the bridge process; then Matrix users who log in through
//! the bot exactly as people do — the stand-in pushes the bot's invite to a management room,
//! then `login` and `login confirm` — and open a portal with every contact with `start-chat`.
//! With 10 users and 10 contacts that is 100 portals. A warm-up message each way through every
//! portal sets up the end-to-end encrypted sessions before anything is measured.

use std::{path::Path, sync::atomic::Ordering, time::Duration};

use anyhow::Context;

use crate::{
    bridge_proc::{BridgeProc, Database},
    gatekeeper::{Contact, Gatekeeper},
    pusher::{self, Pusher},
    standin::{DOMAIN, StandIn},
};

/// How long one set-up step may take.
pub const STEP: Duration = Duration::from_secs(60);

/// A Matrix user of the bridge, logged in.
#[derive(Debug, Clone)]
pub struct MatrixUser {
    pub user_id: String,
    pub management_room: String,
    /// The user's gatekeeper id, as the bot told it.
    pub remote_id: String,
}

/// One portal: a Matrix user's chat with a contact.
#[derive(Debug, Clone)]
pub struct PortalInfo {
    pub user: usize,
    pub contact: usize,
    pub room_id: String,
}

/// The running set-up.
pub struct World {
    pub standin: StandIn,
    pub gatekeeper: Gatekeeper,
    pub bridge: BridgeProc,
    pub pusher: Pusher,
    pub users: Vec<MatrixUser>,
    pub contacts: Vec<Contact>,
    pub portals: Vec<PortalInfo>,
}

/// Sizes of the set-up.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: usize,
    pub contacts: usize,
}

pub fn bot_user_id() -> String {
    format!("@interopbot:{DOMAIN}")
}

impl World {
    pub async fn start(
        bin: &Path,
        example: &Path,
        database: &Database,
        sizes: Sizes,
    ) -> anyhow::Result<World> {
        let standin = StandIn::start().await?;
        let mut bridge = BridgeProc::configure(bin, example, &standin.url, database).await?;
        let gatekeeper = Gatekeeper::start(DOMAIN, &bridge.partner_base()).await?;
        bridge.set_gatekeeper(&gatekeeper.http_url())?;
        bridge.start().await.context("starting the bridge")?;
        let pusher = Pusher::new(&bridge.url(), &bridge.config_value("hs_token")?)?;
        let mut world = World {
            standin,
            gatekeeper,
            bridge,
            pusher,
            users: Vec::new(),
            contacts: Vec::new(),
            portals: Vec::new(),
        };
        match world.populate(sizes).await {
            Ok(()) => Ok(world),
            Err(error) => {
                let log = world.bridge.log();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                let _ = world.stop().await;
                Err(error.context(format!("the bridge's log ends with:\n{}", tail.join("\n"))))
            }
        }
    }

    /// Contacts, logins, portals and the warm-up.
    async fn populate(&mut self, sizes: Sizes) -> anyhow::Result<()> {
        self.contacts = contacts(&self.gatekeeper, sizes.contacts).await?;
        for i in 0..sizes.users {
            let user = self.log_in(i).await.with_context(|| format!("logging in user {i}"))?;
            self.users.push(user);
        }
        self.open_portals().await?;
        self.warm_up().await
    }

    /// Invites the bot to a management room, then `login` and `login confirm`.
    async fn log_in(&mut self, i: usize) -> anyhow::Result<MatrixUser> {
        let user_id = format!("@u{i}:{DOMAIN}");
        let room = format!("!mgmt{i}:{DOMAIN}");
        let id = self.pusher.event_id();
        let invite = pusher::member(&id, &room, &user_id, &bot_user_id(), "invite");
        self.pusher.push(vec![invite], Vec::new()).await?;
        let mut chat = PushedChat { world: self, room: &room, user: &user_id };
        let remote_id = log_in(&mut chat).await?;
        Ok(MatrixUser { user_id, management_room: room, remote_id })
    }

    /// `start-chat` with every contact for every user; waits for the portal rooms.
    async fn open_portals(&mut self) -> anyhow::Result<()> {
        let mut pairs = Vec::new();
        for (u, user) in self.users.clone().iter().enumerate() {
            let mut events = Vec::new();
            for (c, contact) in self.contacts.iter().enumerate() {
                let id = self.pusher.event_id();
                let command = format!("start-chat {}", contact.phone);
                events.push(pusher::text(&id, &user.management_room, &user.user_id, &command));
                pairs.push((u, c));
            }
            self.pusher.push(events, Vec::new()).await?;
        }
        let wanted = pairs.len();
        let rooms = self
            .standin
            .wait_for_rooms(STEP * 2, |rooms| {
                rooms.iter().filter(|r| r.is_direct).count() >= wanted
            })
            .await?;
        for (u, c) in pairs {
            let ghost = ghost_of(&self.contacts[c]);
            let owner = &self.users[u].user_id;
            let room = rooms
                .iter()
                .find(|r| {
                    r.is_direct && r.creator.as_deref() == Some(&ghost) && r.invite.contains(owner)
                })
                .with_context(|| format!("no portal of {owner} with {ghost}"))?;
            self.portals.push(PortalInfo { user: u, contact: c, room_id: room.room_id.clone() });
        }
        Ok(())
    }

    /// One message each way through every portal, so every Olm session exists.
    async fn warm_up(&mut self) -> anyhow::Result<()> {
        let before = self.gatekeeper.counters.plain_messages.load(Ordering::Relaxed);
        let to: Vec<String> = self.users.iter().map(|u| u.remote_id.clone()).collect();
        for contact in &self.contacts {
            contact.warm_up(to.clone()).await?;
        }
        let mut events = Vec::new();
        for portal in self.portals.clone() {
            let id = self.pusher.event_id();
            let owner = &self.users[portal.user].user_id;
            events.push(pusher::text(&id, &portal.room_id, owner, "warm-up"));
        }
        self.pusher.push(events, Vec::new()).await?;
        self.gatekeeper.wait_for_plain_messages(before + self.portals.len() as u64, STEP).await?;
        // Inbound warm-ups: one notice per portal at the stand-in.
        for portal in self.portals.clone() {
            self.standin.wait_for_notice(&portal.room_id, "warm-up", STEP).await?;
        }
        Ok(())
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        let result = self.bridge.stop().await;
        self.bridge.drop_schema().await;
        self.gatekeeper.shutdown().await;
        result
    }
}

/// Registers `n` gatekeeper users, opted in for the bridge, and starts their tasks.
pub async fn contacts(gatekeeper: &Gatekeeper, n: usize) -> anyhow::Result<Vec<Contact>> {
    let mut contacts = Vec::with_capacity(n);
    for i in 0..n {
        let phone = format!("+4917{:08}", 10_000 + i);
        contacts.push(gatekeeper.contact(&phone, &format!("Contact {i}"), DOMAIN).await?);
    }
    Ok(contacts)
}

/// A management room as the set-up talks to the bot in it: the same conversation on the
/// stand-in (transactions pushed, notices recorded) and on Synapse (a real client).
pub trait BotChat {
    /// Sends `text` in the room as its user.
    async fn say(&mut self, text: &str) -> anyhow::Result<()>;
    /// How many messages the bot sent to the room so far.
    fn answers(&self) -> usize;
    /// Waits for a message of the bot, after its first `skip`, that contains `needle`.
    async fn answer_after(&self, needle: &str, skip: usize) -> anyhow::Result<String>;
}

/// Logs in through the bot, who has just welcomed the user in the management room: `login`,
/// `login confirm`, then `whoami` until the login's channel is connected (`start-chat` needs
/// it; it comes up in the background). Returns the user's gatekeeper id.
pub async fn log_in(chat: &mut impl BotChat) -> anyhow::Result<String> {
    chat.answer_after("management room", 0).await?;
    chat.say("login").await?;
    chat.answer_after("login confirm", 0).await?;
    chat.say("login confirm").await?;
    let answer = chat.answer_after("You are logged in", 0).await?;
    let remote_id = answer
        .split("your address there is ")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .map(str::to_owned)
        .with_context(|| format!("no gatekeeper id in the bot's answer {answer:?}"))?;
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let skip = chat.answers();
        chat.say("whoami").await?;
        let status = chat.answer_after("Connection:", skip).await?;
        if status.contains("Connection: connected.") {
            return Ok(remote_id);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the login did not connect within {STEP:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A management room on the stand-in: commands are pushed as transactions.
struct PushedChat<'a> {
    world: &'a mut World,
    room: &'a str,
    user: &'a str,
}

impl BotChat for PushedChat<'_> {
    async fn say(&mut self, text: &str) -> anyhow::Result<()> {
        let id = self.world.pusher.event_id();
        let event = pusher::text(&id, self.room, self.user, text);
        self.world.pusher.push(vec![event], Vec::new()).await
    }

    fn answers(&self) -> usize {
        self.world.standin.notice_count(self.room)
    }

    async fn answer_after(&self, needle: &str, skip: usize) -> anyhow::Result<String> {
        self.world.standin.wait_for_notice_after(self.room, needle, skip, STEP).await
    }
}

/// The ghost that stands for a contact.
pub fn ghost_of(contact: &Contact) -> String {
    format!("@wa_{}:{DOMAIN}", contact.phone.trim_start_matches('+'))
}
