//! A handler that records what the connector hands it, and fails when told to.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use interop_bridge::gatekeeper::{ConnectionState, HandlerError, RemoteEvent, RemoteEventHandler};
use tokio::sync::mpsc;

/// One call of the handler: the event and whether the handler took it.
#[derive(Debug, Clone)]
pub struct Call {
    pub event: RemoteEvent,
    pub ok: bool,
}

pub struct Recorder {
    calls: mpsc::UnboundedSender<Call>,
    /// Message texts to refuse, each once per listed entry.
    refuse: Mutex<Vec<String>>,
    pub refused: AtomicUsize,
}

/// The receiving end: every call, in order.
pub struct Events {
    calls: mpsc::UnboundedReceiver<Call>,
    pub history: Vec<Call>,
}

impl Recorder {
    pub fn new() -> (Arc<Recorder>, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder =
            Recorder { calls: tx, refuse: Mutex::new(Vec::new()), refused: AtomicUsize::new(0) };
        (Arc::new(recorder), Events { calls: rx, history: Vec::new() })
    }

    /// The next message with this text is refused (as if the bridge's store were down).
    pub fn refuse_once(&self, text: &str) {
        self.refuse.lock().unwrap().push(text.to_owned());
    }
}

pub fn text_of(event: &RemoteEvent) -> Option<&str> {
    match event {
        RemoteEvent::Message { content, .. } => Some(content.text.as_str()),
        _ => None,
    }
}

#[async_trait]
impl RemoteEventHandler for Recorder {
    async fn handle(&self, _user: &str, event: RemoteEvent) -> Result<(), HandlerError> {
        let refuse = match text_of(&event) {
            Some(text) => {
                let mut list = self.refuse.lock().unwrap();
                match list.iter().position(|t| t == text) {
                    Some(i) => {
                        list.remove(i);
                        true
                    }
                    None => false,
                }
            }
            None => false,
        };
        let _ = self.calls.send(Call { event, ok: !refuse });
        if refuse {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(HandlerError("the test refuses this one".into()));
        }
        Ok(())
    }
}

impl Events {
    /// Waits for the next call whose event matches `pick`, keeping all calls in `history`.
    pub async fn next(&mut self, secs: u64, pick: impl Fn(&RemoteEvent) -> bool) -> Call {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let call = tokio::time::timeout_at(deadline, self.calls.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; calls so far: {:#?}", self.history))
                .expect("the handler is alive");
            self.history.push(call.clone());
            if pick(&call.event) {
                return call;
            }
        }
    }

    /// The next message with this text.
    pub async fn message(&mut self, text: &str) -> Call {
        self.next(15, |e| text_of(e) == Some(text)).await
    }

    pub async fn connection(&mut self, want: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
        let call =
            self.next(15, |e| matches!(e, RemoteEvent::Connection(state) if want(state))).await;
        match call.event {
            RemoteEvent::Connection(state) => state,
            _ => unreachable!(),
        }
    }

    pub async fn connected(&mut self) {
        self.connection(|s| *s == ConnectionState::Connected).await;
    }

    /// Collects calls for `ms` (to check what did not happen).
    pub async fn drain(&mut self, ms: u64) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        let mut out = Vec::new();
        while let Ok(Some(call)) = tokio::time::timeout_at(deadline, self.calls.recv()).await {
            self.history.push(call.clone());
            out.push(call);
        }
        out
    }
}
