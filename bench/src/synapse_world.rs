//! The set-up of `--homeserver synapse`, before anything is measured: a throwaway Synapse with
//! the bridge's registration, the reference gatekeeper with its contacts, the bridge process,
//! and real Matrix users registered on Synapse who log in through the bot as people do — a DM
//! with the bot, `login`, `login confirm` — and open a portal with every contact with
//! `start-chat`, joining it when the ghost invites them.
//!
//! Beside them, Matrix users who never touch the bridge: the baseline. They mirror the portals —
//! one sender per contact, one receiver per Matrix user, a DM for every pair — so the same trip
//! through Synapse alone is measured in the same run, in the same shape. Twice, each with the
//! kind of sender of one direction: users of an appservice of the benchmark's own that only
//! send, as the bridge's ghosts do (the inbound trip's counterpart: Synapse takes an appservice
//! user's message markedly faster than a client's), and ordinary users whose own `/sync` runs,
//! as the bridge's users' does (the outbound trip's).
//! The bridge talks to Synapse, and Synapse pushes to the bridge, through a [`Door`] each,
//! which notes when every numbered message passed.
//! One warm-up message each way through every portal (and through every baseline room) sets up
//! the encrypted sessions and Synapse's caches first.

use std::path::Path;

use anyhow::Context;

use crate::{
    bridge_proc::{BridgeProc, Database},
    door::Door,
    gatekeeper::{Contact, Gatekeeper},
    matrix_user::MatrixUser,
    setup::{self, BotChat, PortalInfo, STEP, Sizes, bot_user_id, ghost_of},
    sink::Sink,
    standin::DOMAIN,
    synapse::Synapse,
};

/// A Matrix user of the bridge on Synapse, logged in.
pub struct BridgeUser {
    pub matrix: MatrixUser,
    pub management_room: String,
    /// The user's gatekeeper id, as the bot told it.
    pub remote_id: String,
}

/// The Matrix → Matrix trip through Synapse alone: in each room, a sender writes and a
/// receiver reads.
pub struct Baseline {
    pub receivers: Vec<MatrixUser>,
    /// Appservice users that do not sync, as ghosts.
    pub like_ghosts: SenderSet,
    /// Ordinary users that sync, as the bridge's users.
    pub like_users: SenderSet,
}

/// One sender per contact, and their DMs with the receivers.
pub struct SenderSet {
    pub senders: Vec<MatrixUser>,
    pub rooms: Vec<BaselineRoom>,
}

/// A baseline DM, in the place of a portal.
pub struct BaselineRoom {
    pub room_id: String,
    pub sender: usize,
    pub receiver: usize,
}

/// The running set-up. Fields drop in order: the users' sync loops and the bridge go before
/// Synapse does.
pub struct SynapseWorld {
    pub bridge: BridgeProc,
    pub gatekeeper: Gatekeeper,
    pub users: Vec<BridgeUser>,
    pub contacts: Vec<Contact>,
    pub portals: Vec<PortalInfo>,
    pub baseline: Baseline,
    /// Where numbered messages that reach the Matrix users' syncs go.
    pub sink: Sink,
    /// "Synapse <version>".
    pub version: String,
    /// Before Synapse, for the bridge's requests; and before the bridge, for Synapse's pushes.
    pub homeserver_door: Door,
    pub bridge_door: Door,
    pub synapse: Synapse,
}

