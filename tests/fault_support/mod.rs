//! The parts of the fault-injection test (`tests/fault_injection.rs`), one concept per file:
//!
//! - `ledger`: what was sent and seen per stream, and the verdict (lost, doubled, reordered).
//! - `matrix_side`: a Matrix user sending numbered messages into a portal and reading the
//!   contact's, live over `/sync` and at the end over `/messages`.
//! - `native_side`: the native gatekeeper user doing the same over `gk`'s client, reconnecting
//!   and resending with the same message id when its channel drops.
//! - `chaos`: the faults: SIGKILL and restart of the bridge, restarts of the gatekeeper and of
//!   Synapse, at random moments.
//!
//! What both sides share lives here: the parameters, the texts, and which item is a reply or a
//! reaction.

pub mod chaos;
pub mod ledger;
pub mod matrix_side;
pub mod native_side;

use std::time::Duration;

use rand::Rng;

/// How big a run is; the short run is the default, the long one reads the environment.
#[derive(Debug, Clone)]
pub struct Params {
    /// Matrix users, each with a portal to their own native contact.
    pub users: u32,
    /// Messages over all chats and both directions (replies and reactions included).
    pub messages: u32,
    pub bridge_kills: u32,
    pub gatekeeper_restarts: u32,
    pub synapse_restarts: u32,
    /// How long the senders take for their messages; the faults fall into this window.
    pub window: Duration,
    /// How long delivery may take once sending and faults are over.
    pub drain: Duration,
    pub seed: u64,
}

impl Params {
    /// ~150 messages, 10 kills: fits into the normal test run.
    pub fn short() -> Self {
        Self {
            users: 3,
            messages: 150,
            bridge_kills: 10,
            gatekeeper_restarts: 2,
            synapse_restarts: 1,
            window: Duration::from_secs(45),
            drain: Duration::from_secs(90),
            seed: seed_from_env(),
        }
    }

    /// The long run: `INTEROP_FAULT_MESSAGES` (default 3000), and optionally
    /// `INTEROP_FAULT_USERS`, `INTEROP_FAULT_KILLS`, `INTEROP_FAULT_SECONDS` (sending window),
    /// `INTEROP_FAULT_SEED`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let messages = var("INTEROP_FAULT_MESSAGES").unwrap_or(3000).max(10);
        // About 20 messages a second over all senders: well within what the bridge carries on
        // two shared cores, so the run tests faults, not throughput.
        let seconds = var("INTEROP_FAULT_SECONDS").unwrap_or((messages / 20).max(45));
        Self {
            users: var("INTEROP_FAULT_USERS").unwrap_or(3).max(1),
            messages,
            bridge_kills: var("INTEROP_FAULT_KILLS").unwrap_or((messages / 100).max(10)),
            gatekeeper_restarts: (messages / 1000).max(2),
            synapse_restarts: (messages / 2000).max(1),
            window: Duration::from_secs(seconds.into()),
            drain: Duration::from_secs(u64::from(seconds).max(120)),
            seed: seed_from_env(),
        }
    }

    /// Items per stream (one chat, one direction).
    pub fn per_stream(&self) -> u32 {
        self.messages.div_ceil(2 * self.users)
    }

    /// A random pause between two sends of one sender: exponential (bursts and lulls, so that
    /// some kills hit a busy bridge), averaging out to the window, capped at four times the mean.
    pub fn gap(&self, rng: &mut impl Rng) -> Duration {
        let mean = self.window.as_secs_f64() / f64::from(self.per_stream().max(1));
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        Duration::from_secs_f64((-u.ln() * mean).min(4.0 * mean))
    }
}

fn seed_from_env() -> u64 {
    std::env::var("INTEROP_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random)
}

/// The text of item `n` from `from` to `to`, e.g. `"u2→gk #17"`.
pub fn text(from: &str, to: &str, n: u32) -> String {
    format!("{from}→{to} #{n}")
}

/// The number in a text made by [`text`] (anywhere in `body`, so a reply fallback or a
/// formatting change around it does not matter).
pub fn number_in(body: &str, from: &str, to: &str) -> Option<u32> {
    let marker = format!("{from}→{to} #");
    let start = body.find(&marker)? + marker.len();
    let digits: String = body[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What item `n` is: every tenth a reaction, every seventh a reply (when the peer has written
/// anything yet), the rest plain texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Reply,
    Reaction,
}

pub fn kind_of(n: u32) -> Kind {
    if n.is_multiple_of(10) {
        Kind::Reaction
    } else if n.is_multiple_of(7) {
        Kind::Reply
    } else {
        Kind::Text
    }
}

/// What a sender knows of the peer's messages, for replies and reactions: `(number, id)` in
/// arrival order, and the numbers already reacted to (each reaction has its own target, which
/// is how the receiver tells reactions apart).
#[derive(Debug)]
pub struct PeerMessages<Id> {
    received: Vec<(u32, Id)>,
    reacted: std::collections::HashSet<u32>,
}

// By hand: a derived `Default` would needlessly require `Id: Default`.
impl<Id> Default for PeerMessages<Id> {
    fn default() -> Self {
        Self { received: Vec::new(), reacted: Default::default() }
    }
}

impl<Id: Clone> PeerMessages<Id> {
    pub fn push(&mut self, n: u32, id: Id) {
        self.received.push((n, id));
    }

    /// The newest peer message, to reply to.
    pub fn newest(&self) -> Option<(u32, Id)> {
        self.received.last().cloned()
    }

    /// The newest peer message not reacted to yet; marks it reacted.
    pub fn take_reaction_target(&mut self) -> Option<(u32, Id)> {
        let (n, id) = self.received.iter().rev().find(|(n, _)| !self.reacted.contains(n))?;
        self.reacted.insert(*n);
        Some((*n, id.clone()))
    }
}

#[test]
fn texts_carry_their_number() {
    let body = text("u2", "gk", 17);
    assert_eq!(body, "u2→gk #17");
    assert_eq!(number_in(&format!("> quoted\n\n{body}"), "u2", "gk"), Some(17));
    assert_eq!(number_in(&body, "u1", "gk"), None);
    assert_eq!(kind_of(20), Kind::Reaction);
    assert_eq!(kind_of(14), Kind::Reply);
    let mut peer = PeerMessages::default();
    peer.push(1, "a");
    peer.push(2, "b");
    assert_eq!(peer.take_reaction_target(), Some((2, "b")));
    assert_eq!(peer.take_reaction_target(), Some((1, "a")));
    assert_eq!(peer.take_reaction_target(), None);
    assert_eq!(peer.newest(), Some((2, "b")));
}
