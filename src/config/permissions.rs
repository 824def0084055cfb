//! Who may use the bridge, and how much.
//!
//! Like the mautrix bridges, permissions are keyed by `*` (everyone), a server name, or a full
//! user id; the most specific key wins. Levels are ordered `relay < user < admin`.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PermissionLevel {
    /// Not allowed to use the bridge at all.
    None,
    /// Messages may be relayed through the bot, but no login of their own.
    Relay,
    /// May log in and chat.
    User,
    /// May also run admin commands.
    Admin,
}

impl PermissionLevel {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "relay" => Some(Self::Relay),
            "user" => Some(Self::User),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Permissions {
    everyone: Option<PermissionLevel>,
    servers: BTreeMap<String, PermissionLevel>,
    users: BTreeMap<String, PermissionLevel>,
}

impl Permissions {
    /// Adds one entry; `key` is `*`, a server name, or a user id starting with `@`.
    pub fn insert(&mut self, key: &str, level: PermissionLevel) {
        if key == "*" {
            self.everyone = Some(level);
        } else if key.starts_with('@') {
            self.users.insert(key.to_owned(), level);
        } else {
            self.servers.insert(key.to_owned(), level);
        }
    }

    /// The level of `user_id` (a full Matrix id).
    pub fn level_of(&self, user_id: &str) -> PermissionLevel {
        if let Some(level) = self.users.get(user_id) {
            return *level;
        }
        let server = user_id.split_once(':').map(|(_, server)| server).unwrap_or_default();
        if let Some(level) = self.servers.get(server) {
            return *level;
        }
        self.everyone.unwrap_or(PermissionLevel::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_key_wins() {
        let mut p = Permissions::default();
        p.insert("*", PermissionLevel::Relay);
        p.insert("example.org", PermissionLevel::User);
        p.insert("@boss:example.org", PermissionLevel::Admin);
        assert_eq!(p.level_of("@boss:example.org"), PermissionLevel::Admin);
        assert_eq!(p.level_of("@anna:example.org"), PermissionLevel::User);
        assert_eq!(p.level_of("@eve:elsewhere.net"), PermissionLevel::Relay);
        assert!(PermissionLevel::Relay < PermissionLevel::User);
    }

    #[test]
    fn nobody_is_allowed_by_default() {
        assert_eq!(Permissions::default().level_of("@a:b"), PermissionLevel::None);
    }
}