impl SynapseWorld {
    pub async fn start(
        repo_root: &Path,
        bin: &Path,
        example: &Path,
        database: &Database,
        sizes: Sizes,
    ) -> anyhow::Result<SynapseWorld> {
        let synapse = Synapse::prepare(repo_root).await?;
        let homeserver_door = Door::open(&synapse.url()).await?;
        let mut bridge =
            BridgeProc::configure(bin, example, &homeserver_door.url, database).await?;
        let bridge_door = Door::open(&bridge.url()).await?;
        bridge.push_through(&bridge_door.url)?;
        let gatekeeper = Gatekeeper::start(DOMAIN, &bridge.partner_base()).await?;
        bridge.set_gatekeeper(&gatekeeper.http_url())?;
        let started = async {
            let (baseline_registration, baseline_token) = synapse.baseline_registration(DOMAIN)?;
            let registrations = [bridge.registration_path(), baseline_registration];
            let registrations: Vec<&Path> = registrations.iter().map(|p| p.as_path()).collect();
            synapse.start(DOMAIN, &registrations).await?;
            bridge.start().await.context("starting the bridge")?;
            populate(&synapse, &gatekeeper, &baseline_token, sizes).await
        }
        .await;
        match started {
            Ok((users, contacts, portals, baseline, sink)) => {
                let version = synapse.version(&reqwest::Client::new()).await;
                Ok(SynapseWorld {
                    bridge,
                    gatekeeper,
                    users,
                    contacts,
                    portals,
                    baseline,
                    sink,
                    version,
                    homeserver_door,
                    bridge_door,
                    synapse,
                })
            }
            Err(error) => {
                let log = bridge.log();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                let _ = bridge.stop().await;
                bridge.drop_schema().await;
                gatekeeper.shutdown().await;
                Err(error.context(format!("the bridge's log ends with:\n{}", tail.join("\n"))))
            }
        }
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        let result = self.bridge.stop().await;
        self.bridge.drop_schema().await;
        self.gatekeeper.shutdown().await;
        // Synapse stops when `self` drops, after the users' sync loops.
        result
    }
}

type Populated = (Vec<BridgeUser>, Vec<Contact>, Vec<PortalInfo>, Baseline, Sink);

/// Contacts, logins, portals, the baseline's rooms and the warm-up.
async fn populate(
    synapse: &Synapse,
    gatekeeper: &Gatekeeper,
    baseline_token: &str,
    sizes: Sizes,
) -> anyhow::Result<Populated> {
    let http = reqwest::Client::new();
    let sink = Sink::default();
    let contacts = setup::contacts(gatekeeper, sizes.contacts).await?;
    let mut users = Vec::new();
    for i in 0..sizes.users {
        let name = format!("u{i}");
        let matrix = MatrixUser::register(synapse, &http, &name, Some(sink.clone())).await?;
        let user = log_in(matrix).await.with_context(|| format!("logging in user {i}"))?;
        users.push(user);
    }
    let portals = open_portals(&users, &contacts).await?;
    let mut receivers = Vec::new();
    for u in 0..sizes.users {
        let name = format!("baseline-r{u}");
        receivers.push(MatrixUser::register(synapse, &http, &name, Some(sink.clone())).await?);
    }
    let ghost_like = Kind::Appservice(baseline_token);
    let like_ghosts = senders(synapse, &http, ghost_like, &receivers, &portals).await?;
    let like_users = senders(synapse, &http, Kind::User(&sink), &receivers, &portals).await?;
    let baseline = Baseline { receivers, like_ghosts, like_users };
    warm_up(gatekeeper, &users, &contacts, &portals, &baseline).await?;
    Ok((users, contacts, portals, baseline, sink))
}

