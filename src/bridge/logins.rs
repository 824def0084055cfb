//! The logged-in Matrix users: their gatekeeper connection and its last known state.
//!
//! A login is connected at `login` and again at every start, and removed at `logout`. Portal
//! workers look the owner's login up here to send; while it is missing or disconnected their
//! work waits in the store.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use tokio::sync::Notify;

use crate::gatekeeper::{ConnectionState, GatekeeperLogin};

struct Entry {
    login: Arc<dyn GatekeeperLogin>,
    state: ConnectionState,
}

/// Every connected login, by Matrix user id. Cheap to share.
#[derive(Default)]
pub struct Logins {
    entries: RwLock<HashMap<String, Entry>>,
    /// Wakes workers waiting for a login to (re)connect.
    pub connected: Notify,
}

impl Logins {
    pub fn insert(&self, user: &str, login: Arc<dyn GatekeeperLogin>) {
        let entry = Entry { login, state: ConnectionState::Connecting };
        self.write().insert(user.to_owned(), entry);
    }

    pub fn remove(&self, user: &str) -> Option<Arc<dyn GatekeeperLogin>> {
        self.write().remove(user).map(|e| e.login)
    }

    pub fn get(&self, user: &str) -> Option<Arc<dyn GatekeeperLogin>> {
        self.read().get(user).map(|e| e.login.clone())
    }

    pub fn state(&self, user: &str) -> Option<ConnectionState> {
        self.read().get(user).map(|e| e.state.clone())
    }

    /// Records a state change; a new connection wakes the workers waiting for it.
    pub fn set_state(&self, user: &str, state: ConnectionState) {
        let connected = state == ConnectionState::Connected;
        if let Some(entry) = self.write().get_mut(user) {
            entry.state = state;
        }
        if connected {
            self.connected.notify_waiters();
        }
    }

    /// The login of `user` if it is connected now.
    pub fn connected(&self, user: &str) -> Option<Arc<dyn GatekeeperLogin>> {
        let entries = self.read();
        let entry = entries.get(user)?;
        (entry.state == ConnectionState::Connected).then(|| entry.login.clone())
    }

    pub fn count(&self) -> usize {
        self.read().len()
    }

    // A poisoned lock only means another task panicked mid-update of a plain map; the map
    // itself is still consistent, so keep going rather than take the bridge down.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}
