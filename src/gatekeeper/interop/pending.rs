//! Requests on one connection that wait for the gatekeeper's answer.
//!
//! The channel task never blocks on an answer: it sends, notes here who waits for what, and
//! goes on reading the channel. `iq` answers are matched by request id; server `ack`s by
//! (class, stanza id), first come first served, because the gatekeeper answers stanzas in the
//! order they were sent. Messages to a contact without a session wait here for its key bundle.
//! Everything expires after the request timeout and fails when the connection ends.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use interop_proto::stanza::{AckClass, IqAnswer};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::gatekeeper::{GatekeeperError, OutgoingMessage};

type Reply<T> = oneshot::Sender<Result<T, GatekeeperError>>;

/// A message waiting for its recipient's keys.
pub struct PendingSend {
    pub message: Box<OutgoingMessage>,
    pub reply: Reply<u64>,
}

/// Who waits for an `iq` answer.
pub enum IqWaiter {
    /// A caller of the login handle.
    Reply(Reply<IqAnswer>),
    /// Messages to `peer`, waiting for its key bundle.
    KeyFetch { peer: String },
    /// Our one-time key upload.
    KeyUpload,
    /// The one-time key count asked for after connecting.
    KeyCount,
}

/// Who waits for a server `ack`.
pub enum AckWaiter {
    Message {
        to: String,
        reply: Reply<u64>,
    },
    Receipt {
        to: String,
        reply: Reply<()>,
    },
    /// Nobody (a DELIVERED receipt, a resend): kept so acks stay matched in order.
    Nobody,
}

pub struct Pending {
    timeout: Duration,
    next_iq: u64,
    iqs: HashMap<String, (IqWaiter, Instant)>,
    acks: HashMap<(i32, String), VecDeque<(AckWaiter, Instant)>>,
    key_waits: HashMap<String, Vec<PendingSend>>,
}

fn timed_out(timeout: Duration) -> GatekeeperError {
    GatekeeperError::Disconnected(format!(
        "no answer from the gatekeeper within {} s",
        timeout.as_secs()
    ))
}

impl Pending {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            next_iq: 0,
            iqs: HashMap::new(),
            acks: HashMap::new(),
            key_waits: HashMap::new(),
        }
    }

    /// Registers `waiter` under a fresh request id and returns the id.
    pub fn add_iq(&mut self, waiter: IqWaiter) -> String {
        self.next_iq += 1;
        let id = format!("b{}", self.next_iq);
        self.iqs.insert(id.clone(), (waiter, Instant::now() + self.timeout));
        id
    }

    pub fn take_iq(&mut self, id: &str) -> Option<IqWaiter> {
        self.iqs.remove(id).map(|(waiter, _)| waiter)
    }

    pub fn add_ack(&mut self, class: AckClass, id: &str, waiter: AckWaiter) {
        self.acks
            .entry((class as i32, id.to_owned()))
            .or_default()
            .push_back((waiter, Instant::now() + self.timeout));
    }

    pub fn take_ack(&mut self, class: i32, id: &str) -> Option<AckWaiter> {
        let key = (class, id.to_owned());
        let queue = self.acks.get_mut(&key)?;
        let waiter = queue.pop_front().map(|(waiter, _)| waiter);
        if queue.is_empty() {
            self.acks.remove(&key);
        }
        waiter
    }

    pub fn is_fetching_keys(&self, peer: &str) -> bool {
        self.key_waits.contains_key(peer)
    }

    pub fn wait_for_keys(&mut self, peer: &str, send: PendingSend) {
        self.key_waits.entry(peer.to_owned()).or_default().push(send);
    }

    pub fn take_key_waits(&mut self, peer: &str) -> Vec<PendingSend> {
        self.key_waits.remove(peer).unwrap_or_default()
    }

    /// Fails everything whose answer is overdue.
    pub fn expire(&mut self, now: Instant) {
        let timeout = self.timeout;
        let overdue: Vec<String> =
            self.iqs.iter().filter(|(_, (_, at))| *at <= now).map(|(id, _)| id.clone()).collect();
        for id in overdue {
            if let Some(waiter) = self.take_iq(&id) {
                self.fail_iq(waiter, &|| timed_out(timeout));
            }
        }
        self.acks.retain(|_, queue| {
            while queue.front().is_some_and(|(_, at)| *at <= now) {
                if let Some((waiter, _)) = queue.pop_front() {
                    fail_ack(waiter, timed_out(timeout));
                }
            }
            !queue.is_empty()
        });
    }

    /// Fails everything (the connection ended).
    pub fn fail_all(&mut self, error: &dyn Fn() -> GatekeeperError) {
        for (_, (waiter, _)) in std::mem::take(&mut self.iqs) {
            self.fail_iq(waiter, error);
        }
        for (_, queue) in std::mem::take(&mut self.acks) {
            for (waiter, _) in queue {
                fail_ack(waiter, error());
            }
        }
        for (_, sends) in std::mem::take(&mut self.key_waits) {
            for send in sends {
                let _ = send.reply.send(Err(error()));
            }
        }
    }

    fn fail_iq(&mut self, waiter: IqWaiter, error: &dyn Fn() -> GatekeeperError) {
        match waiter {
            IqWaiter::Reply(reply) => drop(reply.send(Err(error()))),
            IqWaiter::KeyFetch { peer } => {
                for send in self.take_key_waits(&peer) {
                    let _ = send.reply.send(Err(error()));
                }
            }
            IqWaiter::KeyUpload | IqWaiter::KeyCount => {}
        }
    }
}

fn fail_ack(waiter: AckWaiter, error: GatekeeperError) {
    match waiter {
        AckWaiter::Message { reply, .. } => drop(reply.send(Err(error))),
        AckWaiter::Receipt { reply, .. } => drop(reply.send(Err(error))),
        AckWaiter::Nobody => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn acks_match_in_order_and_everything_expires() {
        let mut pending = Pending::new(Duration::from_secs(20));
        let (first, first_rx) = oneshot::channel();
        pending.add_ack(AckClass::Receipt, "m1", AckWaiter::Nobody);
        pending.add_ack(
            AckClass::Receipt,
            "m1",
            AckWaiter::Receipt { to: "p".into(), reply: first },
        );
        assert!(matches!(
            pending.take_ack(AckClass::Receipt as i32, "m1"),
            Some(AckWaiter::Nobody)
        ));
        assert!(pending.take_ack(AckClass::Message as i32, "m1").is_none());
        assert!(matches!(
            pending.take_ack(AckClass::Receipt as i32, "m1"),
            Some(AckWaiter::Receipt { .. })
        ));
        drop(first_rx);

        let (reply, answer) = oneshot::channel();
        let id = pending.add_iq(IqWaiter::Reply(reply));
        let (send_reply, send_answer) = oneshot::channel();
        let message = Box::new(OutgoingMessage {
            to: "p@native".into(),
            id: "x".into(),
            content: interop_proto::content::Content::text("hi"),
        });
        pending.wait_for_keys("p@native", PendingSend { message, reply: send_reply });
        let fetch = pending.add_iq(IqWaiter::KeyFetch { peer: "p@native".into() });
        assert_ne!(id, fetch);
        pending.expire(Instant::now() + Duration::from_secs(21));
        assert!(matches!(answer.await, Ok(Err(GatekeeperError::Disconnected(_)))));
        assert!(matches!(send_answer.await, Ok(Err(GatekeeperError::Disconnected(_)))));
        assert!(!pending.is_fetching_keys("p@native"));
    }
}
