//! Where arrivals of numbered messages go: one subscriber at a time (the running scenario),
//! fed without blocking from any task. Arrivals while nobody listens are dropped.

use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use crate::standin::Arrival;

#[derive(Debug, Clone, Default)]
pub struct Sink {
    inner: Arc<RwLock<Option<mpsc::UnboundedSender<Arrival>>>>,
}

impl Sink {
    /// Arrivals from now on go to the returned receiver (and no longer to an earlier one).
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Arrival> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    pub fn unsubscribe(&self) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn send(&self, arrival: Arrival) {
        if let Some(tx) = self.inner.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(arrival);
        }
    }
}
