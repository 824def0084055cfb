//! What a device observed, decrypted, as printed by `gk listen`: one JSON
//! object per line, tagged by `event`.

use serde::{Deserialize, Serialize};

/// An attachment as received: where it was saved, after checking its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub kind: String,
    pub mime: String,
    pub filename: String,
    pub size: u64,
    /// The decrypted file, if it could be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `chat` is the conversation: the peer for 1:1, the group id for groups;
/// `from` is always the person who did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Connected {
        user: String,
        capabilities: Vec<String>,
    },
    OfflineComplete {
        count: u32,
    },
    Message {
        id: String,
        from: String,
        chat: String,
        timestamp: u64,
        offline: bool,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<MediaInfo>,
    },
    Reaction {
        id: String,
        from: String,
        chat: String,
        target: String,
        emoji: String,
        revoke: bool,
    },
    Edit {
        id: String,
        from: String,
        chat: String,
        target: String,
        text: String,
    },
    Delete {
        id: String,
        from: String,
        chat: String,
        target: String,
    },
    /// A message that could not be decrypted (after retries) or read.
    Undecryptable {
        id: String,
        from: String,
        chat: String,
        reason: String,
    },
    Receipt {
        from: String,
        chat: String,
        ids: Vec<String>,
        receipt: String,
    },
    Typing {
        from: String,
        chat: String,
        state: String,
    },
    IdentityChange {
        user: String,
    },
    OptInChange {
        user: String,
        opted_in: bool,
        inbox: String,
    },
    GroupChange {
        group: String,
        subject: String,
        participants: Vec<String>,
        actor: String,
    },
    LowKeys {
        remaining: u32,
    },
    BlocklistChange {
        users: Vec<String>,
    },
    Unenlisted {
        reason: String,
    },
    Closed {
        reason: String,
    },
}

impl Event {
    /// Bookkeeping events (`connected`, `offline_complete`) that `--until-count` does not count.
    pub fn is_meta(&self) -> bool {
        matches!(self, Self::Connected { .. } | Self::OfflineComplete { .. })
    }

    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"event\":\"unprintable\"}".into())
    }
}
