//! Write-through caches of the rows that every message reads: portals (by room and by chat)
//! and each user's management room.
//!
//! Every bridged message looks up its portal, and every Matrix text is checked against its
//! sender's management room; reading those rows each time was a store round trip per message
//! on the busiest path. The bridge is the only writer of these rows, and every write goes
//! through here as well, so a cached row is never stale. Each map is bounded: when full it is
//! emptied and refills from the store, so idle portals do not stay in memory.

use std::{collections::HashMap, sync::Mutex};

use ruma::{OwnedRoomId, OwnedUserId, RoomId, UserId};

use super::Portal;

/// Entries per map before it is emptied.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct RowCache {
    portals: Mutex<Portals>,
    management_rooms: Mutex<HashMap<OwnedUserId, Option<OwnedRoomId>>>,
}

#[derive(Default)]
struct Portals {
    by_room: HashMap<OwnedRoomId, Portal>,
    by_chat: HashMap<(OwnedUserId, String), OwnedRoomId>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps: a panic mid-update leaves them usable.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RowCache {
    pub fn portal_by_room(&self, room_id: &RoomId) -> Option<Portal> {
        lock(&self.portals).by_room.get(room_id).cloned()
    }

    pub fn portal_by_chat(&self, owner: &UserId, remote_chat: &str) -> Option<Portal> {
        let portals = lock(&self.portals);
        let room = portals.by_chat.get(&(owner.to_owned(), remote_chat.to_owned()))?;
        portals.by_room.get(room).cloned()
    }

    /// Remembers a portal as stored.
    pub fn put_portal(&self, portal: &Portal) {
        let mut portals = lock(&self.portals);
        if portals.by_room.len() >= MAX_ENTRIES {
            *portals = Portals::default();
        }
        let chat = (portal.owner.clone(), portal.remote_chat.clone());
        portals.by_chat.insert(chat, portal.room_id.clone());
        portals.by_room.insert(portal.room_id.clone(), portal.clone());
    }

    /// Forgets a portal whose row changed; the next read takes it from the store.
    pub fn forget_portal(&self, room_id: &RoomId) {
        let mut portals = lock(&self.portals);
        if let Some(portal) = portals.by_room.remove(room_id) {
            portals.by_chat.remove(&(portal.owner, portal.remote_chat));
        }
    }

    /// The user's management room as stored: `Some(None)` when they have none.
    pub fn management_room(&self, user_id: &UserId) -> Option<Option<OwnedRoomId>> {
        lock(&self.management_rooms).get(user_id).cloned()
    }

    pub fn put_management_room(&self, user_id: &UserId, room: Option<OwnedRoomId>) {
        let mut rooms = lock(&self.management_rooms);
        if rooms.len() >= MAX_ENTRIES {
            rooms.clear();
        }
        rooms.insert(user_id.to_owned(), room);
    }
}

#[cfg(test)]
mod tests {
    use ruma::{owned_room_id, owned_user_id};

    use super::*;

    fn portal(n: usize) -> Portal {
        Portal {
            owner: owned_user_id!("@alice:example.org"),
            remote_chat: format!("{n}@native"),
            room_id: RoomId::parse(format!("!r{n}:example.org")).unwrap(),
            ghost: owned_user_id!("@wa_1:example.org"),
            relay: false,
        }
    }

    #[test]
    fn portals_are_found_both_ways_and_forgotten_both_ways() {
        let cache = RowCache::default();
        let one = portal(1);
        assert!(cache.portal_by_room(&one.room_id).is_none());
        cache.put_portal(&one);
        assert_eq!(cache.portal_by_room(&one.room_id).unwrap().remote_chat, "1@native");
        assert_eq!(cache.portal_by_chat(&one.owner, "1@native").unwrap().room_id, one.room_id);
        cache.forget_portal(&one.room_id);
        assert!(cache.portal_by_room(&one.room_id).is_none());
        assert!(cache.portal_by_chat(&one.owner, "1@native").is_none());
    }

    #[test]
    fn a_full_cache_empties_instead_of_growing() {
        let cache = RowCache::default();
        for n in 0..MAX_ENTRIES + 10 {
            cache.put_portal(&portal(n));
        }
        let portals = lock(&cache.portals);
        assert!(portals.by_room.len() <= MAX_ENTRIES && portals.by_chat.len() <= MAX_ENTRIES);
        drop(portals);
        let alice = owned_user_id!("@alice:example.org");
        cache.put_management_room(&alice, None);
        assert_eq!(cache.management_room(&alice), Some(None));
        cache.put_management_room(&alice, Some(owned_room_id!("!m:example.org")));
        assert_eq!(cache.management_room(&alice), Some(Some(owned_room_id!("!m:example.org"))));
    }
}
