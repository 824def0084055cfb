//! What a gatekeeper offers, as a set of named capabilities.
//!
//! Gatekeepers differ and change over time (edits came late, groups in 2025,
//! calls are announced for 2027), so the gatekeeper advertises a set and the
//! partner degrades gracefully instead of failing. Names are strings on the
//! wire so a new capability never breaks an old decoder.

use std::collections::BTreeSet;
use std::fmt;

/// One capability. Unknown names are kept as [`Capability::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// 1:1 text messages (always offered in practice).
    Text,
    /// Media attachments (image, video, audio, voice, file).
    Media,
    /// Replies (`in_reply_to`).
    Replies,
    /// Reactions.
    Reactions,
    /// Revoking a reaction.
    ReactionRevoke,
    /// Read receipts (delivered receipts are always on).
    ReadReceipts,
    /// Typing indicators.
    Typing,
    /// Editing a sent message (`replaces`).
    Edits,
    /// Deleting a sent message for everyone.
    Deletes,
    /// Group chats with sender keys.
    Groups,
    /// Voice and video calls.
    Calls,
    /// Reachability ping (phone number look-up).
    Reachability,
    /// A name this build does not know.
    Other(String),
}

impl Capability {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text => "text",
            Self::Media => "media",
            Self::Replies => "replies",
            Self::Reactions => "reactions",
            Self::ReactionRevoke => "reaction_revoke",
            Self::ReadReceipts => "read_receipts",
            Self::Typing => "typing",
            Self::Edits => "edits",
            Self::Deletes => "deletes",
            Self::Groups => "groups",
            Self::Calls => "calls",
            Self::Reachability => "reachability",
            Self::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|c| c.as_str() == s)
            .cloned()
            .unwrap_or_else(|| Self::Other(s.to_owned()))
    }

    /// Every named capability, in documentation order.
    pub const KNOWN: [Capability; 12] = [
        Self::Text,
        Self::Media,
        Self::Replies,
        Self::Reactions,
        Self::ReactionRevoke,
        Self::ReadReceipts,
        Self::Typing,
        Self::Edits,
        Self::Deletes,
        Self::Groups,
        Self::Calls,
        Self::Reachability,
    ];
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set a gatekeeper advertises in `ServerHello` and `ib` server info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet(BTreeSet<Capability>);

impl CapabilitySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything this build knows except calls: what the reference gatekeeper offers.
    pub fn reference_default() -> Self {
        Capability::KNOWN.into_iter().filter(|c| *c != Capability::Calls).collect()
    }

    pub fn contains(&self, c: &Capability) -> bool {
        self.0.contains(c)
    }

    pub fn insert(&mut self, c: Capability) -> bool {
        self.0.insert(c)
    }

    pub fn remove(&mut self, c: &Capability) -> bool {
        self.0.remove(c)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.0.iter()
    }

    /// Wire form: the names, sorted, without duplicates.
    pub fn to_wire(&self) -> Vec<String> {
        self.0.iter().map(|c| c.as_str().to_owned()).collect()
    }

    pub fn from_wire<S: AsRef<str>>(names: &[S]) -> Self {
        names.iter().map(|n| Capability::parse(n.as_ref())).collect()
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_keeps_unknown() {
        let set = CapabilitySet::from_wire(&["edits", "groups", "holograms"]);
        assert!(set.contains(&Capability::Edits));
        assert!(set.contains(&Capability::Other("holograms".into())));
        assert_eq!(CapabilitySet::from_wire(&set.to_wire()), set);
        assert!(!CapabilitySet::reference_default().contains(&Capability::Calls));
    }
}