/// Who the baseline's senders are.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// Users of the benchmark's appservice (its `as_token`), who never sync.
    Appservice(&'a str),
    /// Ordinary users whose sync runs (into this sink).
    User(&'a Sink),
}

/// The baseline's senders, one per contact, and a DM with a receiver in the place of every
/// portal.
async fn senders(
    synapse: &Synapse,
    http: &reqwest::Client,
    kind: Kind<'_>,
    receivers: &[MatrixUser],
    portals: &[PortalInfo],
) -> anyhow::Result<SenderSet> {
    let contacts = portals.iter().map(|p| p.contact + 1).max().unwrap_or(0);
    let mut senders = Vec::new();
    for c in 0..contacts {
        let sender = match kind {
            Kind::Appservice(token) => {
                MatrixUser::register_appservice(synapse, http, token, &format!("bench_{c}")).await?
            }
            Kind::User(sink) => {
                let name = format!("baseline-s{c}");
                MatrixUser::register(synapse, http, &name, Some(sink.clone())).await?
            }
        };
        senders.push(sender);
    }
    let mut rooms = Vec::new();
    for p in portals {
        let (sender, receiver) = (&senders[p.contact], &receivers[p.user]);
        // A DM made as the bridge makes a portal: created by the sender, the receiver invited.
        let room_id = sender.client.create_room(&[&receiver.user_id], true).await?;
        receiver.wait_joined(&room_id, STEP).await?;
        rooms.push(BaselineRoom { room_id, sender: p.contact, receiver: p.user });
    }
    Ok(SenderSet { senders, rooms })
}

/// Opens a DM with the bot and logs in through it.
async fn log_in(matrix: MatrixUser) -> anyhow::Result<BridgeUser> {
    let bot = bot_user_id();
    let room = matrix.client.create_room(&[&bot], true).await?;
    let mut chat = SynapseChat { user: &matrix, room: &room, bot: &bot };
    let remote_id = setup::log_in(&mut chat).await?;
    Ok(BridgeUser { matrix, management_room: room, remote_id })
}

/// `start-chat` with every contact for every user; waits until every portal is joined.
async fn open_portals(
    users: &[BridgeUser],
    contacts: &[Contact],
) -> anyhow::Result<Vec<PortalInfo>> {
    for user in users {
        for contact in contacts {
            let command = format!("start-chat {}", contact.phone);
            user.matrix.client.send_text(&user.management_room, &command).await?;
        }
    }
    let mut portals = Vec::new();
    for (u, user) in users.iter().enumerate() {
        for (c, contact) in contacts.iter().enumerate() {
            let ghost = ghost_of(contact);
            let room_id =
                user.matrix.wait_for_invite_from(&ghost, STEP * 2).await.with_context(|| {
                    format!("no portal of {} with {ghost}", user.matrix.user_id)
                })?;
            portals.push(PortalInfo { user: u, contact: c, room_id });
        }
    }
    Ok(portals)
}

/// One message each way through every portal, and through every baseline room.
async fn warm_up(
    gatekeeper: &Gatekeeper,
    users: &[BridgeUser],
    contacts: &[Contact],
    portals: &[PortalInfo],
    baseline: &Baseline,
) -> anyhow::Result<()> {
    let before = gatekeeper.counters.plain_messages.load(std::sync::atomic::Ordering::Relaxed);
    let to: Vec<String> = users.iter().map(|u| u.remote_id.clone()).collect();
    for contact in contacts {
        contact.warm_up(to.clone()).await?;
    }
    for portal in portals {
        users[portal.user].matrix.client.send_text(&portal.room_id, "warm-up").await?;
    }
    let sets = [&baseline.like_ghosts, &baseline.like_users];
    for set in sets {
        for room in &set.rooms {
            set.senders[room.sender].client.send_text(&room.room_id, "warm-up").await?;
        }
    }
    gatekeeper.wait_for_plain_messages(before + portals.len() as u64, STEP).await?;
    for portal in portals {
        let ghost = ghost_of(&contacts[portal.contact]);
        let user = &users[portal.user].matrix;
        user.wait_for_message(&portal.room_id, &ghost, "warm-up", 0, STEP).await?;
    }
    for set in sets {
        for room in &set.rooms {
            let sender = &set.senders[room.sender].user_id;
            let receiver = &baseline.receivers[room.receiver];
            receiver.wait_for_message(&room.room_id, sender, "warm-up", 0, STEP).await?;
        }
    }
    Ok(())
}

/// A management room on Synapse: the user's client talks, its sync loop hears the bot.
struct SynapseChat<'a> {
    user: &'a MatrixUser,
    room: &'a str,
    bot: &'a str,
}

impl BotChat for SynapseChat<'_> {
    async fn say(&mut self, text: &str) -> anyhow::Result<()> {
        self.user.client.send_text(self.room, text).await
    }

    fn answers(&self) -> usize {
        self.user.message_count(self.room, self.bot)
    }

    async fn answer_after(&self, needle: &str, skip: usize) -> anyhow::Result<String> {
        self.user.wait_for_message(self.room, self.bot, needle, skip, STEP).await
    }
}
