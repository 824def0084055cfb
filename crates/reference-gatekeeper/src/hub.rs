//! Who is online: the open channel of each user.
//!
//! The relay wakes a user's mailbox pump through the hub, and sends
//! unqueued stanzas (typing) straight to the channel. A second channel for a
//! user replaces the first, which is told to close with `replaced`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use interop_proto::stanza::{CloseCode, Stanza};
use interop_proto::transport::ChannelSender;
use tokio::sync::{Notify, watch};

/// The hub's view of one open channel.
#[derive(Clone)]
pub struct Connection {
    pub conn_id: u64,
    pub sender: ChannelSender,
    /// Wakes the channel's mailbox pump.
    pub wake: Arc<Notify>,
    kick: watch::Sender<Option<CloseCode>>,
}

/// What a session holds to learn it must close.
pub struct Registration {
    pub conn_id: u64,
    pub wake: Arc<Notify>,
    pub kicked: watch::Receiver<Option<CloseCode>>,
}

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    online: Mutex<HashMap<String, Connection>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hub {{ online: {} }}", self.online_count())
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.online.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new channel for `user`, replacing (and kicking) an older one.
    pub fn register(&self, user: &str, sender: ChannelSender) -> Registration {
        let conn_id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let wake = Arc::new(Notify::new());
        let (kick, kicked) = watch::channel(None);
        let conn = Connection { conn_id, sender, wake: wake.clone(), kick };
        if let Some(old) = self.lock().insert(user.to_owned(), conn) {
            let _ = old.kick.send(Some(CloseCode::Replaced));
        }
        Registration { conn_id, wake, kicked }
    }

    /// Removes the channel if it is still the registered one.
    pub fn unregister(&self, user: &str, conn_id: u64) {
        let mut online = self.lock();
        if online.get(user).is_some_and(|c| c.conn_id == conn_id) {
            online.remove(user);
        }
    }

    pub fn get(&self, user: &str) -> Option<Connection> {
        self.lock().get(user).cloned()
    }

    pub fn is_online(&self, user: &str) -> bool {
        self.lock().contains_key(user)
    }

    /// Wakes the user's mailbox pump; `false` if the user has no channel.
    pub fn wake(&self, user: &str) -> bool {
        match self.lock().get(user) {
            Some(c) => {
                c.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Tells the user's channel to close with `code`.
    pub fn kick(&self, user: &str, code: CloseCode) {
        if let Some(c) = self.lock().remove(user) {
            let _ = c.kick.send(Some(code));
        }
    }

    /// Tells every channel to close (shutdown).
    pub fn kick_all(&self, code: CloseCode) {
        for (_, c) in self.lock().drain() {
            let _ = c.kick.send(Some(code));
        }
    }

    /// Sends an unqueued stanza if the user is online; dropped otherwise.
    pub async fn send_live(&self, user: &str, stanza: &Stanza) {
        if let Some(c) = self.get(user) {
            let _ = c.sender.send(stanza).await;
        }
    }

    pub fn online_count(&self) -> usize {
        self.lock().len()
    }
}
